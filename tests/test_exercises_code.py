"""Tests for the coding exercises: the reference passes, each recognised mistake gets its hint, and broken
code (it raises, returns the wrong type or shape, hangs) is reported as feedback with its line, never raised."""

from __future__ import annotations

import inspect
import linecache

import pytest
import torch
from torch import nn

from cnn_course import code_checks
from cnn_course.exercises import CodeExercise, check, exercises, solution
from cnn_course.models import ResidualBlock

# One per chapter (cnn_course.chapters.validate checks that), in course order.
CODE_KEYS = [key for key, item in exercises().items() if isinstance(item, CodeExercise)]


def wrong(key: str, student: object, *hint_words: str) -> str:
    """Check ``student`` for ``key``, assert it fails with every one of ``hint_words``; return the message."""
    feedback = check(key, student)
    assert not feedback and isinstance(feedback.message, str)
    for word in hint_words:
        assert word in feedback.message, (word, feedback.message)
    return feedback.message


def line_of(function: object, text: str) -> int:
    """Line number, in this file, of the line of ``function``'s source that contains ``text``."""
    lines, first = inspect.getsourcelines(function)
    return first + next(i for i, line in enumerate(lines) if text in line)


# --- what every coding exercise does --------------------------------------------------------------------


@pytest.mark.parametrize("key", CODE_KEYS)
def test_reference_passes_and_solution_is_its_source(key: str) -> None:
    item = exercises()[key]
    feedback = check(key, item.reference)
    assert feedback and "正确" in feedback.message
    namespace = {"torch": torch, "nn": nn}
    exec(solution(key), namespace)  # the printed solution runs in a chapter's namespace and passes too
    assert check(key, namespace[item.reference.__name__])


@pytest.mark.parametrize("key", CODE_KEYS)
def test_unanswered_and_non_code_answers_are_feedback(key: str) -> None:
    assert "还没有作答" in check(key, ...).message
    number = check(key, 42)
    assert not number and "int" in number.message


@pytest.mark.parametrize("key", CODE_KEYS)
def test_check_leaves_the_global_random_state_alone(key: str) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check(key, exercises()[key].reference)
    assert torch.equal(torch.rand(3), expected)


def crashing_function(*args):
    return 1 / 0


class CrashingModule(nn.Module):
    def __init__(self, *args):
        super().__init__()

    def forward(self, x):
        return 1 / 0


@pytest.mark.parametrize("key", CODE_KEYS)
def test_an_error_inside_the_students_code_is_feedback_with_its_line(key: str) -> None:
    module = isinstance(exercises()[key].reference, type)
    student, where = (CrashingModule, CrashingModule.forward) if module else (crashing_function, crashing_function)
    message = wrong(key, student, "ZeroDivisionError", "test_exercises_code.py", f"第 {line_of(where, '1 / 0')} 行",
                    "1 / 0")
    assert "Traceback" not in message


def test_an_error_deep_in_a_helper_names_the_students_innermost_line() -> None:
    def helper(X):
        return X.reshape(7, 7)  # RuntimeError inside torch, called from here

    def corr2d(X, K):
        return helper(X)

    wrong("01-corr2d", corr2d, "RuntimeError", f"第 {line_of(helper, 'reshape(7, 7)')} 行")


def test_a_wrong_signature_is_reported_as_the_call_that_failed() -> None:
    def corr2d(X):
        return X

    wrong("01-corr2d", corr2d, "调用 corr2d(X, K)", "TypeError", "签名")


def test_code_that_hangs_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code_checks, "TIME_LIMIT_S", 0.2)

    def corr2d(X, K):
        while True:
            pass

    wrong("01-corr2d", corr2d, "死循环", f"第 {line_of(corr2d, 'while True')} 行")


