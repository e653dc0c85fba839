"""Exercises for chapter 04 (AlexNet, VGG): sizes, parameters, dropout, receptive fields, bf16 precision; dropout
and a VGG block."""

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
from ..models import VGGBlock


def dropout(X: torch.Tensor, p: float) -> torch.Tensor:
    """Inverted dropout in training mode: zero each element with probability p, scale the rest by 1 / (1 - p)."""
    mask = (torch.rand_like(X) >= p).float()   # 1 = keep (probability 1 - p), 0 = drop (probability p)
    return mask * X / (1 - p)


# (X shape, p): enough elements that the fraction dropped is within a few points of p on any seed.
DROPOUT_CASES = [((50, 80), 0.2), ((2, 3, 30, 30), 0.7), ((40, 100), 0.0)]
_SLACK = 0.05  # allowed |fraction dropped - p|; the standard deviation is below 0.007 for these sizes


def _ratio_is(ratios: torch.Tensor, value: float) -> bool:
    return bool(torch.allclose(ratios, torch.full_like(ratios, value), rtol=1e-4, atol=1e-5))


def judge_dropout(student: object) -> str:
    """Check what the student's dropout keeps, how it scales the survivors, and that the mask is random."""
    if not callable(student):
        raise Mistake(f"请把你写的函数 dropout 传给 check,收到的是 {type(student).__name__}。")
    generator = torch.Generator().manual_seed(4)
    for x_shape, p in DROPOUT_CASES:
        # Values in [0.5, 1.5): an element of the output is 0 exactly when it was dropped.
        X = 0.5 + torch.rand(x_shape, generator=generator)
        what = f"dropout(X, p={p}),X 的形状 {describe_shape(x_shape)}"
        given = X.clone()
        torch.manual_seed(10)
        Y = as_tensor(call(student, given, p, call_text=what), "dropout")
        if not torch.equal(given, X):
            raise Mistake(f"{what}:你的函数修改了输入 X(例如 X[mask] = 0)。返回一个新的张量,不要原地修改 X。")
        if Y.shape != X.shape:
            raise Mistake(f"{what}:输出的形状是 {describe_shape(Y.shape)},应该和 X 一样是 {describe_shape(X.shape)}:"
                          "丢弃法逐个元素地决定丢不丢,不改变形状。")
        kept = Y != 0
        dropped = 1 - kept.float().mean().item()
        if p != 0.5 and abs(dropped - (1 - p)) <= _SLACK and abs(dropped - p) > _SLACK:
            raise Mistake(f"{what}:大约 {dropped:.0%} 的元素被置 0,而 p={p} 时应约为 {p:.0%}。你把 p 当成了保留的概率:"
                          "p 是丢弃(置 0)的概率,每个元素以概率 1 - p 保留。")
        if abs(dropped - p) > _SLACK:
            raise Mistake(f"{what}:大约 {dropped:.0%} 的元素被置 0,而 p={p} 时应约为 {p:.0%}。"
                          "每个元素独立地以概率 p 置 0,例如 mask = (torch.rand_like(X) >= p)。")
        ratios = (Y[kept] / X[kept]).double()
        if ratios.numel() and not _ratio_is(ratios, 1 / (1 - p)):
            if _ratio_is(ratios, 1.0):
                hint = ("留下来的元素没有放大。训练时要把它们除以 (1 - p),"
                        "这样每个元素的期望值不变,评估时才可以什么都不做。")
            elif _ratio_is(ratios, 1 - p):
                hint = "留下来的元素乘以了 (1 - p);反向丢弃法(inverted dropout)在训练时除以 (1 - p)。"
            elif p not in (0.0, 1.0) and _ratio_is(ratios, 1 / p):
                hint = "留下来的元素除以了 p;应除以保留的概率 (1 - p)。"
            else:
                hint = "留下来的元素都应乘以同一个数 1 / (1 - p)。"
            raise Mistake(f"{what}:被丢弃的比例对了,但{hint}")
        if 0 < p < 1:
            torch.manual_seed(11)
            again = as_tensor(call(student, X.clone(), p, call_text=what), "dropout")
            if torch.equal(again != 0, kept):
                raise Mistake(f"{what}:每次调用丢弃的都是同样的元素。掩码要用随机数生成(例如 torch.rand_like(X)),"
                              "每一步丢弃不同的神经元。")
    return (f"在 {len(DROPOUT_CASES)} 组形状和 p 上:丢弃的比例约为 p,留下的元素都乘以 1 / (1 - p),"
            "每次调用丢弃的元素不同。")


