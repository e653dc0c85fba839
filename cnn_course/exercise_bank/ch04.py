"""Self-check exercises for chapter 04 (AlexNet): output sizes at 224, the flattened size, parameters, dropout."""

from __future__ import annotations

from ..exercises import Exercise, register

register(
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
        tolerance=0.0,  # the default relative tolerance (1e-3) would accept 26,214,400 (bias forgotten)
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
)
