"""Exercises for chapter 06 (ResNet): the identity path's gradient, parameters, shapes, and writing Residual."""

from __future__ import annotations

import torch
import torch.nn.functional as F
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


class Residual(nn.Module):
    """Residual block relu(F(x) + skip(x)); a 1x1 convolution on the skip path when the shape changes.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        stride: stride of the first 3x3 convolution and of the projection (2 halves height and width).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
        if in_channels != out_channels or stride != 1:  # x and F(x) differ in shape: project x
            self.skip: nn.Module = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride)
        else:
            self.skip = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(torch.relu(self.conv1(x)))   # the residual branch F(x)
        return torch.relu(y + self.skip(x))          # add the (projected) input, then ReLU


# (in_channels, out_channels, stride, input shape): same shape, more channels, stride 2, both.
RESIDUAL_CASES = [
    (4, 4, 1, (2, 4, 6, 6)),
    (4, 8, 1, (2, 4, 6, 5)),
    (4, 4, 2, (1, 4, 7, 7)),
    (3, 6, 2, (2, 3, 8, 8)),
]
_PROJECTION_HINT = ("通道数或步幅改变时,F(x) 和 x 的形状不同,不能直接相加:在跳跃路径上加一个 1×1 卷积 "
                    "nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride),把 x 变成 F(x) 的形状。")


def _variants(block: Residual, x: torch.Tensor) -> list[tuple[torch.Tensor, str]]:
    """Outputs of typical wrong blocks with the reference's weights, each with its hint."""
    branch = block.conv2(torch.relu(block.conv1(x)))
    skip = block.skip(x)
    # The stride on the second 3x3 convolution instead of the first (the same as F(x) when stride is 1).
    h = torch.relu(F.conv2d(x, block.conv1.weight, block.conv1.bias, padding=1))
    late_stride = F.conv2d(h, block.conv2.weight, block.conv2.bias, stride=block.conv1.stride, padding=1)
    after = "ReLU 要在相加之后:输出是 relu(F(x) + x)。"
    return [
        (torch.relu(branch) + skip, "先对分支做了 ReLU 再相加。" + after),
        (torch.relu(torch.relu(branch) + skip), "相加之前不要对分支做 ReLU。" + after),
        (branch + skip, "相加之后少了 ReLU。" + after),
        (block.conv2(block.conv1(x)).add(skip).relu(), "两个 3×3 卷积之间要有一个 ReLU:F(x) = conv2(relu(conv1(x)))。"),
        (torch.relu(late_stride + skip),
         "步幅要放在第一个 3×3 卷积上(和 1×1 投影的步幅相同),第二个 3×3 卷积的步幅是 1。"),
    ]


def judge_residual(student: object) -> str:
    """Build the student's Residual for each case; compare shapes, parameter counts and outputs."""
    cls = student_class(student, "Residual")
    generator = torch.Generator().manual_seed(6)
    for in_channels, out_channels, stride, x_shape in RESIDUAL_CASES:
        args = (in_channels, out_channels, stride)
        block = build_module(cls, args, "Residual")
        x = random_tensor(generator, *x_shape)
        torch.manual_seed(6)
        reference = Residual(*args)
        with torch.no_grad():
            expected = reference(x)
        what = f"Residual{args} 作用在形状为 {describe_shape(x_shape)} 的输入上"
        changes = in_channels != out_channels or stride != 1
        try:
            with torch.no_grad():
                out = call(block, x.clone(), call_text=what)
        except StudentError as error:
            if changes and "must match the size of tensor" in str(error.error):
                raise error.with_hint(_PROJECTION_HINT) from None
            raise
        out = as_tensor(out, "Residual 的 forward")
        if out.shape != expected.shape:
            raise Mistake(f"{what}:输出的形状是 {describe_shape(out.shape)},应该是 {describe_shape(expected.shape)}。"
                          "两个 3×3 卷积都用 padding=1;步幅放在第一个卷积上;输出通道数是 out_channels。")
        have, want = count_parameters(block), count_parameters(reference)
        if have != want:
            projection = in_channels * out_channels + out_channels
            if changes and have == want - projection:
                raise Mistake(f"Residual{args} 有 {have} 个参数,少了跳跃路径上的 1×1 卷积。{_PROJECTION_HINT}")
            if not changes and have == want + projection:
                raise Mistake(f"Residual{args} 有 {have} 个参数,比参考实现多 {projection} 个:输入和输出形状相同时,"
                              "跳跃路径就是 x 本身(恒等映射),不需要 1×1 卷积。")
            raise Mistake(f"Residual{args} 有 {have} 个参数,参考实现有 {want} 个。需要的层:两个 3×3 卷积"
                          "(in_channels → out_channels,out_channels → out_channels),形状改变时再加一个 1×1 投影;"
                          "每个卷积都带偏置。")
        copy_parameters(reference, block, f"Residual{args}")
        with torch.no_grad():
            out = as_tensor(call(block, x.clone(), call_text=what), "Residual 的 forward")
            if close(out, expected):
                continue
            for wrong, hint in _variants(reference, x):
                if close(out, wrong):
                    raise Mistake(f"{what}:{hint}")
        raise Mistake(f"{what}:形状和参数个数都对,但在同样的权重下输出和参考实现不同。应为 "
                      "relu(conv2(relu(conv1(x))) + skip(x))。参数按定义(注册)的顺序对应:"
                      "先定义 conv1,再定义 conv2,最后是 1×1 投影。")
    return (f"Residual 在 {len(RESIDUAL_CASES)} 组通道数、步幅和输入大小上,输出形状、参数个数"
            "和同样权重下的输出都和参考实现一致。")


