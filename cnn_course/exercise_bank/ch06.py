"""Exercises for chapter 06 (ResNet): the identity path's gradient, parameters, shapes, batch normalization in
evaluation mode, writing Residual, and making a deep plain network train by adding batch normalization."""

from __future__ import annotations

import math

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


def _convs(module: nn.Module, size: int) -> list[nn.Conv2d]:
    """The student's convolutions with a size x size kernel, in registration order."""
    return [m for m in module.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (size, size)]


def _stride_mistake(block: nn.Module, stride: int) -> str:
    """The hint for a block whose 3x3 convolutions do not use the stride; empty when that is not the mistake."""
    if stride == 1:
        return ""
    convs3, convs1 = _convs(block, 3), _convs(block, 1)
    if not convs3 or any(c.stride != (1, 1) for c in convs3):
        return ""
    conv1 = "第一个 3×3 卷积(conv1)没有用步幅 stride"
    write = (f"conv1 要写成 nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, stride=stride)"
             f"(这里 stride={stride})")
    if any(c.stride == (stride, stride) for c in convs1):
        return (f"{conv1}:F(x) 的高宽没有变,而跳跃路径上的 1×1 投影用了步幅 {stride},把 x 的高宽缩小了,"
                f"两者的形状对不上,没法相加。{write}。")
    return (f"{conv1},1×1 投影也没有用:输出的高宽和输入一样,没有缩小。{write},"
            "跳跃路径上的 1×1 投影也用同样的步幅。")


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
                stride_hint = _stride_mistake(block, stride)
                if stride_hint:
                    raise error.with_hint(stride_hint) from None
                if not _convs(block, 1):
                    raise error.with_hint(_PROJECTION_HINT) from None
            raise
        out = as_tensor(out, "Residual 的 forward")
        if out.shape != expected.shape:
            stride_hint = _stride_mistake(block, stride) if out.shape[2:] == x.shape[2:] else ""
            general = "两个 3×3 卷积都用 padding=1;步幅放在第一个卷积上;输出通道数是 out_channels。"
            raise Mistake(f"{what}:输出的形状是 {describe_shape(out.shape)},应该是 {describe_shape(expected.shape)}。"
                          + (stride_hint or general))
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


