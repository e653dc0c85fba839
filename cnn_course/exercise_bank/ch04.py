"""Exercises for chapter 04 (AlexNet): output sizes at 224, the flattened size, parameters, dropout, and writing dropout."""

from __future__ import annotations

import torch

from ..code_checks import Mistake, as_tensor, call, describe_shape
from ..exercise_types import AnyExercise, CodeExercise, Exercise


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
]
