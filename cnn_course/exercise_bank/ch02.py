"""Exercises for chapter 02 (pooling): by-hand pooling, output size, parameters, defaults, small shifts, and
writing pool2d."""

from __future__ import annotations

import torch

from ..code_checks import Mistake, as_tensor, call, close, describe_shape, random_tensor
from ..exercise_types import AnyExercise, CodeExercise, Exercise


def pool2d(X: torch.Tensor, pool_size: int, stride: int | None = None, mode: str = "max") -> torch.Tensor:
    """Max or average pooling of a 2-D tensor (no padding); stride defaults to pool_size."""
    stride = pool_size if stride is None else stride
    out_h = (X.shape[0] - pool_size) // stride + 1
    out_w = (X.shape[1] - pool_size) // stride + 1
    Y = torch.zeros(out_h, out_w)
    for i in range(out_h):
        for j in range(out_w):
            r, c = i * stride, j * stride
            window = X[r:r + pool_size, c:c + pool_size]
            Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y


# (X shape, pool_size, stride, mode); (None, "max") is called as pool2d(X, pool_size), the defaults.
POOL2D_CASES = [
    ((4, 4), 2, None, "max"),
    ((4, 4), 2, None, "avg"),
    ((6, 7), 3, 2, "max"),
    ((6, 7), 3, 2, "avg"),
    ((5, 5), 2, 1, "avg"),
    ((7, 6), 2, 3, "max"),
]
_WHAT = {"max": "最大值", "avg": "平均值"}


def judge_pool2d(student: object) -> str:
    """Compare the student's pool2d with the reference on POOL2D_CASES."""
    if not callable(student):
        raise Mistake(f"请把你写的函数 pool2d 传给 check,收到的是 {type(student).__name__}。")
    generator = torch.Generator().manual_seed(2)
    for x_shape, size, stride, mode in POOL2D_CASES:
        X = random_tensor(generator, *x_shape)
        defaults = stride is None and mode == "max"
        args = (size,) if defaults else (size, stride, mode)
        what = f"pool2d(X, {', '.join(repr(a) for a in args)}),X 的形状 {describe_shape(x_shape)}"
        given = X.clone()
        Y = as_tensor(call(student, given, *args, call_text=what), "pool2d")
        if not torch.equal(given, X):
            raise Mistake(f"{what}:你的函数修改了输入 X。汇聚只读输入,结果写进新的张量。")
        expected = pool2d(X, size, stride, mode)
        if close(Y, expected):
            continue
        if mode == "avg" and Y.shape == expected.shape:
            cells = size * size
            if close(Y, expected * cells):
                raise Mistake(f"{what}:mode=\"avg\" 时每个窗口应取平均值,你的输出是窗口里 {size}×{size} 个元素的和。"
                              f"求和之后还要除以窗口里的元素个数 pool_size * pool_size = {cells},"
                              "或者直接用 window.mean()。")
            if size > 1 and close(Y, expected * size):
                raise Mistake(f"{what}:mode=\"avg\" 时你的输出是窗口里元素的和除以 pool_size = {size}。"
                              f"窗口里有 pool_size * pool_size = {cells} 个元素,平均值要除以 {cells},"
                              "或者直接用 window.mean()。")
        other = "avg" if mode == "max" else "max"
        if close(Y, pool2d(X, size, stride, other)):
            raise Mistake(f"{what}:mode={mode!r} 时每个窗口应取{_WHAT[mode]},你的输出取的是{_WHAT[other]}。"
                          "检查 mode 的判断:\"max\" 用 window.max(),\"avg\" 用 window.mean()。")
        if stride is None and close(Y, pool2d(X, size, 1, mode)):
            raise Mistake(f"{what}:没有给 stride 时,步幅应等于窗口大小 pool_size={size}(和 nn.MaxPool2d 一样),"
                          "你的代码用了步幅 1。开头加一句 stride = pool_size if stride is None else stride。")
        if stride is not None and stride != size and close(Y, pool2d(X, size, None, mode)):
            raise Mistake(f"{what}:你的代码没有用参数 stride,窗口每次移动了 pool_size={size} 格。"
                          f"窗口的左上角应在 (i * stride, j * stride),这里 stride={stride}。")
        if stride not in (None, 1) and close(Y, pool2d(X, size, 1, mode)):
            raise Mistake(f"{what}:你的代码没有用参数 stride,窗口每次只移动 1 格。"
                          f"窗口的左上角应在 (i * stride, j * stride),这里 stride={stride}。")
        if Y.shape != expected.shape:
            raise Mistake(f"{what}:输出的形状是 {describe_shape(Y.shape)},应该是 {describe_shape(expected.shape)}。"
                          "输出的高是 (H - pool_size) // stride + 1,宽同理。")
        raise Mistake(f"{what}:输出的形状对了,但数值和参考实现不同。"
                      "提示:输出的第 (i, j) 个元素来自窗口 X[i*s : i*s + pool_size, j*s : j*s + pool_size]。")
    return f"在 {len(POOL2D_CASES)} 组不同的输入、窗口、步幅和模式上都和参考实现一致。"


