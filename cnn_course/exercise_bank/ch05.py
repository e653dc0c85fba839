"""Exercises for chapter 05 (GoogLeNet): Inception channels, 1x1 reductions, cost, chance-level loss, global
average pooling, the paper's block, receptive fields, and writing Inception."""

from __future__ import annotations

import itertools
import math

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
from ..models import Inception

# (in_channels, input shape N x C x H x W): two channel counts, square and non-square maps.
INCEPTION_CASES = [(3, (2, 3, 6, 6)), (10, (1, 10, 5, 7))]
_BRANCHES = "分支 1:1×1 卷积 → 16;分支 2:1×1 → 16、3×3 → 24、3×3 → 24;分支 3:1×1 → 16、5×5 → 24;分支 4:1×1 → 24"
_PADDING_HINT = "每条分支都要保持高宽不变:1×1 卷积不填充,3×3 卷积用 padding=1,5×5 卷积用 padding=2(步幅都是 1)。"


def _size_changing_layers(module: nn.Module) -> list[str]:
    """The student's convolutions whose padding or stride changes the height and width."""
    found = []
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            k, pad, stride = layer.kernel_size[0], layer.padding, layer.stride[0]
            if isinstance(pad, str) or stride != 1 or pad[0] * 2 != k - 1:
                found.append(f"nn.Conv2d({layer.in_channels}, {layer.out_channels}, kernel_size={k}, "
                             f"padding={pad if isinstance(pad, str) else pad[0]}, stride={stride})")
    return found


def _padding_mistake(module: nn.Module) -> str:
    culprits = _size_changing_layers(module)
    named = f"这些层会改变高宽:{';'.join(culprits)}。" if culprits else ""
    return f"四条分支输出的高宽不一样,没法拼接。{_PADDING_HINT}{named}"


def _branch_outputs(block: Inception, x: torch.Tensor) -> list[torch.Tensor]:
    return [block.branch1(x), block.branch2(x), block.branch3(x), block.branch4(x)]


def _relu_everywhere(block: Inception, x: torch.Tensor) -> torch.Tensor:
    # The original paper's block: a ReLU after every convolution (this course's block has none).
    def run(layers: nn.Module, x: torch.Tensor) -> torch.Tensor:
        for layer in (layers if isinstance(layers, nn.Sequential) else [layers]):
            x = torch.relu(layer(x))
        return x

    return torch.cat([run(b, x) for b in (block.branch1, block.branch2, block.branch3, block.branch4)], dim=1)