EXERCISES: list[AnyExercise] = [
    Exercise(
        key="06-1",
        question=(
            "一个残差连接计算 y = F(x) + x(x、y 都是标量)。在某一点 F 的导数 dF/dx = 0.1。"
            "这一点的 dy/dx 是多少?"
        ),
        answer=1.1,
        solution=(
            "求导是线性的:dy/dx = dF/dx + dx/dx = 0.1 + 1 = 1.1。\n"
            "对向量 x,同样的式子写成雅可比矩阵:∂y/∂x = ∂F/∂x + I。即使 ∂F/∂x 很小,"
            "恒等项 I 也把梯度原样传了回去。"
        ),
        hints=(
            (0.1, "只算了 F 的导数;恒等路径 x 本身对 x 的导数是 1,也要加上。"),
            (0.11, "两条路径是相加的(y = F(x) + x),导数也相加,不是相乘。"),
            (1.0, "恒等路径贡献 1,但 F 的导数 0.1 也要加上。"),
        ),
        default_hint="y = F(x) + x:对两项分别求导再相加。",
    ),
    Exercise(
        key="06-2",
        question=(
            "一个没有跳跃连接的普通网络有 10 层,反向传播时每层都把梯度乘上 0.5(标量的简化模型)。"
            "传到第 1 层时,梯度只剩原来的多少倍?"
        ),
        answer=0.5**10,
        solution=(
            "链式法则把各层的导数连乘:0.5^10 = 1/1024 ≈ 0.000977。层数每多 10 层,又要再缩小约一千倍:"
            "这就是梯度消失(vanishing gradient)。\n"
            "残差网络里每一块的因子是 (I + J_k) 而不是 J_k,恒等项让乘积不会随层数趋于 0。"
        ),
        hints=(
            (5.0, "链式法则是把各层的导数相乘,不是相加。"),
            (0.05, "是 0.5 自乘 10 次(0.5^10),不是 0.5 / 10。"),
            (0.5**9, "10 层就有 10 个因子 0.5。"),
        ),
        default_hint="链式法则:总的导数 = 各层导数的乘积。",
        tolerance=3e-2,
    ),
    Exercise(
        key="06-3",
        question="本章的 ResidualBlock(32) 里有两个 nn.Conv2d(32, 32, 3, padding=1)。这个块一共有多少个可学习参数?",
        answer=18496,
        solution=(
            "每个卷积:32·32·3·3 + 32 = 9248 个参数;两个共 18,496 个。\n"
            "跳跃连接 x + y 只是加法,没有参数。"
        ),
        hints=(
            (18432, "别忘了偏置:每个卷积有 32 个偏置。"),
            (9248, "块里有两个卷积,都要算。"),
            (9216, "块里有两个卷积,而且每个卷积还有 32 个偏置。"),
        ),
        default_hint="卷积层参数 = in_channels · out_channels · kh · kw + out_channels;跳跃连接本身没有参数。",
    ),
    Exercise(
        key="06-4",
        question=(
            "ResidualBlock(16) 的输入形状为 (C, H, W) = (16, 12, 12)。输出形状是多少?(填一个三元组)"
            "提示:想一想 x + y 要求什么。"
        ),
        answer=(16, 12, 12),
        solution=(
            "两个卷积都是 3×3、padding=1、stride=1,通道数 16 → 16,所以 F(x) 的形状和 x 完全相同,"
            "x + F(x) 才能逐元素相加。输出 (16, 12, 12)。\n"
            "如果 F 改变了通道数或高宽,跳跃路径上就要加一个 1×1 卷积把 x 变成同样的形状(ResNet 论文里的投影跳跃连接)。"
        ),
        hints=(
            ((16, 8, 8), "每个 3×3 卷积都有 padding=1,高宽不变。"),
            ((16, 10, 10), "每个 3×3 卷积都有 padding=1,高宽不变。"),
            ((32, 12, 12), "块里的卷积是 Conv2d(16, 16, ...):通道数不变。x + y 本来就要求两者形状相同。"),
            ((32, 24, 24), "x + y 是逐元素相加,不是拼接,形状不变。"),
        ),
        default_hint="x + F(x) 逐元素相加,要求 F(x) 与 x 形状完全相同。",
    ),
    CodeExercise(
        key="06-residual",
        question=(
            "自己写 Residual(in_channels, out_channels, stride=1):一个残差块,输出 relu(F(x) + skip(x))。"
            "F(x) = conv2(relu(conv1(x))),conv1 是 3×3 卷积(in_channels → out_channels,padding=1,步幅 stride),"
            "conv2 是 3×3 卷积(out_channels → out_channels,padding=1)。输入和输出形状相同时 skip(x) = x;"
            "通道数或步幅改变时,skip 是 1×1 卷积(in_channels → out_channels,步幅 stride)。"
            "按 conv1、conv2、投影的顺序定义各层(check 按定义顺序复制权重,再比较输出)。"
        ),
        reference=Residual,
        judge=judge_residual,
    ),
]