EXERCISES: list[AnyExercise] = [
    Exercise(
        key="02-1",
        question=(
            "对 X = [[1,2,3,0],[0,1,2,3],[3,0,1,2],[2,3,0,1]] 做 nn.AvgPool2d(2)(窗口 2、步幅默认等于窗口)。"
            "输出是什么?(填一个 2×2 的嵌套列表,例如 [[0, 0], [0, 0]])"
        ),
        answer=((1.0, 2.0), (2.0, 1.0)),
        solution=(
            "步幅为 2,四个窗口互不重叠:\n"
            "左上 (1+2+0+1)/4 = 1,右上 (3+0+2+3)/4 = 2,左下 (3+0+2+3)/4 = 2,右下 (1+2+0+1)/4 = 1。"
        ),
        hints=(
            (((2, 3), (3, 2)), "这是最大汇聚的结果;平均汇聚要取窗口里的平均值。"),
            (((4, 8), (8, 4)), "这是窗口里的和;平均汇聚还要除以窗口里的元素个数 4。"),
            (((1, 2, 2), (1, 1, 2), (2, 1, 1)), "这是步幅为 1 时的结果;汇聚层的默认步幅等于窗口大小 2。"),
        ),
        default_hint="步幅等于窗口大小 2,所以有 2×2 个不重叠的窗口;每个窗口取 4 个数的平均值。",
    ),
    Exercise(
        key="02-2",
        question=(
            "输入形状为 (C, H, W) = (6, 28, 28),经过 nn.MaxPool2d(kernel_size=3, stride=2)。"
            "输出形状 (C, H, W) 是多少?(填一个三元组)"
        ),
        answer=(6, 13, 13),
        solution=(
            "汇聚逐通道进行,通道数不变:C = 6。\n"
            "OH = floor((28 + 2*0 - 3) / 2) + 1 = floor(12.5) + 1 = 13,OW 同理。所以是 (6, 13, 13)。\n"
            "H / S = 14 在这里不对:窗口 3 不等于步幅 2。"
        ),
        hints=(
            ((6, 14, 14), "H / S 只在窗口等于步幅、没有填充、并且能整除时才成立;这里窗口是 3、步幅是 2。"),
            ((6, 12, 12), "忘了公式最后的 + 1:floor((28 - 3) / 2) = 12,再加 1。"),
            ((6, 9, 9), "步幅已经写明是 2;默认步幅等于窗口大小(3)只在不写 stride 时才用。"),
            ((1, 13, 13), "汇聚不合并通道:它对每个通道分别做,通道数保持 6。"),
            ((3, 13, 13), "汇聚不改变通道数:输入 6 个通道,输出还是 6 个。"),
        ),
        default_hint="通道数不变;高宽用 floor((H + 2P - K) / S) + 1,和卷积一样。",
    ),
    Exercise(
        key="02-3",
        question="nn.MaxPool2d(kernel_size=2) 有多少个可学习的参数?(填一个整数)",
        answer=0,
        solution=(
            "0 个。汇聚只是在窗口里取最大值(或平均值),没有权重也没有偏置,训练不会改变它。\n"
            "验证:sum(p.numel() for p in nn.MaxPool2d(2).parameters()) == 0。"
        ),
        hints=(
            (4, "窗口大小 2×2 = 4 不是参数:取最大值不需要权重。"),
            (5, "汇聚没有权重,也没有偏置。"),
            (1, "汇聚连偏置也没有。"),
        ),
        default_hint="想一想:取最大值的操作里有没有需要学习的数?",
    ),
    Exercise(
        key="02-4",
        question="写 nn.MaxPool2d(kernel_size=3) 而不写 stride 时,PyTorch 用的步幅是多少?",
        answer=3,
        solution=(
            "PyTorch 汇聚层的默认步幅等于窗口大小(stride=None 表示 stride = kernel_size),所以是 3。\n"
            "这和卷积层不同:nn.Conv2d 的默认步幅是 1。"
        ),
        hints=(
            (1, "那是卷积层的默认步幅;汇聚层的默认步幅等于窗口大小。"),
            (2, "默认步幅等于窗口大小,这里窗口是 3。"),
            (9, "9 是窗口里的元素个数 3×3;步幅是窗口每次移动的格数,默认等于窗口的边长。"),
        ),
        default_hint="查 nn.MaxPool2d 的文档:stride 的默认值是 kernel_size。",
    ),
    Exercise(
        key="02-5",
        question="7×7 的输入经过 nn.MaxPool2d(2, ceil_mode=True),输出的高是多少?",
        answer=4,
        solution=(
            "ceil_mode=True 时把 floor 换成 ceil:ceil((7 - 2) / 2) + 1 = ceil(2.5) + 1 = 4。\n"
            "最后一个窗口只盖住 1 行真实数据,但仍然保留。默认 ceil_mode=False 时答案是 3。"
        ),
        hints=(
            (3, "这是默认 ceil_mode=False 的答案;ceil_mode=True 时向上取整。"),
            (3.5, "输出大小是整数:ceil_mode=True 表示向上取整。"),
            (5, "ceil((7 - 2) / 2) = 3,再加 1 是 4。"),
        ),
        default_hint="用 ceil((H + 2P - K) / S) + 1。",
    ),
    Exercise(
        key="02-6",
        question=(
            "汇聚与小的平移。X 是 4×4 的全 0 张量,只有 X[0, 0] = 9;nn.MaxPool2d(2)(窗口 2、步幅 2)的输出是 "
            "[[9, 0], [0, 0]]。把 X 整体向右平移 1 列(9 移到 X[0, 1]),输出是什么?(填一个 2×2 的嵌套列表)"
        ),
        answer=((9, 0), (0, 0)),
        solution=(
            "第 0、1 列属于同一个 2×2 窗口,9 移到 X[0, 1] 后仍在左上角的窗口里,窗口的最大值还是 9:输出不变,"
            "仍是 [[9, 0], [0, 0]]。\n"
            "这就是汇聚带来的对小平移不敏感(平移不变,translation invariance):窗口里的特征稍微挪一点,输出不变。"
            "但只对窗口之内的挪动成立:再向右平移 1 列(9 到 X[0, 2]),它就进了右上角的窗口,输出变成 [[0, 9], [0, 0]]。"
        ),
        hints=(
            (((0, 9), (0, 0)), "9 只移到了 X[0, 1]:第 0、1 列属于同一个 2×2 窗口(步幅 2,窗口互不重叠),"
                               "它还在左上角的窗口里。"),
            (((9, 9), (0, 0)), "步幅 2 的窗口互不重叠:X[0, 1] 只属于左上角的窗口,"
                               "右上角的窗口看的是第 2、3 列,那里全是 0。"),
            (((0, 0), (9, 0)), "向右平移改变的是列,不是行:9 仍在第 0 行。"),
            (((0, 0), (0, 0)), "9 没有移出图像,只是从 X[0, 0] 移到了 X[0, 1],它所在窗口的最大值还是 9。"),
        ),
        default_hint="先找出 X[0, 1] 属于哪个 2×2 窗口(步幅 2 时窗口互不重叠),再取每个窗口的最大值。",
    ),
    CodeExercise(
        key="02-pool2d",
        question=(
            "自己写 pool2d(X, pool_size, stride=None, mode=\"max\"):对二维张量 X(形状 (H, W))做汇聚,不填充。"
            "窗口是 pool_size × pool_size;stride 为 None 时步幅等于 pool_size;mode 为 \"max\" 时取窗口的最大值,"
            "为 \"avg\" 时取平均值。返回形状为 ((H - pool_size) // stride + 1, (W - pool_size) // stride + 1) 的张量。"
            "check 会用几组不同的输入、窗口、步幅和模式把它和参考实现对照。"
        ),
        reference=pool2d,
        judge=judge_pool2d,
    ),
]
