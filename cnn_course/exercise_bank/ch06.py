"""Self-check exercises for chapter 06 (ResNet): the identity path's gradient, parameters, shapes."""

from __future__ import annotations

from ..exercises import Exercise, register

register(
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
            "如果 F 改变了通道数或高宽,跳跃路径上就要加一个 1×1 卷积把 x 变成同样的形状(ResNet 论文里的投影捷径)。"
        ),
        hints=(
            ((16, 8, 8), "每个 3×3 卷积都有 padding=1,高宽不变。"),
            ((16, 10, 10), "每个 3×3 卷积都有 padding=1,高宽不变。"),
            ((32, 12, 12), "块里的卷积是 Conv2d(16, 16, ...):通道数不变。x + y 本来就要求两者形状相同。"),
            ((32, 24, 24), "x + y 是逐元素相加,不是拼接,形状不变。"),
        ),
        default_hint="x + F(x) 逐元素相加,要求 F(x) 与 x 形状完全相同。",
    ),
)
