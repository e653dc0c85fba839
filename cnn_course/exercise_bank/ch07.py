"""Exercises for chapter 07 (explain and transfer): depthwise-separable costs, Grad-CAM resolution, augmentation,
and writing a depthwise-separable block."""

from __future__ import annotations

import torch
from torch import nn

from ..code_checks import (
    Mistake,
    StudentError,
    as_tensor,
    build_module,
    call,
    close,
    copy_parameters,
    count_parameters,
    describe_shape,
    random_tensor,
    student_class,
)
from ..exercise_types import AnyExercise, CodeExercise, Exercise


class SeparableConv(nn.Module):
    """Depthwise 3x3 convolution (one kernel per channel), ReLU, then a 1x1 convolution and ReLU.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        stride: stride of the depthwise convolution (2 halves height and width).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=stride, padding=1,
                                   groups=in_channels)  # one 3x3 kernel per input channel
        self.pointwise = nn.Conv2d(in_channels, out_channels, kernel_size=1)  # mixes the channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.pointwise(torch.relu(self.depthwise(x))))


# (in_channels, out_channels, stride, input shape)
SEPARABLE_CASES = [
    (4, 8, 1, (2, 4, 6, 6)),
    (6, 6, 1, (1, 6, 5, 7)),
    (4, 6, 2, (2, 4, 8, 8)),
    (3, 5, 2, (1, 3, 7, 7)),
]
_GROUPS_HINT = ("深度卷积(depthwise)要写 groups=in_channels:每个输入通道只和自己的一个 3×3 卷积核相乘,"
                "权重形状是 (in_channels, 1, 3, 3)。")


def _variants(block: SeparableConv, x: torch.Tensor) -> list[tuple[torch.Tensor, str]]:
    """Outputs of typical wrong blocks with the reference's weights, each with its hint."""
    dw, pw = block.depthwise, block.pointwise
    depth = dw(x)
    # (The stride on the 1x1 convolution instead gives the same output, only with 4x the work: not a mistake.)
    return [
        (torch.relu(pw(depth)), "两个卷积之间少了 ReLU:输出是 relu(pointwise(relu(depthwise(x))))。"),
        (pw(torch.relu(depth)), "最后少了 ReLU:1×1 卷积之后也要 ReLU。"),
        (pw(depth), "两个 ReLU 都忘了:每个卷积之后各有一个 ReLU。"),
    ]


def _check_layers(block: nn.Module, in_channels: int, out_channels: int, args: tuple[int, int, int]) -> None:
    """Name a wrong ``groups``, a missing layer or the 1x1 convolution placed first."""
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != 2:
        raise Mistake(f"SeparableConv{args} 里有 {len(convs)} 个 nn.Conv2d,应该正好两个:"
                      "先是 3×3 的深度卷积,再是 1×1 的逐点卷积(pointwise)。")
    first, second = convs
    if first.kernel_size == (1, 1) and second.kernel_size == (3, 3):
        raise Mistake("两个卷积的顺序反了:先做 3×3 的深度卷积(在每个通道内看邻域),再做 1×1 卷积(混合通道)。")
    if first.kernel_size != (3, 3) or second.kernel_size != (1, 1):
        raise Mistake(f"卷积核大小是 {first.kernel_size} 和 {second.kernel_size};深度卷积是 3×3,逐点卷积是 1×1。")
    if first.groups != in_channels:
        what = "没写 groups(默认 1,这就是一个普通的 3×3 卷积)" if first.groups == 1 else f"groups={first.groups}"
        raise Mistake(f"SeparableConv{args} 的深度卷积{what}。{_GROUPS_HINT}")
    if first.out_channels != in_channels or second.out_channels != out_channels:
        raise Mistake(f"深度卷积应该把 {in_channels} 个通道变成 {in_channels} 个(通道数不变),"
                      f"1×1 卷积再把 {in_channels} 个变成 {out_channels} 个;你的是 {first.out_channels} 和 "
                      f"{second.out_channels}。")


