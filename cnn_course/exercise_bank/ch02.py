"""Self-check exercises for chapter 02 (pooling): output size, channels, parameters, by-hand pooling."""

from __future__ import annotations

from ..exercises import Exercise, register

register(
    Exercise(
        key="02-1",
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
        key="02-2",
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
        key="02-3",
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
)