# (num_convs, in_channels, out_channels, input shape): two convs first (the second conv's channels matter, and
# a missing last ReLU differs from no ReLU at all); then one; then three on an odd, non-square input (pooling
# rounds down).
VGG_CASES = [(2, 3, 5, (1, 3, 6, 6)), (1, 3, 4, (2, 3, 8, 8)), (3, 2, 4, (2, 2, 9, 7))]
_VGG_LAYERS = ("num_convs 个 3×3 卷积(padding=1),每个后面跟一个 ReLU:第一个卷积 in_channels → out_channels,"
               "其余的 out_channels → out_channels;最后是 nn.MaxPool2d(kernel_size=2, stride=2)")


def _vgg_variants(block: VGGBlock, x: torch.Tensor) -> list[tuple[torch.Tensor, str]]:
    """Outputs of typical wrong blocks with the reference's weights, each with its hint."""
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]

    def run(x: torch.Tensor, relu: str = "each", pool: str = "max", pool_first: bool = False) -> torch.Tensor:
        if pool_first:
            x = nn.functional.max_pool2d(x, 2)
        for i, conv in enumerate(convs):
            x = conv(x)
            if relu == "each" or (relu == "between" and i < len(convs) - 1):
                x = torch.relu(x)
        if not pool_first:
            x = nn.functional.max_pool2d(x, 2) if pool == "max" else nn.functional.avg_pool2d(x, 2)
        return x

    return [
        (run(x, relu="none"),
         "块里没有 ReLU:每个 3×3 卷积后面都要跟一个 ReLU,否则几个卷积叠起来仍然只是一个线性运算。"),
        (run(x, relu="between"), "最后一个卷积后面少了 ReLU:每个卷积(包括最后一个)后面都跟一个 ReLU,再汇聚。"),
        (run(x, pool="avg"), "汇聚用了平均值:VGG 块最后是最大汇聚 nn.MaxPool2d(kernel_size=2, stride=2)。"),
        (run(x, pool_first=True), "先汇聚再卷积了:VGG 块先做卷积(和 ReLU),最后才汇聚。"),
    ]


