"""Exercises for chapter 03 (LeNet-5): layer shapes, parameter counts, padding, training steps, the validation
split, writing train_step."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from ..code_checks import Mistake, call, not_implemented, random_tensor
from ..exercise_types import AnyExercise, CodeExercise, Exercise


def train_step(model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module,
               optimizer: torch.optim.Optimizer) -> float:
    """Train on one mini-batch (forward, loss, zero the gradients, backward, update); return the loss."""
    y_hat = model(X)            # 1. forward
    loss = loss_fn(y_hat, y)    # 2. loss of this batch
    optimizer.zero_grad()       # 3. clear the gradients of the previous step
    loss.backward()             # 4. backward: d loss / d parameter
    optimizer.step()            # 5. update the parameters
    return loss.item()


def _train_step_without_zero_grad(model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module,
                                  optimizer: torch.optim.Optimizer) -> float:
    # The typical mistake: gradients of earlier calls pile up in .grad.
    loss = loss_fn(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def _linear_model() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 3))


def _conv_model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 2, kernel_size=3), nn.ReLU(), nn.Flatten(), nn.Linear(18, 3))


# (model factory, batch shape): two tiny models, three batches each (gradients must not carry over).
TRAIN_STEP_CASES: list[tuple[Callable[[], nn.Module], tuple[int, ...]]] = [
    (_linear_model, (5, 1, 4, 4)),
    (_conv_model, (4, 1, 5, 5)),
]
TRAIN_STEP_CALLS = 3


def _parameters(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.allclose(x, y, rtol=1e-5, atol=1e-6) for x, y in zip(a, b, strict=False))


def judge_train_step(student: object) -> str:
    """Run the student's train_step three times on each tiny model, beside the reference and its known mistakes."""
    if not callable(student):
        raise Mistake(f"请把你写的函数 train_step 传给 check,收到的是 {type(student).__name__}。")
    generator = torch.Generator().manual_seed(3)
    loss_fn = nn.CrossEntropyLoss()
    for make, x_shape in TRAIN_STEP_CASES:
        torch.manual_seed(3)  # the checker runs inside fork_rng: the notebook's random state is untouched
        base = make()
        models = {name: copy.deepcopy(base) for name in ("student", "reference", "no_zero_grad")}
        optimizers = {name: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.5) for name, m in models.items()}
        for step in range(1, TRAIN_STEP_CALLS + 1):
            X = random_tensor(generator, *x_shape)
            y = torch.randint(0, 3, (x_shape[0],), generator=generator)
            args = {name: (models[name], X.clone(), y.clone(), loss_fn, optimizers[name]) for name in models}
            expected = train_step(*args["reference"])
            _train_step_without_zero_grad(*args["no_zero_grad"])
            before = _parameters(models["student"])
            what = (f"第 {step} 次调用 train_step(model, X, y, loss_fn, optimizer)"
                    f"(X 的形状 {tuple(x_shape)},optimizer 是带动量的 SGD)")
            value = call(student, *args["student"], call_text=what)
            after = _parameters(models["student"])
            if value is None and _same(after, before):
                raise not_implemented("train_step")
            if not _same(after, _parameters(models["reference"])):
                if _same(after, before):
                    raise Mistake(f"{what}:参数没有更新。是不是忘了 optimizer.step()?"
                                  "另外 zero_grad() 要在 backward() 之前调用:放在 backward() 和 step() 之间,"
                                  "梯度在更新前就被清掉了。")
                if _same(after, _parameters(models["no_zero_grad"])):
                    raise Mistake(f"{what}:参数更新得不对:第一次调用正确,从第二次起多出了上一步的梯度。"
                                  "PyTorch 会把每次 backward() 算出的梯度累加到 .grad 上,"
                                  "所以每一步都要先 optimizer.zero_grad(),再 loss.backward()。")
                raise Mistake(f"{what}:更新后的参数和参考实现不同。按顺序做五步:y_hat = model(X)、"
                              "loss = loss_fn(y_hat, y)、optimizer.zero_grad()、loss.backward()、optimizer.step();"
                              "用传进来的 optimizer,不要自己新建一个。")
            if value is None:
                raise Mistake(f"{what}:参数更新对了,但函数没有返回损失。最后加一句 return loss.item()。")
            if isinstance(value, torch.Tensor):
                raise Mistake(f"{what}:参数更新对了,但返回的是张量。返回 loss.item()(一个 Python 的 float):"
                              "张量会把整张计算图一直留在内存里。")
            if not isinstance(value, (int, float)):
                raise Mistake(f"{what}:应返回这一批的损失(一个 float),你的函数返回了 {type(value).__name__}。")
            if abs(value - expected) <= 1e-5 * max(1.0, abs(expected)):
                continue
            with torch.no_grad():
                after_update = loss_fn(models["reference"](X), y).item()
            if abs(value - expected * len(y)) <= 1e-4 * max(1.0, abs(expected * len(y))):
                hint = "返回的是整批损失之和;返回 loss_fn 的输出本身(批量上的平均损失)。"
            elif abs(value - after_update) <= 1e-5 * max(1.0, abs(after_update)):
                hint = "返回的是更新参数之后重新算的损失;应返回这一步前向传播时算出的损失。"
            else:
                hint = "应返回 loss_fn(model(X), y) 在这一步更新之前的值,即 loss.item()。"
            raise Mistake(f"{what}:参数更新对了,但返回的损失 {value:.6f} 不对(应为 {expected:.6f})。{hint}")
    return (f"在 {len(TRAIN_STEP_CASES)} 个小模型上各连续调用 {TRAIN_STEP_CALLS} 次,"
            "参数的更新和返回的损失都和参考实现一致。")