def judge_inception(student: object) -> str:
    """Build the student's Inception for two channel counts; compare shapes, parameter counts and outputs."""
    cls = student_class(student, "Inception")
    generator = torch.Generator().manual_seed(5)
    for in_channels, x_shape in INCEPTION_CASES:
        block = build_module(cls, (in_channels,), "Inception")
        x = random_tensor(generator, *x_shape)
        N, _, H, W = x_shape
        what = f"Inception({in_channels}) 作用在形状为 {describe_shape(x_shape)} 的输入上"
        try:
            with torch.no_grad():
                out = call(block, x.clone(), call_text=what)
        except StudentError as error:
            message = str(error.error)
            if "must match the size of tensor" in message:
                raise error.with_hint("四条分支的输出要沿通道维拼接:torch.cat([...], dim=1)。"
                                      "不能相加:它们的通道数不同(16、24、24、24)。") from None
            if "Sizes of tensors must match except in dimension 1" in message:
                raise error.with_hint(_padding_mistake(block)) from None
            if "Sizes of tensors must match except in dimension 0" in message:
                raise error.with_hint("torch.cat 的 dim=0 是批量维;分支要沿通道维拼接,用 dim=1。") from None
            raise
        out = as_tensor(out, "Inception 的 forward")
        expected_shape = (N, 88, H, W)
        if tuple(out.shape) != expected_shape:
            if out.dim() == 5:
                hint = "用 torch.cat(..., dim=1) 沿通道维拼接,不是 torch.stack(它会多出一维)。"
            elif out.dim() == 4 and tuple(out.shape[2:]) != (H, W):
                raise Mistake(f"{what}:输出的高宽是 {describe_shape(out.shape[2:])},应和输入一样是 {(H, W)}。"
                              + _padding_mistake(block).split("。", 1)[1])
            elif out.dim() == 4 and out.shape[1] in (16, 24) and out.shape[0] == N:
                hint = ("分支的输出要沿通道维拼接(torch.cat([...], dim=1)),不是相加:"
                        "拼接后有 16 + 24 + 24 + 24 = 88 个通道。")
            elif out.dim() == 4 and out.shape[0] != N:
                hint = "torch.cat 的 dim=0 是批量维;分支要沿通道维拼接,用 dim=1。"
            else:
                hint = f"输出应有 16 + 24 + 24 + 24 = 88 个通道,高宽和输入相同。检查四条分支:{_BRANCHES}。"
            raise Mistake(f"{what}:输出的形状是 {describe_shape(out.shape)},"
                          f"应该是 {describe_shape(expected_shape)}。{hint}")
        torch.manual_seed(5)
        reference = Inception(in_channels)
        have, want = count_parameters(block), count_parameters(reference)
        if have != want:
            raise Mistake(f"Inception({in_channels}) 有 {have} 个参数,参考实现有 {want} 个。"
                          f"检查各条分支的层和通道数({_BRANCHES}),每个卷积都带偏置。")
        copy_parameters(reference, block, f"Inception({in_channels})")
        with torch.no_grad():
            out = as_tensor(call(block, x.clone(), call_text=what), "Inception 的 forward")
            expected = reference(x)
            if close(out, expected):
                continue
            branches = _branch_outputs(reference, x)
            for order in itertools.permutations(range(4)):
                if order != (0, 1, 2, 3) and close(out, torch.cat([branches[i] for i in order], dim=1)):
                    raise Mistake(f"{what}:四条分支都对,但拼接的顺序是 {[i + 1 for i in order]};"
                                  "应按分支 1、2、3、4 的顺序拼接。")
            if close(out, torch.relu(expected)) or close(out, _relu_everywhere(reference, x)):
                raise Mistake(f"{what}:本章的 Inception 块里没有 ReLU(和原课程一样,非线性在块的外面);去掉块里的 ReLU。")
        raise Mistake(f"{what}:形状和参数个数都对,但在同样的权重下输出和参考实现不同。检查每条分支里层的顺序"
                      f"({_BRANCHES}),以及每条分支的输入都是 x。"
                      "参数按定义(注册)的顺序对应:按分支 1 到 4 的顺序定义各层。")
    return (f"Inception 在 {len(INCEPTION_CASES)} 组输入通道数和输入大小上,输出形状、参数个数"
            "和同样权重下的输出都和参考实现一致。")