def judge_separable(student: object) -> str:
    """Build the student's SeparableConv for each case; compare layers, shapes, parameter counts and outputs."""
    cls = student_class(student, "SeparableConv")
    generator = torch.Generator().manual_seed(7)
    for in_channels, out_channels, stride, x_shape in SEPARABLE_CASES:
        args = (in_channels, out_channels, stride)
        block = build_module(cls, args, "SeparableConv")
        x = random_tensor(generator, *x_shape)
        torch.manual_seed(7)
        reference = SeparableConv(*args)
        with torch.no_grad():
            expected = reference(x)
        what = f"SeparableConv{args} 作用在形状为 {describe_shape(x_shape)} 的输入上"
        try:
            with torch.no_grad():
                out = as_tensor(call(block, x.clone(), call_text=what), "SeparableConv 的 forward")
        except StudentError:
            if any(isinstance(m, nn.Conv2d) for m in block.modules()):
                _check_layers(block, in_channels, out_channels, args)  # a wrong layer explains the crash best
            raise
        _check_layers(block, in_channels, out_channels, args)
        if out.shape != expected.shape:
            raise Mistake(f"{what}:输出的形状是 {describe_shape(out.shape)},应该是 {describe_shape(expected.shape)}。"
                          "3×3 深度卷积用 padding=1,步幅 stride 放在它上面;1×1 卷积把通道数变成 out_channels。")
        have, want = count_parameters(block), count_parameters(reference)
        if have != want:
            raise Mistake(f"SeparableConv{args} 有 {have} 个参数,参考实现有 {want} 个"
                          f"(深度卷积 {in_channels}·3·3 + {in_channels},逐点卷积 {in_channels}·{out_channels} + "
                          f"{out_channels}):两个卷积都带偏置。")
        copy_parameters(reference, block, f"SeparableConv{args}")
        with torch.no_grad():
            out = as_tensor(call(block, x.clone(), call_text=what), "SeparableConv 的 forward")
            if close(out, expected):
                continue
            for wrong, hint in _variants(reference, x):
                if close(out, wrong):
                    raise Mistake(f"{what}:{hint}")
        raise Mistake(f"{what}:层、形状和参数个数都对,但在同样的权重下输出和参考实现不同。应为 "
                      "relu(pointwise(relu(depthwise(x))))。")
    return (f"SeparableConv 在 {len(SEPARABLE_CASES)} 组通道数、步幅和输入大小上,层的设置(groups)、输出形状、"
            "参数个数和同样权重下的输出都和参考实现一致。")