def test_exercise_code_run_from_exec_is_the_students() -> None:
    source = "def corr2d(X, K):\n    return 1 / 0\n"
    linecache.cache["<cell>"] = (len(source), None, source.splitlines(keepends=True), "<cell>")  # as IPython does
    namespace = {"torch": torch}
    exec(compile(source, "<cell>", "exec"), namespace)
    wrong("01-corr2d", namespace["corr2d"], "ZeroDivisionError", "<cell> 第 2 行", "return 1 / 0")


# --- 01-corr2d --------------------------------------------------------------------------------------------


def corr2d_loop(X, K, flip=False, extra=1):
    h, w = K.shape
    if flip:
        K = K.flip(0, 1)
    Y = torch.zeros(X.shape[0] - h + extra, X.shape[1] - w + extra)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


def test_corr2d_skeleton_is_not_implemented() -> None:
    def corr2d(X, K):
        """Compute 2-D cross-correlation."""
        ...

    wrong("01-corr2d", corr2d, "还没有实现")


def test_corr2d_flipped_kernel() -> None:
    wrong("01-corr2d", lambda X, K: corr2d_loop(X, K, flip=True), "翻转", "互相关")


def test_corr2d_wrong_output_sizes() -> None:
    wrong("01-corr2d", lambda X, K: corr2d_loop(X, K, extra=0), "+ 1")
    wrong("01-corr2d", lambda X, K: torch.zeros(X.shape), "输出比输入小")

    def transposed(X, K):
        h, w = K.shape
        Y = torch.zeros(X.shape[0] - w + 1, X.shape[1] - h + 1)
        for i in range(min(Y.shape[0], X.shape[0] - h + 1)):
            for j in range(min(Y.shape[1], X.shape[1] - w + 1)):
                Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
        return Y

    wrong("01-corr2d", transposed, "高和宽弄反")


def test_corr2d_wrong_type_values_and_modified_input() -> None:
    wrong("01-corr2d", lambda X, K: corr2d_loop(X, K).tolist(), "torch.Tensor", "list")
    wrong("01-corr2d", lambda X, K: corr2d_loop(X, K) + 1, "数值", "Y[i, j]")

    def in_place(X, K):
        X += 1
        return corr2d_loop(X - 1, K)

    wrong("01-corr2d", in_place, "修改了输入")


def test_corr2d_returning_integers_is_named() -> None:
    def corr2d(X, K):
        h, w = K.shape
        Y = torch.zeros(X.shape[0] - h + 1, X.shape[1] - w + 1, dtype=torch.long)  # truncates what it stores
        for i in range(Y.shape[0]):
            for j in range(Y.shape[1]):
                Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
        return Y

    wrong("01-corr2d", corr2d, "整数类型", "torch.int64", "torch.zeros")
    wrong("01-corr2d", lambda X, K: corr2d_loop(X, K).round().int(), "整数类型", "torch.int32")


# --- 02-pool2d --------------------------------------------------------------------------------------------


def pool_loop(X, pool_size, stride=None, mode="max", *, default_stride=None, ignore_stride=False, swap=False):
    if stride is None:
        stride = pool_size if default_stride is None else default_stride
    if ignore_stride:
        stride = pool_size
    if swap:
        mode = "avg" if mode == "max" else "max"
    out_h = (X.shape[0] - pool_size) // stride + 1
    out_w = (X.shape[1] - pool_size) // stride + 1
    Y = torch.zeros(out_h, out_w)
    for i in range(out_h):
        for j in range(out_w):
            window = X[i * stride:i * stride + pool_size, j * stride:j * stride + pool_size]
            Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y


def test_pool2d_helper_without_a_mistake_passes() -> None:
    assert check("02-pool2d", pool_loop)


def test_pool2d_max_and_avg_swapped() -> None:
    wrong("02-pool2d", lambda X, p, stride=None, mode="max": pool_loop(X, p, stride, mode, swap=True),
          "平均值", "最大值", "mode")


def test_pool2d_stride_ignored() -> None:
    wrong("02-pool2d", lambda X, p, stride=None, mode="max": pool_loop(X, p, stride, mode, ignore_stride=True),
          "没有用参数 stride")