EXERCISES: list[AnyExercise] = [
    Exercise(
        key="05-1",
        question=(
            "本章的 Inception 块四条分支分别输出 16、24、24、24 个通道,每条分支都保持高宽不变。"
            "Inception(in_channels=20) 的输入形状为 (C, H, W) = (20, 4, 4),输出形状是多少?(填一个三元组)"
        ),
        answer=(88, 4, 4),
        solution=(
            "四条分支的输出沿通道维拼接(torch.cat(..., dim=1)):16 + 24 + 24 + 24 = 88 个通道。\n"
            "每条分支的卷积都用了保持尺寸的填充(1×1 不填充,3×3 用 padding=1,5×5 用 padding=2),"
            "所以高宽仍是 4×4。答案 (88, 4, 4),与输入通道数 20 无关。"
        ),
        hints=(
            ((20, 4, 4), "拼接后的通道数由四条分支的输出通道相加得到,和输入的 20 个通道无关。"),
            ((64, 4, 4), "少加了一条分支:四条分支是 16、24、24、24。"),
            ((24, 4, 4), "分支的输出是沿通道维拼接(cat),不是相加,也不是取其中一条。"),
            ((88, 2, 2), "每条分支都有保持尺寸的填充,高宽不变。"),
            ((88, 0, 0), "每条分支都有保持尺寸的填充,高宽不变。"),
        ),
        default_hint="通道数 = 四条分支输出通道之和;高宽看每个卷积的 kernel_size 和 padding 是否保持尺寸。",
    ),
    Exercise(
        key="05-2",
        question=(
            "Inception(in_channels=10) 的分支 3 是 nn.Conv2d(10, 16, 1) 接 nn.Conv2d(16, 24, 5, padding=2)。"
            "这条分支一共有多少个可学习参数(含偏置)?"
        ),
        answer=9800,
        solution=(
            "1×1 卷积:10·16·1·1 + 16 = 176;5×5 卷积:16·24·5·5 + 24 = 9624;合计 9800。\n"
            "有意思的是,直接用 nn.Conv2d(10, 24, 5, padding=2) 只要 10·24·25 + 24 = 6024 个参数:"
            "输入只有 10 个通道时,先“降”到 16 个通道其实是升维,反而更贵。"
            "1×1 卷积只有在输入通道比它的输出通道多时才省钱。"
        ),
        hints=(
            (9760, "别忘了偏置:每个输出通道有一个偏置,两层共 16 + 24 个。"),
            (6024, "这是不带 1×1 卷积、直接 5×5 卷积的参数量;题目问的是分支 3 本身(两层都算)。"),
            (9624, "只算了 5×5 那一层;前面的 1×1 卷积也有参数。"),
            (176, "只算了 1×1 那一层;后面的 5×5 卷积参数更多。"),
        ),
        default_hint="卷积层参数 = in_channels · out_channels · kh · kw + out_channels(偏置);两层分别算再相加。",
    ),
    Exercise(
        key="05-3",
        question=(
            "nn.Conv2d(88, 16, kernel_size=1) 作用在一张 88×12×12 的特征图上(一张图片),"
            "一共要做多少次乘加(multiply-add)?(不计偏置)"
        ),
        answer=202752,
        solution=(
            "每个输出元素要把 88 个输入通道各乘一次再加起来:88 次乘加。\n"
            "输出有 16 个通道、12×12 个位置:16·12·12 = 2304 个元素。\n"
            "合计 2304 · 88 = 202,752 次乘加。"
        ),
        hints=(
            (405504, "一次乘加(multiply-add)就是一次乘法加一次加法,算作 1 次;"
                     "你把乘法和加法分开数了,得到的是乘加次数的 2 倍。"),
            (205056, "题目说不计偏置:加偏置的 16·12·12 = 2,304 次加法不算,只算 88 个输入通道的乘加。"),
            (1824768, "1×1 卷积的窗口只有 1 个像素:每个输出元素只做 88·1·1 = 88 次乘加,不是 88·3·3 次。"),
            (1408, "88·16 是权重个数;每个权重要在 12×12 = 144 个位置上各用一次。"),
            (2304, "2304 是输出元素的个数;每个输出元素还要对 88 个输入通道各做一次乘加。"),
            (12672, "88·144 只对应一个输出通道;一共有 16 个输出通道。"),
            (3244032, "输出通道数 16 乘了两次:输出元素个数 16·12·12 里已经有它,每个输出元素只做 88 次乘加。"),
        ),
        default_hint="乘加次数 = 输出元素个数(out_channels · H · W)× 每个输出元素的乘加数(in_channels · kh · kw)。",
    ),
    Exercise(
        key="05-4",
        question=(
            "一个网络对所有图片都输出同一组 logits。在 10 个类别、每类样本一样多的数据上,"
            "它能达到的最小交叉熵损失是多少?(保留 3 位小数)"
        ),
        answer=math.log(10),
        solution=(
            "输出不随图片变化时,最好的做法是给每个类别相同的概率 1/10(各类一样多)。"
            "这时每个样本的损失都是 -ln(1/10) = ln 10 ≈ 2.303。\n"
            "所以训练损失一直停在 2.30 附近、准确率约 10 % 时,网络只是在猜:cnn_course.train 会发出 ChanceLevelWarning。"
        ),
        hints=(
            (0.1, "0.1 是每个类别的概率;交叉熵是这个概率的负对数。"),
            (0, "输出不随图片变化,就分不出类别,损失不可能是 0。"),
            (1.0, "交叉熵用的是自然对数:-ln(1/10),不是以 10 为底。"),
            (math.log2(10), "这是以 2 为底的对数;PyTorch 的交叉熵用自然对数。"),
        ),
        default_hint="最好的常数输出给每类相同的概率 p;损失是 -ln p。",
        tolerance=5e-4,
    ),
    Exercise(
        key="05-5",
        question=(
            "第 4 章的 AlexNet 最后一个汇聚层输出 256×5×5 的特征图,后面是 6400 → 4096 → 4096 → 10 三个全连接层。"
            "换成全局平均汇聚(nn.AdaptiveAvgPool2d(1))再接一个 nn.Linear(256, 10),"
            "汇聚层之后一共还剩多少个可学习参数(含偏置)?"
        ),
        answer=2570,
        solution=(
            "全局平均汇聚把每个通道的 5×5 个数平均成一个数,没有参数,输出 256 个数。\n"
            "nn.Linear(256, 10) 有 256·10 + 10 = 2570 个参数。\n"
            "原来的三个全连接层有 6400·4096 + 4096 + 4096·4096 + 4096 + 4096·10 + 10 = 43,040,778 个参数,"
            "换掉之后只剩不到万分之一。代价是丢掉了位置信息:平均之后只知道每个通道在整张图上有多强。"
        ),
        hints=(
            (2560, "别忘了偏置:nn.Linear(256, 10) 的每个输出有一个偏置,共 10 个。"),
            (64010, "这是展平后直接接 nn.Linear(6400, 10) 的参数量;"
                    "全局平均汇聚之后每个通道只剩一个数,只有 256 个输入。"),
            (2572, "全局平均汇聚只是求平均,没有可学习的参数;只数 nn.Linear(256, 10)。"),
            (43040778, "这是原来三个全连接层的参数量;问的是换成全局平均汇聚加 nn.Linear(256, 10) 之后。"),
        ),
        default_hint="全局平均汇聚之后每个通道只剩一个数;全连接层的参数 = 输入个数 · 输出个数 + 输出个数(偏置)。",
    ),
    Exercise(
        key="05-6",
        question=(
            "PaperInception(in_channels=20) 的分支 4 是 nn.MaxPool2d(kernel_size=3, stride=1, padding=1) "
            "接 nn.Conv2d(20, 24, kernel_size=1) 和 ReLU。这条分支一共有多少个可学习参数(含偏置)?"
        ),
        answer=504,
        solution=(
            "最大汇聚只在每个 3×3 窗口里取最大值,没有参数;ReLU 也没有参数。\n"
            "1×1 卷积:20·24·1·1 + 24 = 504。\n"
            "汇聚不改变通道数(输出仍是 20 个通道),所以要靠这个 1×1 卷积把这条分支的输出定为 24 个通道。"
        ),
        hints=(
            (480, "别忘了偏置:1×1 卷积的每个输出通道有一个偏置,共 24 个。"),
            (4344, "最大汇聚不是卷积,它没有权重:只在 3×3 窗口里取最大值。只数 1×1 卷积。"),
            (0, "最大汇聚和 ReLU 没有参数,但 1×1 卷积有:20·24 个权重加 24 个偏置。"),
            (9, "3×3 的最大汇聚窗口里没有可学习的数;只数 1×1 卷积。"),
        ),
        default_hint="汇聚层和 ReLU 没有参数;卷积层参数 = in_channels · out_channels · kh · kw + out_channels。",
    ),
    Exercise(
        key="05-7",
        question=(
            "感受野(receptive field):分支输出的一个位置看到分支输入中多大的一块(填边长)。"
            "原课程的块的分支 2 是 1×1 → 3×3 → 3×3 卷积(步幅 1);论文的块的分支 4 是 3×3 最大汇聚(步幅 1)→ 1×1 卷积。"
            "这两条分支的感受野边长各是多少?(填一个二元组:(原课程的分支 2, 论文的分支 4))"
        ),
        answer=(5, 3),
        solution=(
            "步幅都是 1 时,每叠一层 K×K 的卷积或汇聚,感受野的边长就加 K − 1;1×1 卷积不改变感受野。\n"
            "原课程的分支 2:1 + (3 − 1) + (3 − 1) = 5,和一个 5×5 卷积看到的范围一样。\n"
            "论文的分支 4:最大汇聚看 3×3,后面的 1×1 卷积不扩大它:1 + (3 − 1) = 3。"
        ),
        hints=(
            ((3, 3), "原课程的分支 2 叠了两个 3×3 卷积:第二个 3×3 的每个输入位置本身已经看到 3×3,"
                     "合起来是 3 + 3 − 1 = 5。"),
            ((6, 3), "叠两个步幅为 1 的 3×3 卷积,感受野是 3 + 3 − 1 = 5,不是 3 + 3:相邻窗口重叠。"),
            ((9, 3), "两个 3×3 叠在一起看到的是 5×5 的范围,不是 3·3;问的是边长。"),
            ((5, 1), "1×1 卷积只看一个位置,但它前面的最大汇聚在 3×3 窗口里取最大值:分支 4 的感受野是 3×3。"),
            ((5, 4), "1×1 卷积不扩大感受野:3 + (1 − 1) = 3。"),
        ),
        default_hint="步幅为 1 时,每叠一层 K×K 的卷积或汇聚,感受野边长加 K − 1;从 1 开始加。",
    ),
    CodeExercise(
        key="05-inception",
        question=(
            "不看 5.3 节,自己写 Inception(in_channels):一个 nn.Module,四条分支并行作用在同一个输入上,"
            f"输出沿通道维拼接成 88 个通道,高宽不变。{_BRANCHES};分支里没有 ReLU。"
            "按分支 1 到 4 的顺序定义各层(check 按定义顺序把参考实现的权重复制进你的模块,再比较输出)。"
        ),
        reference=Inception,
        judge=judge_inception,
    ),
]