EXERCISES: list[AnyExercise] = [
    Exercise(
        key="07-1",
        question=(
            "一个深度可分离卷积块:深度卷积 nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False),"
            "然后逐点卷积 nn.Conv2d(32, 64, 1, bias=False)。这个块一共有多少个参数?"
        ),
        answer=2336,
        solution=(
            "深度卷积:每个通道一个 3×3 卷积核,32·3·3 = 288;逐点卷积:32·64·1·1 = 2048。合计 2,336。\n"
            "同样输入输出的普通 3×3 卷积 nn.Conv2d(32, 64, 3, bias=False) 有 32·64·9 = 18,432 个参数,约是它的 7.9 倍。"
        ),
        hints=(
            (18432, "这是普通 3×3 卷积 Conv2d(32, 64, 3) 的参数个数;深度可分离块把它拆成了两个便宜得多的卷积。"),
            (11264, "深度卷积的 groups=32:每个卷积核只看 1 个输入通道,是 32·1·3·3,不是 32·32·3·3。"),
            (2048, "只算了 1×1 卷积;深度卷积的 32 个 3×3 卷积核(288 个参数)也要加上。"),
            (288, "只算了深度卷积;1×1 卷积有 32·64 = 2048 个参数,也要加上。"),
        ),
        default_hint="参数 = out_channels · (in_channels / groups) · kh · kw;两个卷积分别算,再相加。",
    ),
    Exercise(
        key="07-2",
        question=(
            "上一题的块作用在 32×14×14 的输入上(步幅 1,高宽不变)。一张图片要做多少次乘加(MAC)?"
            "提示:一个卷积的乘加次数 = 输出元素个数 × (in_channels / groups) × kh × kw。"
        ),
        answer=457856,
        solution=(
            "深度卷积:输出 32×14×14 = 6,272 个元素,每个 1·3·3 = 9 次乘加,共 56,448;"
            "逐点卷积:输出 64×14×14 = 12,544 个元素,每个 32 次乘加,共 401,408。合计 457,856。\n"
            "普通 3×3 卷积要 12,544 × 32 × 9 = 3,612,672 次,是它的约 7.9 倍。"
            "cnn_course.models.count_macs 数出同样的结果。"
        ),
        hints=(
            (3612672, "这是普通 3×3 卷积的乘加次数;深度可分离块要把两部分分别算。"),
            (401408, "只算了 1×1 卷积;深度卷积的 56,448 次也要加上。"),
            (56448, "只算了深度卷积;1×1 卷积的 64×14×14×32 = 401,408 次也要加上。"),
            (2207744, "深度卷积的 groups=32,每个输出只看 1 个输入通道的 3×3 邻域:9 次乘加,不是 32·9 次。"),
        ),
        default_hint="分别算两个卷积:输出元素个数 × 每个输出用到的输入个数,再相加。",
    ),
    Exercise(
        key="07-3",
        question=(
            "比较普通 3×3 卷积(32 → 64 通道)和上一题的深度可分离块:前者的乘加次数是后者的多少倍?"
            "(保留两位小数;可以用公式 1 / (1/C_out + 1/9) 验证)"
        ),
        answer=3612672 / 457856,
        solution=(
            "3,612,672 / 457,856 ≈ 7.89。一般地,比值是 (C_in·C_out·9) / (C_in·9 + C_in·C_out) = 1 / (1/C_out + 1/9):"
            "输出通道越多越接近 9 倍(卷积核面积),但永远到不了 9 倍。\n"
            "乘加少不等于在每台机器上都快:深度卷积每个数只用很少几次,读写内存的开销占了大头,"
            "本章测的 img/s 会看到这一点。"
        ),
        hints=(
            (9.0, "9 倍是 C_out 无穷大时的极限;64 个输出通道时,1×1 卷积也占了不少计算。"),
            (64.0, "深度可分离块省的不是通道数这一项:把两部分的乘加加起来再比。"),
            (8.0, "算得接近了,但要保留两位小数:1 / (1/64 + 1/9)。"),
        ),
        default_hint="普通卷积的乘加 ÷ (深度卷积的乘加 + 1×1 卷积的乘加);两者的输出元素个数都是 14×14 乘通道数。",
        tolerance=2e-3,
    ),
    Exercise(
        key="07-4",
        question=(
            "LeNet 的三个卷积层 C1(net.0)、C3(net.3)、C5(net.6)的输出分别是 6×28×28、16×10×10、120×1×1。"
            "Grad-CAM 图和所选层的特征图一样大。最粗的那张 Grad-CAM 图一共有几个值?"
        ),
        answer=1,
        solution=(
            "C5 的特征图是 1×1:Grad-CAM 图只有 1 个值,放大到 28×28 后处处相同,完全说不出网络看的是哪里。"
            "越靠后的层语义越强,但每一次汇聚、步幅和不补零的卷积都让特征图变小,图也就越粗。\n"
            "所以 Grad-CAM 通常取最后一个空间尺寸还大于 1 的卷积层:LeNet 的 C3(10×10),"
            "本章 ResNet 的最后一个残差块(4×4)。"
        ),
        hints=(
            (784, "28×28 是 C1 的特征图,是最细的一张;题目问最粗的。"),
            (100, "C3 的 10×10 还不是最粗的:C5 的特征图更小。"),
            (25, "5×5 是汇聚层 S4 的输出;C5 的 5×5 卷积不补零,把 5×5 变成了 1×1。"),
            (120, "120 是 C5 的通道数;Grad-CAM 把各通道加权求和,图的大小只看高和宽。"),
        ),
        default_hint="Grad-CAM 先对通道加权求和,得到一张和特征图同样高宽的图:看哪一层的高×宽最小。",
    ),
    Exercise(
        key="07-5",
        question=(
            "数据增强(data augmentation)。训练 MNIST 手写数字时,对训练图做下面哪一种随机变换,会教给网络错误的东西?"
            "(填一个字母)\n"
            "A. 随机平移 1–2 个像素\n"
            "B. 随机旋转 ±10°\n"
            "C. 水平翻转(左右镜像)\n"
            "D. 随机放大或缩小 10 %"
        ),
        answer="C",
        solution=(
            "C。数据增强只能用不改变类别的变换:标签还是原来的数字,图也必须仍是这个数字的一种写法。"
            "小的平移、旋转和缩放都只是同一个数字的另一种写法;水平翻转的 2、3、4、5、6、7 是镜像的字符,"
            "不是任何数字,却带着原来的标签。\n"
            "Fashion-MNIST 不同:左右翻转的衬衫还是衬衫,所以本章只对它用水平翻转。"
            "选增强之前先问:变换之后,人还会给它同一个标签吗?"
        ),
        hints=(
            ("A", "平移 1–2 个像素后,数字还是同一个数字:这是合理的增强。找一个会让图不再是这个数字的变换。"),
            ("B", "旋转 ±10° 只是同一个数字写得歪一点,类别不变:这是合理的增强(旋转 180° 才会把 6 变成 9)。"),
            ("D", "稍微放大或缩小,数字还是同一个数字:这是合理的增强。想一想左右镜像之后的 3 或 7 还是不是数字。"),
        ),
        default_hint="填 A、B、C、D 中的一个字母,例如 \"A\"。想一想:变换之后,人还会给它同一个标签吗?",
    ),
    CodeExercise(
        key="07-separable",
        question=(
            "自己写 SeparableConv(in_channels, out_channels, stride=1):一个深度可分离卷积块,"
            "输出 relu(pointwise(relu(depthwise(x))))。depthwise 是 3×3 卷积(in_channels → in_channels,padding=1,"
            "步幅 stride,每个通道一个卷积核),pointwise 是 1×1 卷积(in_channels → out_channels)。两个卷积都带偏置,"
            "不用批量规范化。先定义 depthwise,再定义 pointwise(check 按定义顺序复制权重,再比较输出)。"
        ),
        reference=SeparableConv,
        judge=judge_separable,
    ),
]