def judge_vgg_block(student: object) -> str:
    """Build the student's VGGBlock for three cases; compare shapes, parameter counts and outputs."""
    cls = student_class(student, "VGGBlock")
    generator = torch.Generator().manual_seed(4)
    for num_convs, in_channels, out_channels, x_shape in VGG_CASES:
        args = (num_convs, in_channels, out_channels)
        block = build_module(cls, args, "VGGBlock")
        x = random_tensor(generator, *x_shape)
        N, _, H, W = x_shape
        what = f"VGGBlock{args} 作用在形状为 {describe_shape(x_shape)} 的输入上"
        try:
            with torch.no_grad():
                out = call(block, x.clone(), call_text=what)
        except StudentError as error:
            if "channels, but got" in str(error.error):
                raise error.with_hint("卷积的输入通道数和它收到的特征图对不上。只有第一个卷积是 in_channels → "
                                      "out_channels;后面的卷积收到的是 out_channels 个通道,所以是 out_channels → "
                                      "out_channels。") from None
            raise
        out = as_tensor(out, "VGGBlock 的 forward")
        expected = (N, out_channels, H // 2, W // 2)
        if tuple(out.shape) != expected:
            raise Mistake(f"{what}:输出的形状是 {describe_shape(out.shape)},应该是 {describe_shape(expected)}。"
                          + _vgg_shape_mistake(tuple(out.shape), expected, num_convs, in_channels, H, W))
        torch.manual_seed(4)
        reference = VGGBlock(*args)
        have, want = count_parameters(block), count_parameters(reference)
        if have != want:
            raise Mistake(f"VGGBlock{args} 有 {have} 个参数,参考实现有 {want} 个。"
                          + _vgg_parameter_mistake(have, num_convs, in_channels, out_channels))
        copy_parameters(reference, block, f"VGGBlock{args}")
        with torch.no_grad():
            out = as_tensor(call(block, x.clone(), call_text=what), "VGGBlock 的 forward")
            if close(out, reference(x)):
                continue
            for wrong, hint in _vgg_variants(reference, x):
                if close(out, wrong):
                    raise Mistake(f"{what}:{hint}")
        raise Mistake(f"{what}:形状和参数个数都对,但在同样的权重下输出和参考实现不同。应为 {_VGG_LAYERS}。")
    return (f"在 {len(VGG_CASES)} 组 (num_convs, in_channels, out_channels) 上:输出形状、参数个数,"
            "以及复制同样的权重后的输出都和参考实现一致。")


def _vgg_shape_mistake(out: tuple[int, ...], expected: tuple[int, ...], num_convs: int, in_channels: int,
                       H: int, W: int) -> str:
    """The hint for an output of the wrong shape: which typical mistake gives that shape."""
    if len(out) != 4:
        return "输出应是 4 维的 N × C × H × W;块里不要展平,也不要改变批量维。"
    hints = []
    if out[1] != expected[1]:
        if out[1] == in_channels:
            hints.append("输出的通道数还是 in_channels:卷积的输出通道数应是 out_channels。")
        else:
            hints.append("输出的通道数应是 out_channels(每个卷积都输出 out_channels 个通道)。")
    size = out[2:]
    shrunk = (H - 2 * num_convs, W - 2 * num_convs)
    if size == (H, W):
        hints.append("高宽没有减半:块的最后少了最大汇聚 nn.MaxPool2d(kernel_size=2, stride=2)。")
    elif size == (H - 1, W - 1):
        hints.append("高宽只少了 1:汇聚的步幅是 1。用 nn.MaxPool2d(kernel_size=2, stride=2),让高宽减半。")
    elif size in (shrunk, (shrunk[0] // 2, shrunk[1] // 2), (shrunk[0] - 1, shrunk[1] - 1)):
        hints.append(f"每个 3×3 卷积让高宽各少了 2(这里 {num_convs} 个卷积少了 {2 * num_convs}):"
                     "卷积要用 padding=1,高宽才不变,只由最后的汇聚减半。")
    elif size != expected[2:]:
        hints.append(f"高宽应是输入的一半(向下取整):{H} // 2 = {H // 2},{W} // 2 = {W // 2}。"
                     "3×3 卷积用 padding=1(不改变高宽),最后一个 2×2、步幅 2 的最大汇聚。")
    return "".join(hints) or f"应为 {_VGG_LAYERS}。"


def _vgg_parameter_mistake(have: int, num_convs: int, in_channels: int, out_channels: int) -> str:
    """The hint for a wrong parameter count."""
    if have == 0:
        return ("你的模块没有可学习的参数:层要放进 nn.Sequential(或 nn.ModuleList)再赋给 self 的属性;"
                "放在普通的 Python 列表里,PyTorch 看不到它们。")

    def convs(n: int, k: int = 3) -> int:
        first = in_channels * out_channels * k * k + out_channels
        return first + (n - 1) * (out_channels * out_channels * k * k + out_channels)

    if any(have == convs(n) for n in range(1, 6) if n != num_convs):
        n = next(n for n in range(1, 6) if have == convs(n))
        return f"你的块里有 {n} 个 3×3 卷积,应有 num_convs = {num_convs} 个:用一个循环,按 num_convs 添加卷积。"
    if any(have == convs(num_convs, k) for k in (1, 5, 7)):
        return "卷积核的大小不对:VGG 块里的卷积都是 3×3(kernel_size=3,padding=1)。"
    return f"应为 {_VGG_LAYERS};每个卷积都带偏置。"


EXERCISES: list[AnyExercise] = [
    Exercise(
        key="04-1",
        question=(
            "AlexNet 的第一层是 nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1),输入是 1×224×224。"
            "输出特征图的高是多少?(填一个整数)"
        ),
        answer=54,
        solution=(
            "OH = floor((H + 2P - K) / S) + 1 = floor((224 + 2 - 11) / 4) + 1 = floor(53.75) + 1 = 53 + 1 = 54。\n"
            "验证:nn.Conv2d(1, 96, 11, stride=4, padding=1)(torch.zeros(1, 1, 224, 224)).shape == (1, 96, 54, 54)。"
        ),
        hints=(
            (56, "224 / 4 = 56 只在窗口大小等于步幅时才对;这里窗口是 11、步幅是 4,要用完整公式。"),
            (54.75, "忘了向下取整:(224 + 2 - 11) / 4 = 53.75,先取 floor 得 53,再加 1。"),
            (55, "向上取整了。卷积层向下取整(floor):放不下完整窗口的位置不算。"),
            (53, "忘了公式最后的 + 1:第一个窗口本身就产生一个输出。"),
            (214, "214 是步幅为 1 时的答案;这里步幅是 4。"),
        ),
        default_hint="用 OH = floor((H + 2P - K) / S) + 1,代入 H=224, P=1, K=11, S=4。",
    ),
    Exercise(
        key="04-2",
        question=(
            "本章的 AlexNet 在 224×224 的输入上,最后一个汇聚层输出 256×5×5,所以第一个全连接层是 "
            "nn.Linear(6400, 4096)。如果把输入换成 1×227×227(其余层都不变),第一个全连接层的 "
            "in_features 应该是多少?(填一个整数)"
        ),
        answer=9216,
        solution=(
            "逐层代入 floor((H + 2P - K) / S) + 1:\n"
            "卷积 11×11/4, P=1:floor((227 + 2 - 11) / 4) + 1 = 55;汇聚 3×3/2:floor((55 - 3) / 2) + 1 = 27;\n"
            "卷积 5×5, P=2 保持 27;汇聚:floor((27 - 3) / 2) + 1 = 13;三个 3×3, P=1 的卷积保持 13;\n"
            "汇聚:floor((13 - 3) / 2) + 1 = 6。展平后是 256 × 6 × 6 = 9216(torchvision 的 AlexNet 也是这个数)。\n"
            "验证:cnn_course.layer_shapes(nn.Sequential(*list(AlexNet().net)[:13]), (1, 227, 227))。"
        ),
        hints=(
            (6400, "输入变了,后面每一层的大小都会跟着变;从第一层开始重新算一遍。"),
            (1536, "忘了平方:最后的特征图是 6×6,不是 6;展平后是 256 × 6 × 6。"),
            (36, "忘了通道数:展平时 256 个通道的 6×6 特征图全部排成一行。"),
            (12544, "向上取整了:卷积和汇聚默认都向下取整(floor),最后的特征图是 6×6,不是 7×7。"),
            (10816, "256 × 6.5 × 6.5 不是整数个位置;每一步都要向下取整,最后是 6×6。"),
        ),
        default_hint="从 227 出发,用 floor((H + 2P - K) / S) + 1 逐层算到最后一个汇聚层,再乘以 256 个通道。",
    ),
    Exercise(
        key="04-3",
        question="第一个全连接层 nn.Linear(6400, 4096) 有多少个可学习的参数(权重加偏置)?(填一个整数)",
        answer=26_218_496,
        solution=(
            "权重矩阵形状为 (out_features, in_features) = (4096, 6400),共 4096 × 6400 = 26,214,400 个;\n"
            "每个输出一个偏置,共 4096 个。合计 26,218,496,比五个卷积层加起来(约 372 万)多出 7 倍。\n"
            "验证:sum(p.numel() for p in nn.Linear(6400, 4096).parameters())。"
        ),
        hints=(
            (26_214_400, "忘了偏置:每个输出神经元还有一个偏置,共 4096 个。"),
            (26_220_800, "偏置的个数等于输出的个数(4096),不是输入的个数(6400)。"),
            (10_496, "这是输入加输出的个数;全连接层的每个输入和每个输出之间都有一个权重,要相乘。"),
            (10_497, "全连接层的权重是 in_features × out_features 个,不是相加。"),
        ),
        default_hint="参数量 = in_features × out_features + out_features。",
    ),
    Exercise(
        key="04-4",
        question=(
            "训练模式(model.train())下,nn.Dropout(p=0.2) 收到一个值为 3.0 的激活。"
            "如果这个激活没有被丢弃,输出是多少?(填一个数)"
        ),
        answer=3.75,
        solution=(
            "PyTorch 用的是“反向丢弃法”(inverted dropout):训练时以概率 p 把激活置 0,"
            "留下来的激活乘以 1 / (1 - p)。\n"
            "这里 3.0 / (1 - 0.2) = 3.0 / 0.8 = 3.75。这样每个激活的期望值不变:0.8 × 3.75 + 0.2 × 0 = 3.0,"
            "到了 eval() 模式就可以什么都不做。"
        ),
        hints=(
            (3.0, "训练时留下来的激活要放大:乘以 1 / (1 - p)。"),
            (2.4, "乘以 (1 - p) 是原始论文在测试时的做法;PyTorch 在训练时把留下的激活除以 (1 - p)。"),
            (0.6, "p 是丢弃的概率,不是缩放系数;留下的激活乘以 1 / (1 - p)。"),
            (15.0, "除以的是保留概率 (1 - p) = 0.8,不是丢弃概率 p = 0.2。"),
            (0, "题目说这个激活没有被丢弃;被丢弃的才是 0。"),
        ),
        default_hint="留下来的激活乘以 1 / (1 - p),让期望值和不丢弃时一样。",
    ),
    Exercise(
        key="04-5",
        question=(
            "同一个 nn.Dropout(p=0.2) 在评估模式(model.eval())下收到值为 3.0 的激活,输出是多少?(填一个数)"
        ),
        answer=3.0,
        solution=(
            "eval() 模式下丢弃法关闭,原样输出:3.0。\n"
            "缩放已经在训练时做过了(留下的激活乘以 1 / (1 - p)),所以测试时既不丢弃、也不缩放,"
            "每次预测的结果都是确定的。这就是为什么评估前一定要调用 model.eval()"
            "(cnn_course.evaluate 会替你调用)。"
        ),
        hints=(
            (3.75, "放大 1 / (1 - p) 只在训练模式下做;eval() 模式下丢弃法什么也不做。"),
            (2.4, "PyTorch 用反向丢弃法:缩放在训练时做,测试时不再乘以 (1 - p)。"),
            (0, "eval() 模式下不会丢弃任何激活。"),
        ),
        default_hint="eval() 模式下 nn.Dropout 是恒等映射。",
    ),
    Exercise(
        key="04-6",
        question=(
            "一个 VGG 块里堆叠了两个 3×3 卷积,都是 128 个通道进、128 个通道出(padding=1,带偏置)。"
            "这两个卷积一共有多少个可学习的参数?(填一个整数)"
        ),
        answer=295_168,
        solution=(
            "一个 3×3 卷积:128 × 128 × 3 × 3 = 147,456 个权重,加 128 个偏置,共 147,584 个;两个共 295,168 个。\n"
            "对比:一个 5×5 卷积看到同样大的 5×5 区域,却有 128 × 128 × 5 × 5 + 128 = 409,728 个参数。"
            "不算偏置时两者之比是 2 × 9 / 25 = 0.72,与通道数无关。\n"
            "验证:sum(p.numel() for p in cnn_course.models.VGGBlock(2, 128, 128).parameters())(汇聚层没有参数)。"
        ),
        hints=(
            (147_584, "这是一个 3×3 卷积的参数;块里有两个。"),
            (294_912, "忘了偏置:每个卷积每个输出通道还有一个偏置,两个卷积共 2 × 128 个。"),
            (295_040, "两个卷积各有自己的 128 个偏置,偏置一共 256 个。"),
            (409_728, "这是一个 5×5 卷积的参数量;题目问的是两个 3×3 卷积。"),
            (2_560, "每个输出通道的卷积核要覆盖全部 128 个输入通道:一个卷积的权重是 128 × 128 × 3 × 3。"),
        ),
        default_hint="一个卷积的参数 = in_channels × out_channels × K × K + out_channels;两个卷积相加。",
    ),
    Exercise(
        key="04-7",
        question=(
            "三个 3×3 卷积(步幅 1)直接堆叠在一起。第三个卷积的一个输出看到输入图上多大的区域?"
            "填区域的边长(感受野的大小,一个整数)。"
        ),
        answer=7,
        solution=(
            "步幅都是 1 时,每多一个 K×K 的卷积,感受野的边长就加 K - 1 = 2:1 → 3 → 5 → 7。\n"
            "所以三个 3×3 卷积看到 7×7 的区域,和一个 7×7 卷积一样;两个 3×3 看到 5×5。\n"
            "验证:cnn_course.receptive_fields(nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(3)]))。"
        ),
        hints=(
            (9, "不是 3 + 3 + 3:相邻的两个窗口重叠。每多一个 3×3 卷积,边长只加 3 - 1 = 2。"),
            (27, "感受野的边长是相加增长的(每层加 K - 1),不是相乘。"),
            (5, "这是两个 3×3 卷积的感受野;这里有三个。"),
            (3, "第一个卷积的输出看到 3×3;第二、三个卷积看到的是前一层的 3×3 个位置,每个位置又看到一片输入。"),
            (49, "题目问的是区域的边长,不是像素个数(7 × 7 = 49)。"),
        ),
        default_hint="步幅为 1 时,每个 K×K 卷积让感受野的边长加 K - 1,从 1 开始加。",
    ),
    Exercise(
        key="04-8",
        question=(
            "一个 VGG 块(两个 3×3 卷积,padding=1,再一个 2×2、步幅 2 的最大汇聚)后面再接一个 3×3 卷积。"
            "这个卷积的一个输出看到输入图上多大的区域?填边长(一个整数)。"
        ),
        answer=10,
        solution=(
            "用感受野的递推:r 从 1 开始,每层 r ← r + (K - 1) × j,j 是到这一层之前所有步幅的乘积。\n"
            "3×3 卷积:r = 1 + 2 × 1 = 3;3×3 卷积:r = 3 + 2 × 1 = 5;2×2 汇聚:r = 5 + 1 × 1 = 6,之后 j = 2;\n"
            "3×3 卷积:r = 6 + 2 × 2 = 10。汇聚之后的每个 3×3 卷积让感受野长得快一倍。\n"
            "验证:cnn_course.receptive_fields(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), "
            "nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3, padding=1)))。"
        ),
        hints=(
            (7, "汇聚层也扩大感受野,而且它之后的卷积每一步跨过 2 个输入像素。"),
            (8, "汇聚之后的卷积每一步跨过 2 个输入像素(j = 2):它让感受野加 (3 - 1) × 2 = 4,不是 2。"),
            (9, "别忘了 2×2 汇聚本身也让感受野加 (2 - 1) × 1 = 1:5 → 6,然后才是 6 + 4 = 10。"),
            (12, "汇聚层只把感受野加 K - 1 = 1(5 → 6),不是翻倍;翻倍的是它之后每层的步长 j。"),
        ),
        default_hint="逐层算 r ← r + (K - 1) × j,汇聚层之后 j 变成 2。",
    ),
    Exercise(
        key="04-9",
        question=(
            "数值精度(numeric precision)。bf16 和 fp32 一样有 8 位指数,但尾数(mantissa)只有 7 位:1 附近相邻两个 "
            "bf16 数相差 2^-7 = 0.0078125。一个等于 1.0 的权重加上一次更新 0.001,结果存成 bf16(舍入到最近的 bf16 数),"
            "是多少?"
        ),
        answer=1.0,
        tolerance=1e-7,  # 1.001 must not pass as 1.0
        solution=(
            "1.0 和 1.0078125 之间没有别的 bf16 数;1.001 离 1.0 更近,舍入后还是 1.0:这次更新整个丢了。\n"
            "验证:(torch.tensor(1.0, dtype=torch.bfloat16) + 0.001).item() == 1.0。\n"
            "所以混合精度训练(torch.autocast)只让卷积和矩阵乘法用 bf16 计算,权重本身和优化器的更新仍用 fp32:"
            "学习率乘梯度往往比权重小几百倍,存成 bf16 就会被舍掉。"
        ),
        hints=(
            (1.001, "fp32 存得下 1.001,bf16 存不下:1 附近的 bf16 数每隔 0.0078125 才有一个,要舍入到最近的那个。"),
            (1.0078125, "舍入到最近的 bf16 数:1.001 离 1.0 只差 0.001,离 1.0078125 差 0.0068,所以是 1.0。"),
            (1.0009765625, "这是 fp16(10 位尾数,1 附近间隔 2^-10)的结果;bf16 只有 7 位尾数,间隔是 2^-7。"),
            (0.001, "问的是权重加上更新之后的值,不是更新本身。"),
        ),
        default_hint="1 附近的 bf16 数只有 1.0、1.0078125、……:1.001 舍入到离它最近的那个。",
    ),
    CodeExercise(
        key="04-dropout",
        question=(
            "自己写 dropout(X, p):训练模式下的丢弃法(0 ≤ p < 1)。X 的每个元素独立地以概率 p 置为 0,"
            "留下来的元素除以 (1 - p);返回和 X 形状相同的新张量,不修改 X。"
            "check 会用几组形状和 p 检查被置 0 的比例、留下的元素的缩放,以及每次调用丢弃的元素是否不同。"
        ),
        reference=dropout,
        judge=judge_dropout,
    ),
    CodeExercise(
        key="04-vgg",
        question=(
            "不看 VGG 一节,自己写 VGGBlock(num_convs, in_channels, out_channels):一个 nn.Module,"
            f"{_VGG_LAYERS}。输出的高宽是输入的一半(向下取整)。"
            "check 用三组参数检查输出形状、参数个数,再把参考实现的权重按定义顺序复制进你的模块,比较输出。"
        ),
        reference=VGGBlock,
        judge=judge_vgg_block,
    ),
]