def test_pool2d_default_stride_of_one() -> None:
    wrong("02-pool2d", lambda X, p, stride=None, mode="max": pool_loop(X, p, stride, mode, default_stride=1),
          "步幅应等于窗口大小")


def test_pool2d_sum_instead_of_average() -> None:
    def summed(X, p, stride=None, mode="max"):
        Y = pool_loop(X, p, stride, mode)
        return Y * p * p if mode == "avg" else Y

    def over_pool_size(X, p, stride=None, mode="max"):
        Y = pool_loop(X, p, stride, mode)
        return Y * p if mode == "avg" else Y

    message = wrong("02-pool2d", summed, "元素的和", "pool_size * pool_size = 4", "window.mean()")
    assert "最大值" not in message  # not mistaken for max and avg swapped
    wrong("02-pool2d", over_pool_size, "除以 pool_size = 2", "pool_size * pool_size = 4")


def test_pool2d_wrong_output_size() -> None:
    def too_small(X, p, stride=None, mode="max"):
        return pool_loop(X, p, stride, mode)[:-1]

    wrong("02-pool2d", too_small, "输出的形状", "// stride + 1")


# --- 03-train-step ----------------------------------------------------------------------------------------


def test_train_step_gradients_not_zeroed() -> None:
    def train_step(model, X, y, loss_fn, optimizer):
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    wrong("03-train-step", train_step, "zero_grad", "累加")