EXERCISES: list[AnyExercise] = [
    Exercise(
        key="03-1",
        question=(
            "LeNet-5 中,S2 的输出形状是 (6, 14, 14),C3 是 nn.Conv2d(6, 16, kernel_size=5)(padding=0,步幅 1)。"
            "C3 的输出形状 (C, H, W) 是多少?(填一个三元组)"
        ),
        answer=(16, 10, 10),
        solution=(
            "输出通道数等于 C3 的卷积核个数 out_channels = 16;\n"
            "OH = floor((14 + 2*0 - 5) / 1) + 1 = 10,OW 同理。所以是 (16, 10, 10)。\n"
            "每个卷积核的形状是 (6, 5, 5):它同时看 S2 的全部 6 个通道,把它们加在一起成为一个输出通道。"
        ),
        hints=(
            ((6, 10, 10), "输出通道数由卷积核个数决定(out_channels = 16),不是输入的 6 个通道。"),
            ((16, 14, 14), "C3 没有填充:5×5 的窗口在 14 格宽的输入上只有 14 - 5 + 1 = 10 个位置。"),
            ((16, 9, 9), "忘了公式最后的 + 1:14 - 5 = 9,第一个窗口本身还占一个输出位置。"),
            ((16, 5, 5), "(16, 5, 5) 是 S4 汇聚之后的形状;题目问的是 C3 卷积刚输出的形状。"),
            ((16, 24, 24), "C3 的输入是 S2 的 14×14,不是原图的 28×28。"),
        ),
        default_hint="通道数看 out_channels;高宽用 floor((H + 2P - K) / S) + 1,代入 H=14, P=0, K=5, S=1。",
    ),
    Exercise(
        key="03-2",
        question="C1 层 nn.Conv2d(1, 6, kernel_size=5, padding=2) 有多少个可学习的参数(权重加偏置)?(填一个整数)",
        answer=156,
        tolerance=0.0,  # integer answer: no rounding slack
        solution=(
            "权重形状为 (out_channels, in_channels, K, K) = (6, 1, 5, 5),共 6*1*5*5 = 150 个;\n"
            "每个输出通道一个偏置,共 6 个。合计 150 + 6 = 156。\n"
            "padding 只在输入四周补 0,不增加任何参数。"
        ),
        hints=(
            (150, "忘了偏置(bias):每个输出通道还有一个偏置,共 6 个。"),
            (26, "这只是一个卷积核(5*5 = 25)加一个偏置;C1 有 6 个卷积核。"),
            (25, "这只是一个 5×5 卷积核的权重;C1 有 6 个卷积核,每个还有一个偏置。"),
            (31, "偏置是每个输出通道一个,不是每个卷积核有 6 个:6*25 + 6 = 156。"),
            (300, "padding 不带参数:卷积核仍是 5×5,不会因为填充变成 (5+2)×(5+2)。"),
            (294, "padding 不带参数:卷积核仍是 5×5,不会因为填充变成 (5+2)×(5+2);另外别忘了 6 个偏置。"),
            (4704, "参数个数与输出特征图的大小(28×28)无关:同一个卷积核在所有位置共用(权重共享,weight sharing)。"),
        ),
        default_hint="参数量 = out_channels * (in_channels * K * K) + out_channels,代入 6, 1, 5。",
    ),
    Exercise(
        key="03-3",
        question=(
            "C5 层 nn.Conv2d(16, 120, kernel_size=5) 有多少个可学习的参数(权重加偏置)?(填一个整数)"
        ),
        answer=48120,
        tolerance=0.0,  # integer answer: no rounding slack
        solution=(
            "权重形状为 (120, 16, 5, 5),共 120*16*5*5 = 48,000 个;再加 120 个偏置,合计 48,120。\n"
            "C5 的输入正好是 5×5,所以它等价于一个 400 -> 120 的全连接层(400 = 16*5*5):\n"
            "整个 LeNet-5 的 61,706 个参数里,C5 一层就占了约 78 %。"
        ),
        hints=(
            (48000, "忘了偏置(bias):每个输出通道还有一个偏置,共 120 个。"),
            (3120, "忘了输入通道:每个卷积核的形状是 (16, 5, 5),不是 (5, 5)。"),
            (3000, "忘了输入通道和偏置:权重形状是 (120, 16, 5, 5),再加 120 个偏置。"),
            (48016, "偏置的个数等于输出通道数(120),不是输入通道数(16)。"),
        ),
        default_hint="参数量 = out_channels * (in_channels * K * K) + out_channels,代入 120, 16, 5。",
    ),
    Exercise(
        key="03-4",
        question=(
            "为什么 C1 要写 padding=2?假设去掉它(padding=0),其余层不变。28×28 的输入经过 C1、S2、C3、S4 之后,"
            "S4 输出的高是多少?(填一个整数;再想一想 C5 的 5×5 卷积核还放得下吗)"
        ),
        answer=4,
        tolerance=0.0,  # integer answer: no rounding slack
        solution=(
            "C1:28 - 5 + 1 = 24;S2:24 / 2 = 12;C3:12 - 5 + 1 = 8;S4:8 / 2 = 4。\n"
            "4×4 的输入放不下 C5 的 5×5 卷积核,PyTorch 会报错。\n"
            "原论文的输入是 32×32:32 - 5 + 1 = 28。在 28×28 的 MNIST 上每边补 2 个像素,就回到 32×32,"
            "后面各层的形状(28, 14, 10, 5, 1)都与原论文一致。"
        ),
        hints=(
            (5, "5 是有 padding=2 时 S4 的输出;去掉填充后,C1 的输出先缩小到 24×24。"),
            (3, "汇聚 2×2、步幅 2 是把高宽减半:8 / 2 = 4。"),
            (6, "两次卷积各减去 K - 1 = 4:28 → 24,汇聚 → 12,卷积 → 8,汇聚 → 4。"),
            (8, "8 是 C3 的输出;后面还有 S4 把它减半。"),
            (1, "1 是有填充时 C5 的输出;题目问的是没有填充时 S4 的输出。"),
        ),
        default_hint="一层一层算:卷积 OH = H - K + 1(无填充、步幅 1),2×2 汇聚 OH = H / 2。",
    ),
    Exercise(
        key="03-5",
        question=(
            "完整 MNIST 有 60,000 张训练图像。batch_size=256、训练 5 轮(DataLoader 默认 drop_last=False),"
            "optimizer.step() 一共被调用多少次?(填一个整数)"
        ),
        answer=1175,
        tolerance=0.0,  # integer answer: no rounding slack
        solution=(
            "60,000 / 256 = 234.375:前 234 个小批量各 256 张,最后一个小批量只有 96 张,但它照样算一步。\n"
            "所以每轮 ceil(60000 / 256) = 235 步,5 轮共 235 * 5 = 1,175 步。\n"
            "每步 = 一次前向、一次反向、一次参数更新;len(train_loader) 就是每轮的步数。"
        ),
        hints=(
            (1170, "最后一个不满 256 张的小批量(96 张)也会训练一步:默认 drop_last=False,每轮是 235 步。"),
            (1171.875, "步数是整数:不满的最后一个小批量也算一步,所以每轮要向上取整。"),
            (235, "这只是一轮的步数;一共训练 5 轮。"),
            (234, "这是一轮里满 256 张的小批量个数;最后还有一个 96 张的小批量,而且一共 5 轮。"),
            (300000, "这是 5 轮里看过的图像总数;每个小批量(256 张)才更新一次参数。"),
            (60000, "每个小批量(256 张)更新一次参数,不是每张图像更新一次。"),
        ),
        default_hint="每轮步数 = ceil(图像数 / batch_size),再乘以轮数。",
    ),
    CodeExercise(
        key="03-train-step",
        question=(
            "自己写 train_step(model, X, y, loss_fn, optimizer):在一个小批量 (X, y) 上训练一步,"
            "按 3.6 节的五步:前向传播、计算损失、清零梯度、反向传播、更新参数;返回这一步的损失(一个 Python 的 float)。"
            "check 会在两个很小的模型上连续调用它几次,比较每次更新后的参数和返回的损失。"
        ),
        reference=train_step,
        judge=judge_train_step,
    ),
    Exercise(
        key="03-6",
        question=(
            "验证集(validation set)。load_data(..., valid_size=5000) 从训练集里按类别均衡地留出 5,000 张图作验证集,"
            "返回训练集、验证集和测试集(test set)三个迭代器。要在两种训练方案中挑出更好的一种,并报告它的准确率。"
            "下面哪种做法是对的?(填一个字母)\n"
            "A. 两种方案都在测试集上评估,选测试准确率高的,报告这个测试准确率\n"
            "B. 在验证集上比较两种方案,选验证准确率高的;最后只对选中的方案在测试集上评估一次,报告这个测试准确率\n"
            "C. 比较两种方案在训练集上的准确率,选高的,报告它的测试准确率\n"
            "D. 在验证集上比较两种方案,选验证准确率高的,把这个验证准确率作为最终结果报告"
        ),
        answer="B",
        solution=(
            "B。挑选本身就是一种“训练”:从几个候选里选出在某批图上碰巧表现最好的那个。用来挑选的数据因此变得"
            "偏向被选中的方案,它上面的准确率会偏高。\n"
            "所以挑选用验证集;测试集留到最后,只评估一次,它的准确率才是对没见过的新数据的无偏估计。"
            "在测试集上挑选(A)或报告验证准确率(D),报告的数都偏乐观;训练准确率(C)只说明拟合训练数据的能力,"
            "过拟合最严重的方案往往训练准确率最高。"
        ),
        hints=(
            ("A", "在测试集上挑方案,测试集就参与了选择:选中的是在这批测试图上碰巧表现好的方案,报告的准确率偏高,"
                  "不再是对新数据的估计。挑选要在验证集上做,测试集只在最后用一次。"),
            ("C", "训练准确率只说明方案把训练数据拟合得多好:过拟合的方案训练准确率最高,在新数据上却可能更差。"
                  "比较要在没有用来训练的数据上做,也就是验证集。"),
            ("D", "挑选用验证集是对的,但验证集参与了挑选,它上面的准确率同样偏高。"
                  "最终报告的数要来自只评估一次的测试集。"),
        ),
        default_hint="填 A、B、C、D 中的一个字母,例如 \"A\"。想一想:哪一份数据从来没有参与过任何选择?",
    ),
]
