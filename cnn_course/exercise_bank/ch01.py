"""Exercises for chapter 01 (convolution): bias, dilation, output size, shapes, parameters, translation
equivariance, and writing corr2d."""

from __future__ import annotations

import torch

from ..code_checks import Mistake, as_tensor, call, close, describe_shape
from ..exercise_types import AnyExercise, CodeExercise, Exercise


def corr2d(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Compute 2-D cross-correlation (no padding, stride 1)."""
    h, w = K.shape
    Y = torch.zeros(X.shape[0] - h + 1, X.shape[1] - w + 1)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


# (X shape, K shape): square and non-square, a 1x1 kernel, and a kernel as large as the input.
CORR2D_CASES = [((4, 4), (3, 3)), ((5, 7), (2, 3)), ((6, 5), (3, 2)), ((3, 4), (1, 1)), ((3, 3), (3, 3))]


def _quarters(generator: torch.Generator, *shape: int) -> torch.Tensor:
    """Float32 values that are multiples of 0.25 in [-3, 3]: not integers, yet exact and short when printed."""
    return torch.randint(-12, 13, shape, generator=generator) / 4


def judge_corr2d(student: object) -> str:
    """Compare the student's corr2d with the reference on CORR2D_CASES (values that are not integers)."""
    if not callable(student):
        raise Mistake(f"请把你写的函数 corr2d 传给 check,收到的是 {type(student).__name__}。")
    generator = torch.Generator().manual_seed(1)
    for x_shape, k_shape in CORR2D_CASES:
        X = _quarters(generator, *x_shape)
        K = _quarters(generator, *k_shape)
        expected = corr2d(X, K)
        what = f"corr2d(X, K),X 的形状 {describe_shape(x_shape)}、K 的形状 {describe_shape(k_shape)}"
        X_given, K_given = X.clone(), K.clone()
        Y = as_tensor(call(student, X_given, K_given, call_text=what), "corr2d")
        if not (torch.equal(X_given, X) and torch.equal(K_given, K)):
            raise Mistake(f"{what}:你的函数修改了输入 X 或 K。互相关只读输入,结果写进新的张量 Y。")
        if not (Y.is_floating_point() or Y.is_complex()):
            raise Mistake(
                f"{what}:返回的张量是整数类型 {Y.dtype}。X 和 K 里有小数(例如 0.25),写进整数张量时小数部分"
                "被截掉了。新建 Y 时用浮点类型:torch.zeros(...) 默认就是 float32,不要写 dtype=torch.int 或 torch.long。"
            )
        if close(Y, expected):
            continue
        (H, W), (h, w) = x_shape, k_shape
        if close(Y, corr2d(X, K.flip(0, 1))):
            raise Mistake(
                f"{what}:你把卷积核上下、左右翻转了,这是数学上的卷积。深度学习框架做的是互相关:"
                "不翻转 K,直接把窗口 X[i:i+h, j:j+w] 和 K 逐元素相乘再求和。"
            )
        if Y.shape != expected.shape:
            wanted = describe_shape(expected.shape)
            if tuple(Y.shape) == (H - h, W - w):
                hint = f"少了公式最后的 + 1:第一个窗口本身就占一个输出位置,输出应为 (H - h + 1, W - w + 1) = {wanted}。"
            elif tuple(Y.shape) == (H, W):
                hint = f"不填充时输出比输入小:应为 (H - h + 1, W - w + 1) = {wanted},不是和 X 一样大。"
            elif h != w and tuple(Y.shape) == (H - w + 1, W - h + 1):
                hint = f"把 K 的高和宽弄反了:K.shape 是 (h, w),输出高 H - h + 1、宽 W - w + 1,即 {wanted}。"
            else:
                hint = f"输出大小应为 (H - h + 1, W - w + 1) = {wanted}。"
            raise Mistake(f"{what}:输出的形状是 {describe_shape(Y.shape)},不对。{hint}")
        raise Mistake(
            f"{what}:输出的形状对了,但数值和参考实现不同。\n  你的输出:{Y.tolist()}\n  应该是:  {expected.tolist()}\n"
            "提示:Y[i, j] 是窗口 X[i:i+h, j:j+w] 与 K 逐元素相乘后的和。"
        )
    return f"在 {len(CORR2D_CASES)} 组不同形状的输入上都和参考实现一致。"


EXERCISES: list[AnyExercise] = [
    Exercise(
        key="01-1",
        question=(
            "用本章的输入 X = [[1,2,3,0],[0,1,2,3],[3,0,1,2],[2,3,0,1]] 和卷积核 "
            "K = [[2,0,1],[0,1,2],[1,0,2]],偏置 b = 3。输出 Y 第 0 行第 1 列(Y[0, 1])是多少?"
        ),
        answer=19,
        solution=(
            "窗口左上角在 X[0, 1],窗口是 [[2,3,0],[1,2,3],[0,1,2]]。\n"
            "逐元素相乘再相加:2*2 + 3*0 + 0*1 + 1*0 + 2*1 + 3*2 + 0*1 + 1*0 + 2*2 = 16;加偏置 3 得 19。"
        ),
        hints=(
            (16, "这是互相关的结果 Y[0, 1] = 16,忘了加偏置 b = 3:每个输出元素都要加上同一个偏置。"),
            (15, "15 是不加偏置时左上角 Y[0, 0](右下角 Y[1, 1] 也是 15)的值。Y[0, 1] 是第 0 行、第 1 列,"
                 "即右上角:窗口从 X 的第 1 列开始;算完还要加偏置 b = 3。"),
            (18, "18 是左上角 Y[0, 0] = 15 + 3。Y[0, 1] 是第 0 行、第 1 列(右上角):窗口要向右移一列。"),
            (9, "9 是 Y[1, 0](左下角)= 6 + 3:把行和列弄反了。Y[0, 1] 的第一个下标是行(第 0 行),第二个是列(第 1 列)。"),
            (6, "6 是左下角 Y[1, 0],而且没加偏置。Y[0, 1] 是第 0 行、第 1 列(右上角),算完再加偏置 b = 3。"),
            (12, "你把卷积核上下、左右翻转了(数学上的卷积),而且没加偏置。PyTorch 的 conv2d 做的是互相关:"
                 "不翻转卷积核,直接逐元素相乘再相加,最后加偏置。"),
        ),
        default_hint="Y[0, 1] 的窗口是 X[0:3, 1:4];逐元素相乘、全部相加,再加偏置。",
    ),
    Exercise(
        key="01-2",
        question="kernel_size=3、dilation=2 的卷积核,在输入上实际覆盖的宽度(有效窗口大小)是多少?",
        answer=5,
        solution=(
            "有效窗口大小 = D*(K-1) + 1 = 2*(3-1) + 1 = 5:3 个采样点之间各隔开 1 格。\n"
            "所以输出大小公式里的 K 要换成 D*(K-1) + 1,但参数量仍然只有 3*3。"
        ),
        hints=(
            (6, "不是 D*K:3 个采样点之间只有 2 个间隔,每个间隔变成 D 格,所以是 2*2 + 1。"),
            (3, "dilation=2 会让采样点之间隔开;参数还是 3×3 个,但覆盖的范围变大了。"),
            (4, "用 D*(K-1) + 1:2*(3-1) + 1。"),
        ),
        default_hint="有效窗口大小 = dilation * (kernel_size - 1) + 1。",
    ),
    Exercise(
        key="01-3",
        question=(
            "一张 28×28 的灰度图经过 nn.Conv2d(1, 6, kernel_size=5, stride=2),padding=0。"
            "输出特征图的高是多少?(填一个整数)"
        ),
        answer=12,
        solution=(
            "OH = floor((H + 2P - K) / S) + 1 = floor((28 + 0 - 5) / 2) + 1 = floor(11.5) + 1 = 11 + 1 = 12。\n"
            "步幅为 2 时,最后一列/行只剩下不够一个完整窗口的位置,它被舍弃,所以要向下取整(floor)。\n"
            "验证:nn.Conv2d(1, 6, 5, stride=2)(torch.zeros(1, 1, 28, 28)).shape == (1, 6, 12, 12)。"
        ),
        hints=(
            (12.5, "忘了向下取整:(28 - 5) / 2 = 11.5,先取 floor 得 11,再加 1。"),
            (13, "向上取整了。PyTorch 的卷积层向下取整(floor):放不下完整窗口的位置不算。"),
            (11.5, "忘了向下取整,也忘了最后的 + 1(第一个窗口本身就占一个输出位置)。"),
            (11, "忘了公式最后的 + 1:第一个窗口本身就产生一个输出。"),
            (14, "28 / 2 = 14 只在窗口大小等于步幅时才对;这里窗口是 5、步幅是 2,要用完整公式。"),
            (24, "24 是步幅为 1 时的答案;这里步幅是 2。"),
        ),
        default_hint="用 OH = floor((H + 2P - K) / S) + 1,代入 H=28, P=0, K=5, S=2。",
    ),
    Exercise(
        key="01-4",
        question=(
            "输入形状为 (C, H, W) = (3, 32, 32),经过 nn.Conv2d(3, 16, kernel_size=3, padding=1)(步幅默认 1)。"
            "输出形状 (C, H, W) 是多少?(填一个三元组,例如 (1, 2, 3))"
        ),
        answer=(16, 32, 32),
        solution=(
            "输出通道数等于卷积核的个数 out_channels = 16;\n"
            "OH = floor((32 + 2*1 - 3) / 1) + 1 = 32,OW 同理。所以是 (16, 32, 32)。\n"
            "kernel_size=3 配 padding=1、stride=1 会保持高和宽不变,这是最常见的写法。"
        ),
        hints=(
            ((3, 32, 32), "输出通道数不等于输入通道数:每个卷积核产生一个输出通道,这里有 16 个卷积核。"),
            ((16, 30, 30), "忘了填充:padding=1 在上下左右各加一行/列,高宽各多出 2。"),
            ((16, 31, 31), "填充只算了一侧:padding=1 在两侧都加,公式里是 2P。"),
            ((16, 34, 34), "填充后的输入是 34×34,但 3×3 的窗口还要滑动:34 - 3 + 1 = 32。"),
        ),
        default_hint="通道数看 out_channels;高宽用 floor((H + 2P - K) / S) + 1。",
    ),
    Exercise(
        key="01-5",
        question="nn.Conv2d(3, 16, kernel_size=5) 一共有多少个可学习的参数(权重加偏置)?(填一个整数)",
        answer=1216,
        solution=(
            "权重形状为 (FN, C, FH, FW) = (16, 3, 5, 5),共 16*3*5*5 = 1200 个;\n"
            "每个输出通道一个偏置,共 16 个。合计 1200 + 16 = 1216。\n"
            "验证:sum(p.numel() for p in nn.Conv2d(3, 16, 5).parameters())。"
        ),
        hints=(
            (1200, "忘了偏置(bias):每个输出通道还有一个偏置,共 16 个。"),
            (416, "忘了输入通道:每个卷积核的形状是 (3, 5, 5),不是 (5, 5)。"),
            (400, "忘了输入通道和偏置:权重形状是 (16, 3, 5, 5),再加 16 个偏置。"),
            (1203, "偏置的个数等于输出通道数(16),不是输入通道数(3)。"),
            (1248, "偏置是每个输出通道一个(16 个),不是每个输入通道、每个卷积核一个(48 个)。"),
            (76, "这只是一个卷积核(3*5*5 = 75)加一个偏置;一共有 16 个卷积核。"),
        ),
        default_hint="参数量 = out_channels * (in_channels * K * K) + out_channels。",
    ),
    Exercise(
        key="01-6",
        question=(
            "平移等变(translation equivariance)。一张 8×8 的输入 X 除了一个像素以外都是 0,和一个 3×3 的卷积核做互相关"
            "(不填充,步幅 1),输出 Y 是 6×6,最大值在 Y[0, 1]。把 X 整体向下平移 1 行、向右平移 2 列"
            "(那个像素仍在图内,移进来的都是 0),同一个卷积核的新输出的最大值在哪个位置?"
            "(填一个二元组 (行, 列))"
        ),
        answer=(1, 3),
        solution=(
            "互相关在每个位置用同一个卷积核:输入平移多少,输出就跟着平移多少,这叫平移等变。\n"
            "原来的最大值在 (0, 1),向下 1 行、向右 2 列之后在 (0 + 1, 1 + 2) = (1, 3)。\n"
            "(这里没有东西移出边界;靠近边界时,移出去的部分就丢了。)验证:把 X 换成 torch.roll(X, (1, 2), dims=(0, 1)),"
            "比较 corr2d 的两个输出。"
        ),
        hints=(
            ((0, 1), "卷积层不是平移不变的:同一个卷积核在每个位置都算一遍,"
                     "输入移到哪里,输出的响应就跟到哪里(平移等变)。"),
            ((3, 2), "行和列弄反了:向下平移改变的是行号(第一个下标),向右平移改变的是列号(第二个下标)。"),
            ((2, 2), "行和列弄反了:向下 1 行是行号加 1,向右 2 列是列号加 2,从 (0, 1) 出发。"),
            ((-1, -1), "方向反了:向下、向右平移时下标变大,输出跟着输入往同一个方向移动。"),
        ),
        default_hint="输入平移多少,互相关的输出就平移多少:从 (0, 1) 出发,行加 1,列加 2。",
    ),
    CodeExercise(
        key="01-corr2d",
        question=(
            "自己写 corr2d(X, K):二维互相关,不填充,步幅 1。X 的形状是 (H, W),K 的形状是 (h, w),"
            "返回形状为 (H - h + 1, W - w + 1) 的张量,其中 Y[i, j] = (X[i:i+h, j:j+w] * K).sum()。"
            "check 会在几组不同形状的随机输入(包括不是正方形的 X 和 K)上把它和参考实现对照。"
        ),
        reference=corr2d,
        judge=judge_corr2d,
    ),
]