def test_train_step_without_step_or_with_zero_grad_too_late() -> None:
    def no_step(model, X, y, loss_fn, optimizer):
        loss = loss_fn(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        return loss.item()

    def zero_after_backward(model, X, y, loss_fn, optimizer):
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()
        return loss.item()

    wrong("03-train-step", no_step, "参数没有更新", "optimizer.step()")
    wrong("03-train-step", zero_after_backward, "参数没有更新", "backward() 之前")


def test_train_step_return_values() -> None:
    def body(model, X, y, loss_fn, optimizer):
        loss = loss_fn(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    def forgot_return(model, X, y, loss_fn, optimizer):
        body(model, X, y, loss_fn, optimizer)

    wrong("03-train-step", forgot_return, "没有返回损失")
    wrong("03-train-step", body, "返回的是张量", "loss.item()")
    wrong("03-train-step", lambda m, X, y, f, o: body(m, X, y, f, o).item() * len(y), "之和")

    def loss_after_update(model, X, y, loss_fn, optimizer):
        body(model, X, y, loss_fn, optimizer)
        with torch.no_grad():
            return loss_fn(model(X), y).item()

    wrong("03-train-step", loss_after_update, "更新参数之后")


def test_train_step_skeleton_and_a_crash_inside_it() -> None:
    def skeleton(model, X, y, loss_fn, optimizer):
        """One step."""
        ...

    def swapped_arguments(model, X, y, loss_fn, optimizer):
        loss = loss_fn(y, model(X))
        return loss.item()

    wrong("03-train-step", skeleton, "还没有实现")
    wrong("03-train-step", swapped_arguments, f"第 {line_of(swapped_arguments, 'loss_fn(y, model(X))')} 行")


# --- 04-dropout -------------------------------------------------------------------------------------------


def test_dropout_survivors_not_scaled() -> None:
    wrong("04-dropout", lambda X, p: (torch.rand_like(X) >= p).float() * X, "没有放大", "(1 - p)")


def test_dropout_p_used_as_keep_probability() -> None:
    wrong("04-dropout", lambda X, p: (torch.rand_like(X) < p).float() * X / (1 - p), "保留的概率")


def test_dropout_other_mistakes() -> None:
    wrong("04-dropout", lambda X, p: (torch.rand_like(X) >= p).float() * X * (1 - p), "乘以了 (1 - p)")
    wrong("04-dropout", lambda X, p: X.clone(), "置 0")

    def fixed_mask(X, p):
        mask = (torch.arange(X.numel()).reshape(X.shape) % 10 >= 10 * p).float()
        return mask * X / (1 - p)

    def in_place(X, p):
        X[torch.rand_like(X) < p] = 0
        return X / (1 - p)

    wrong("04-dropout", fixed_mask, "同样的元素")
    wrong("04-dropout", in_place, "修改了输入")
    wrong("04-dropout", lambda X, p: X.flatten(), "形状")


# --- 04-vgg -----------------------------------------------------------------------------------------------


class GoodVGGBlock(nn.Module):
    """A correct VGG block written another way; options switch on the typical mistakes."""

    def __init__(self, num_convs, in_channels, out_channels, *, padding=1, relu="each", pool="max", pool_stride=2,
                 same_in=False, fixed_convs=None, kernel=3, plain_list=False):
        super().__init__()
        convs = []
        for i in range(fixed_convs or num_convs):
            c_in = in_channels if i == 0 or same_in else out_channels
            convs.append(nn.Conv2d(c_in, out_channels, kernel, padding=padding if kernel == 3 else kernel // 2))
        self.convs = convs if plain_list else nn.ModuleList(convs)
        self.relu, self.pool, self.pool_stride = relu, pool, pool_stride

    def forward(self, x):
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if self.relu == "each" or (self.relu == "between" and i < len(self.convs) - 1):
                x = torch.relu(x)
        if self.pool == "none":
            return x
        pool = nn.functional.max_pool2d if self.pool == "max" else nn.functional.avg_pool2d
        return pool(x, 2, stride=self.pool_stride)


def vgg_block(**options):
    """A class VGGBlock(num_convs, in_channels, out_channels) with ``options`` fixed."""
    return type("VGGBlock", (GoodVGGBlock,), {"__init__": lambda self, n, i, o: GoodVGGBlock.__init__(self, n, i, o,
                                                                                                    **options)})


def test_vgg_block_judged_by_behaviour_not_names() -> None:
    assert check("04-vgg", GoodVGGBlock)


def test_vgg_block_shape_mistakes() -> None:
    wrong("04-vgg", vgg_block(padding=0), "padding=1", "少了 2")
    wrong("04-vgg", vgg_block(pool="none"), "没有减半", "MaxPool2d")
    wrong("04-vgg", vgg_block(pool_stride=1), "步幅是 1", "stride=2")


def test_vgg_block_second_convolution_with_the_wrong_input_channels() -> None:
    message = wrong("04-vgg", vgg_block(same_in=True), "RuntimeError", "out_channels → out_channels")
    assert "VGGBlock(2, 3, 5)" in message


def test_vgg_block_value_mistakes() -> None:
    wrong("04-vgg", vgg_block(relu="none"), "没有 ReLU")
    wrong("04-vgg", vgg_block(relu="between"), "最后一个卷积后面少了 ReLU")
    wrong("04-vgg", vgg_block(pool="avg"), "平均值", "MaxPool2d")


def test_vgg_block_layer_mistakes() -> None:
    wrong("04-vgg", vgg_block(fixed_convs=2), "有 2 个 3×3 卷积", "应有 num_convs = 1")
    wrong("04-vgg", vgg_block(kernel=5), "3×3")
    wrong("04-vgg", vgg_block(plain_list=True), "没有可学习的参数", "nn.Sequential")
    wrong("04-vgg", GoodVGGBlock(1, 1, 1), "类 VGGBlock 本身")


def test_vgg_block_skeleton_is_not_implemented() -> None:
    class VGGBlock(nn.Module):
        def __init__(self, num_convs, in_channels, out_channels):
            super().__init__()
            ...

        def forward(self, x):
            ...

    wrong("04-vgg", VGGBlock, "还没有实现")


# --- 05-inception -----------------------------------------------------------------------------------------


class GoodInception(nn.Module):
    """The chapter's block written another way: different attribute names, layers in a ModuleList."""

    def __init__(self, in_channels, pads=(1, 1, 2), combine="cat", relu=False, order=(0, 1, 2, 3)):
        super().__init__()
        self.paths = nn.ModuleList([
            nn.Conv2d(in_channels, 16, 1),
            nn.Sequential(nn.Conv2d(in_channels, 16, 1), nn.Conv2d(16, 24, 3, padding=pads[0]),
                          nn.Conv2d(24, 24, 3, padding=pads[1])),
            nn.Sequential(nn.Conv2d(in_channels, 16, 1), nn.Conv2d(16, 24, 5, padding=pads[2])),
            nn.Conv2d(in_channels, 24, 1),
        ])
        self.combine, self.relu, self.order = combine, relu, order

    def forward(self, x):
        outs = [self.paths[i](x) for i in self.order]
        if self.relu:
            outs = [torch.relu(o) for o in outs]
        if self.combine == "add":
            return outs[0] + outs[1] + outs[2] + outs[3]
        return torch.cat(outs, dim=1)


def inception(**options):
    """A class Inception(in_channels) with ``options`` fixed."""
    return type("Inception", (GoodInception,), {"__init__": lambda self, c: GoodInception.__init__(self, c, **options)})


def test_inception_judged_by_behaviour_not_names() -> None:
    assert check("05-inception", GoodInception)


def test_inception_branches_added() -> None:
    message = wrong("05-inception", inception(combine="add"), "torch.cat", "不能相加", "RuntimeError")
    assert "第" in message and "行" in message  # the line of the addition


def test_inception_padding_that_changes_the_size() -> None:
    wrong("05-inception", inception(pads=(1, 1, 1)), "padding=2",
          "nn.Conv2d(16, 24, kernel_size=5, padding=1, stride=1)")


def test_inception_other_mistakes() -> None:
    wrong("05-inception", inception(order=(3, 0, 1, 2)), "顺序")
    wrong("05-inception", inception(relu=True), "没有 ReLU")
    wrong("05-inception", GoodInception(3), "类 Inception 本身")

    class Fewer(GoodInception):
        def __init__(self, in_channels):
            super().__init__(in_channels)
            self.paths[3] = nn.Conv2d(in_channels, 24, 1, bias=False)

    wrong("05-inception", Fewer, "个参数")

    class NotAModule:
        def __init__(self, in_channels):
            pass

    wrong("05-inception", NotAModule, "nn.Module")


def test_inception_skeleton_is_not_implemented() -> None:
    class Inception(nn.Module):
        def __init__(self, in_channels):
            super().__init__()
            ...

        def forward(self, x):
            ...

    wrong("05-inception", Inception, "还没有实现")


# --- 06-residual ------------------------------------------------------------------------------------------


class GoodResidual(nn.Module):
    """A correct block with other names; options switch on the typical mistakes."""

    def __init__(self, in_channels, out_channels, stride=1, *, project="when needed", relu="after",
                 projection_first=False, conv_stride=True, projection_stride=True):
        super().__init__()
        needed = in_channels != out_channels or stride != 1
        use = {"when needed": needed, "never": False, "always": True, "channels only": in_channels != out_channels}
        skip_stride = stride if projection_stride else 1
        skip = nn.Conv2d(in_channels, out_channels, 1, stride=skip_stride) if use[project] else nn.Identity()
        if projection_first:
            self.shortcut = skip
        self.a = nn.Conv2d(in_channels, out_channels, 3, padding=1, stride=stride if conv_stride else 1)
        self.b = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        if not projection_first:
            self.shortcut = skip
        self.relu = relu

    def forward(self, x):
        y = self.b(torch.relu(self.a(x)))
        if self.relu == "before":
            return torch.relu(y) + self.shortcut(x)
        return torch.relu(y + self.shortcut(x))


def residual(**options):
    """A class Residual(in_channels, out_channels, stride=1) with ``options`` fixed."""
    def init(self, in_channels, out_channels, stride=1):
        GoodResidual.__init__(self, in_channels, out_channels, stride, **options)

    return type("Residual", (GoodResidual,), {"__init__": init})


def test_residual_judged_by_behaviour_not_names_or_registration_order() -> None:
    assert check("06-residual", GoodResidual)
    assert check("06-residual", residual(projection_first=True))


def test_residual_without_projection() -> None:
    wrong("06-residual", residual(project="never"), "1×1 卷积", "形状不同", "RuntimeError")
    wrong("06-residual", residual(project="channels only"), "步幅改变")


def test_residual_without_the_stride_on_the_first_convolution() -> None:
    message = wrong("06-residual", residual(conv_stride=False), "第一个 3×3 卷积(conv1)没有用步幅 stride",
                    "stride=stride", "RuntimeError")
    assert "加一个 1×1 卷积" not in message  # the projection is there: it is not the mistake
    wrong("06-residual", residual(conv_stride=False, projection_stride=False), "conv1", "1×1 投影也没有用",
          "输出的形状")


def test_residual_relu_before_the_addition() -> None:
    wrong("06-residual", residual(relu="before"), "ReLU 要在相加之后")


def test_residual_projection_when_the_shape_is_unchanged() -> None:
    wrong("06-residual", residual(project="always"), "恒等映射")


def test_residual_matches_the_chapters_block_when_the_shape_is_unchanged() -> None:
    reference = exercises()["06-residual"].reference(16, 16)
    block = ResidualBlock(16)
    with torch.no_grad():
        for mine, theirs in zip(reference.parameters(), block.parameters(), strict=True):
            mine.copy_(theirs)
        x = torch.randn(2, 16, 5, 5)
        assert torch.allclose(reference(x), block(x))


# --- 06-deep: change it and retrain -----------------------------------------------------------------------


class DeepVariant(nn.Module):
    """DeepNet with batch norm where ``norm`` says: "before" or "after" each ReLU, "late" (second half), or none."""

    def __init__(self, channels=8, depth=10, num_classes=4, *, norm="before", convs=11, bn_channels=None):
        super().__init__()
        layers = []
        for i in range(convs):
            layers.append(nn.Conv2d(1 if i == 0 else channels, channels, kernel_size=3, padding=1))
            bn = [nn.BatchNorm2d(bn_channels or channels)] if norm in ("before", "after") or (
                norm == "late" and i > convs // 2) else []
            layers += bn + [nn.ReLU()] if norm != "after" else [nn.ReLU()] + bn
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))

    def forward(self, x):
        return self.net(x)


def deep(**options):
    """A class DeepNet() with ``options`` fixed."""
    return type("DeepNet", (DeepVariant,), {"__init__": lambda self: DeepVariant.__init__(self, **options)})


def test_deep_plain_network_stays_at_chance_and_batch_norm_clears_the_bar_by_a_wide_margin() -> None:
    from cnn_course.exercise_bank import ch06

    torch.manual_seed(ch06.DEEP_SEED)
    _, plain = ch06.short_training(ch06._plain_deep_net())
    torch.manual_seed(ch06.DEEP_SEED)
    _, fixed = ch06.short_training(ch06.DeepNet())
    assert plain < 0.35 < ch06.PASS_ACCURACY < ch06.PASS_ACCURACY + 0.2 < fixed


def test_deep_unchanged_network_is_named_with_its_accuracy() -> None:
    message = wrong("06-deep", deep(norm="none"), "还没有改动", "nn.BatchNorm2d(channels)", "准确率")
    assert "25 %" in message


def test_deep_batch_norm_after_the_relu_also_trains() -> None:
    assert check("06-deep", deep(norm="after"))


def test_deep_other_mistakes() -> None:
    wrong("06-deep", deep(convs=5), "只有 5 个 3×3 卷积", "不要删掉")
    wrong("06-deep", deep(bn_channels=4), "RuntimeError", "nn.BatchNorm2d 的参数")