class DeepNet(nn.Module):
    """Eleven 3x3 convolutions, each followed by batch norm and ReLU; global average pooling; 4 class scores.

    Args:
        channels: channels of every convolution.
        depth: number of 3x3 convolutions after the first one.
        num_classes: number of class scores.
    """

    def __init__(self, channels: int = 8, depth: int = 10, num_classes: int = 4) -> None:
        super().__init__()
        layers = [nn.Conv2d(1, channels, kernel_size=3, padding=1), nn.BatchNorm2d(channels), nn.ReLU()]
        for _ in range(depth):
            layers += [nn.Conv2d(channels, channels, kernel_size=3, padding=1), nn.BatchNorm2d(channels), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# The short training that judges DeepNet: fixed data, seed and recipe, so the same code always gets the same
# accuracy. Without batch norm the network predicts one class (about 25 %); with it, well above PASS_ACCURACY.
DEEP_SEED = 0
DEEP_STEPS = 300
DEEP_BATCH = 32
DEEP_LR = 0.05
DEEP_TEST = 1000
DEEP_SIZE = 12
PASS_ACCURACY = 0.6
_CHANCE = 0.25
_BAR = 5  # length of the bar in pixels


def bars(n: int, generator: torch.Generator, size: int = DEEP_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` noisy size x size images, each with one bar of 5 pixels, and its class.

    Classes: 0 horizontal, 1 vertical, 2 diagonal (down-right), 3 anti-diagonal; the bar's centre is anywhere
    at least 2 pixels from the border; the noise is Gaussian with standard deviation 0.5, the bar adds 2.
    """
    X = torch.randn(n, 1, size, size, generator=generator) * 0.5
    y = torch.randint(0, 4, (n,), generator=generator)
    row = torch.randint(2, size - 2, (n,), generator=generator)
    col = torch.randint(2, size - 2, (n,), generator=generator)
    steps = torch.arange(_BAR) - _BAR // 2
    d_row = torch.stack([torch.zeros_like(steps), steps, steps, steps])[y]     # n x 5, per class
    d_col = torch.stack([steps, torch.zeros_like(steps), steps, -steps])[y]
    index = torch.arange(n)[:, None].expand(n, _BAR)
    X[index, 0, row[:, None] + d_row, col[:, None] + d_col] += 2.0
    return X, y


def short_training(model: nn.Module, *, call_text: str = "") -> tuple[float, float]:
    """Train ``model`` on the bars for DEEP_STEPS steps (SGD with momentum); return (final loss, test accuracy).

    The model is run through :func:`~cnn_course.code_checks.call`, so an error inside it is a StudentError.
    """
    generator = torch.Generator().manual_seed(DEEP_SEED)
    X_train, y_train = bars(DEEP_STEPS * DEEP_BATCH, generator)
    X_test, y_test = bars(DEEP_TEST, generator)
    optimizer = torch.optim.SGD(model.parameters(), lr=DEEP_LR, momentum=0.9)
    loss = torch.tensor(float("nan"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tensors this small gain nothing from more threads, which fight other work for cores
    try:
        model.train()
        for step in range(DEEP_STEPS):
            X = X_train[step * DEEP_BATCH:(step + 1) * DEEP_BATCH]
            y = y_train[step * DEEP_BATCH:(step + 1) * DEEP_BATCH]
            loss = F.cross_entropy(call(model, X, call_text=call_text), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if not torch.isfinite(loss):
                break
        model.eval()
        with torch.no_grad():
            accuracy = (call(model, X_test, call_text=call_text).argmax(dim=1) == y_test).float().mean().item()
    finally:
        torch.set_num_threads(threads)
    return loss.item(), accuracy


def judge_deep(student: object) -> str:
    """Check the student's DeepNet keeps its depth, then train it briefly and require PASS_ACCURACY."""
    cls = student_class(student, "DeepNet")
    torch.manual_seed(DEEP_SEED)
    model = build_module(cls, (), "DeepNet")
    what = "DeepNet()"
    x = torch.zeros(2, 1, DEEP_SIZE, DEEP_SIZE)
    try:
        with torch.no_grad():
            out = as_tensor(call(model.eval(), x, call_text=f"{what} 作用在形状为 {describe_shape(x.shape)} 的输入上"),
                            "DeepNet 的 forward")
    except StudentError as error:
        if "running_mean should contain" in str(error.error) or "expected input with shape" in str(error.error):
            raise error.with_hint("nn.BatchNorm2d 的参数是它前面那个卷积的输出通道数,这里是 channels。") from None
        raise
    if tuple(out.shape) != (2, 4):
        raise Mistake(f"{what} 对 2 张 1×{DEEP_SIZE}×{DEEP_SIZE} 的图输出了形状 {describe_shape(out.shape)},"
                      "应该是 (2, 4):每张图 4 个类别的分数。只在卷积后面加层,不要改网络的头部。")
    convs = _convs(model, 3)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if len(convs) < 11:
        raise Mistake(f"{what} 里只有 {len(convs)} 个 3×3 卷积,原网络有 11 个。这道题要让深的网络训练起来:"
                      "不要删掉卷积层,在每个卷积后面加批量规范化。")
    loss, accuracy = short_training(model, call_text=f"训练 {what}")
    trained = (f"用固定的种子在内置的小数据集上训练 {DEEP_STEPS} 步(SGD,学习率 {DEEP_LR},动量 0.9)后,"
               f"{DEEP_TEST} 张留出的图上准确率 {100 * accuracy:.1f} %")
    if accuracy >= PASS_ACCURACY and math.isfinite(loss):
        return f"{trained}(原来没有批量规范化的网络停在随机水平,一直猜同一个类别)。"
    if not math.isfinite(loss):
        raise Mistake(f"{trained},损失变成了 {loss}。检查你加的层:批量规范化放在卷积之后、ReLU 之前。")
    if not norms:
        if count_parameters(model) == count_parameters(_plain_deep_net()):
            raise Mistake(f"还没有改动:这还是原来那个没有批量规范化的网络。{trained},"
                          f"停在随机水平({100 * _CHANCE:.0f} %),一直猜同一个类别。"
                          "在每个 3×3 卷积之后、ReLU 之前加一个 nn.BatchNorm2d(channels),再运行这两个单元格。")
        raise Mistake(f"你改了网络,但里面没有批量规范化:{trained},没有超过 {100 * PASS_ACCURACY:.0f} %。"
                      "这道题要在每个 3×3 卷积之后、ReLU 之前加一个 nn.BatchNorm2d(channels)。")
    if len(norms) < len(convs):
        raise Mistake(f"{trained},没有超过 {100 * PASS_ACCURACY:.0f} %。网络里有 {len(convs)} 个 3×3 卷积,"
                      f"你只加了 {len(norms)} 个批量规范化层:每个卷积后面都要有一个。")
    raise Mistake(f"{trained},没有超过 {100 * PASS_ACCURACY:.0f} %。每个 3×3 卷积之后、ReLU 之前各加一个 "
                  "nn.BatchNorm2d(channels),其余不变。")


def _plain_deep_net() -> nn.Module:
    """DeepNet as the skeleton gives it: no batch norm (the version that does not learn)."""
    model = DeepNet()
    model.net = nn.Sequential(*[m for m in model.net if not isinstance(m, nn.BatchNorm2d)])
    return model


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
            ((32, 12, 12), "x + F(x) 是逐元素相加,不是像 Inception 块那样沿通道维拼接(torch.cat):"
                           "相加不会让通道数变成 16 + 16,输出和 x 的形状完全相同。"),
            ((16, 6, 6), "ResidualBlock 里没有汇聚,两个卷积的步幅都是 1,高宽不会减半"
                         "(高宽减半的是 6.3 节 ResNet 里块外面的最大汇聚,或者步幅为 2 的残差块)。"),
            ((16, 8, 8), "每个 3×3 卷积都有 padding=1:两个卷积都不会让高宽各少 2。"),
            ((16, 10, 10), "每个 3×3 卷积都有 padding=1,高宽不变。"),
        ),
        default_hint="x + F(x) 逐元素相加,要求 F(x) 与 x 形状完全相同。",
    ),
    Exercise(
        key="06-5",
        question=(
            "批量规范化(batch normalization)。一个训练好的 nn.BatchNorm2d 的某个通道:running_mean = 2,"
            "running_var = 4,γ(weight)= 1.5,β(bias)= 0.5,eps 小到可以忽略。"
            "评估模式(model.eval())下,这个通道上一个值为 6 的输入,输出是多少?"
        ),
        answer=3.5,
        solution=(
            "评估模式用训练时记下的滑动平均,不用当前这一批的统计量:\n"
            "x̂ = (6 - running_mean) / sqrt(running_var + eps) = (6 - 2) / 2 = 2;输出 γ·x̂ + β = 1.5 × 2 + 0.5 = 3.5。\n"
            "所以评估时一张图的结果不取决于同一批里还有哪些图。验证:\n"
            "bn = nn.BatchNorm2d(1).eval(); bn.running_mean.fill_(2); bn.running_var.fill_(4); "
            "bn.weight.data.fill_(1.5); bn.bias.data.fill_(0.5); bn(torch.full((1, 1, 1, 1), 6.0))"
        ),
        hints=(
            (2.0, "除以的是标准差 sqrt(running_var) = 2,不是方差 4。"),
            (3.0, "规范化之后还要加上 β = 0.5:输出是 γ·x̂ + β。"),
            (2.5, "规范化之后还要乘以 γ = 1.5,再加 β:输出是 γ·x̂ + β。"),
            (6.0, "评估模式下批量规范化并不是什么都不做(那是丢弃法):它用训练时记下的滑动平均做规范化,再乘 γ、加 β。"),
            (0.5, "评估模式不用这一批自己的均值(那样一个数减去自己的均值就是 0,只剩 β):"
                  "它用训练时记下的 running_mean 和 running_var。"),
        ),
        default_hint="评估模式:输出 = γ · (x - running_mean) / sqrt(running_var + eps) + β。",
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
    CodeExercise(
        key="06-deep",
        question=(
            "改一改,再训练一次。DeepNet 是 11 个 3×3 卷积(每个后面一个 ReLU)叠成的普通网络,最后全局平均汇聚、"
            "输出 4 个类别的分数。它太深,用 PyTorch 的默认初始化根本训练不起来。"
            "在每个 3×3 卷积之后、ReLU 之前加一个 nn.BatchNorm2d(channels),其余不变。"
            f"check 用固定的种子在一个内置的小数据集上训练你的网络 {DEEP_STEPS} 步"
            f"({DEEP_SIZE}×{DEEP_SIZE} 的噪声图上有一根长 5 像素的横线、竖线或斜线,4 类;SGD,学习率 {DEEP_LR},"
            f"动量 0.9,每批 {DEEP_BATCH} 张),在 {DEEP_TEST} 张留出的图上准确率超过 {100 * PASS_ACCURACY:.0f} % "
            "才算通过。"
        ),
        reference=DeepNet,
        judge=judge_deep,
    ),
]
