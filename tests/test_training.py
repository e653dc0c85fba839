"""Training on tiny synthetic problems: learning, options, bad inputs, interrupts, divergence, evaluation."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import cnn_course
from cnn_course import ChanceLevelWarning, History, ShapeError, TrainingDiverged, load_data, train
from cnn_course.callbacks import Callback
from tests.synthetic import write_synthetic_dataset

QUIET = dict(device="cpu", progress=False, live_plot=False, verbose=False)


class Batches:
    """A list of (X, y) batches with the length protocol and optional class names."""

    def __init__(self, batches: list, classes: list[str] | None = None) -> None:
        self.batches = batches
        if classes is not None:
            self.classes = classes

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)


def blobs(n_batches: int = 8, batch: int = 32, seed: int = 0) -> Batches:
    """Two well-separated Gaussian blobs in 2-D: learnable in a few steps."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        y = torch.randint(0, 2, (batch,), generator=g)
        X = torch.randn(batch, 2, generator=g) * 0.5 + (y[:, None].float() * 2 - 1) * 2
        out.append((X, y))
    return Batches(out, ["a", "b"])


def mlp(outputs: int = 2) -> nn.Module:
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, outputs))


def lenet() -> nn.Module:
    """LeNet-5 for 28x28 images: its first linear layer expects 16 x 5 x 5 = 400 features."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Sigmoid(),
        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 10),
    )


def assert_consistent(history: History) -> None:
    """Every per-epoch list holds one entry per completed epoch."""
    lengths = {len(history.train_loss), len(history.train_acc), len(history.epoch_seconds), len(history.img_per_sec)}
    assert lengths == {history.epochs}
    assert len(history.valid_acc) in (0, history.epochs)


def test_loss_falls_and_history_is_complete() -> None:
    torch.manual_seed(0)
    history = train(mlp(), blobs(), blobs(seed=1), epochs=3, lr=0.1, **QUIET)
    assert isinstance(history, History)
    assert len(history.step_losses) == 24 and history.steps_per_epoch == 8 and history.epochs_planned == 3
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.valid_acc[-1] > 0.95 and history.epochs == 3
    assert_consistent(history)
    assert all(r > 0 for r in history.img_per_sec)
    assert history.device == "cpu" and history.precision == "fp32"
    assert history.completed and not history.interrupted and history.unfinished_epoch is None
    assert "3 epochs" in history.summary() and "valid acc" in history.summary()
    json.dumps(history.to_dict(), allow_nan=False)


def test_epoch_lines_go_to_stdout_and_nothing_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    train(mlp(), blobs(), None, epochs=2, lr=0.1, device="cpu")  # progress and live plot left on
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].startswith("第 1/2 轮：训练损失")
    assert len(captured.out.splitlines()) == 2
    assert captured.err == ""  # no terminal and no notebook: no progress bar anywhere


def test_cnn_learns_synthetic_images(tmp_path: Path) -> None:
    write_synthetic_dataset(tmp_path, "MNIST", train_per_class=60, test_per_class=20)
    train_iter, test_iter = load_data("MNIST", 64, root=tmp_path, device="cpu")
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(), nn.Linear(8 * 7 * 7, 10),
    )
    before = cnn_course.evaluate(model, test_iter)
    history = train(
        model, train_iter, test_iter, epochs=4, scheduler="cosine", channels_last=True,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9), **QUIET,
    )
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.final_valid_acc > max(0.5, before + 0.3)


def test_nan_loss_stops_with_advice() -> None:
    torch.manual_seed(0)
    with pytest.raises(TrainingDiverged) as info:
        train(mlp(), blobs(n_batches=20), blobs(seed=1), epochs=5, lr=1e6, **QUIET)
    message = str(info.value)
    assert "发散" in message and "lr=100000" in message and "clip_grad_norm=" in message
    history = info.value.history
    assert history.diverged and history.unfinished_epoch == 1 and history.epochs == 0
    assert not math.isfinite(history.step_losses[-1])
    assert_consistent(history)
    assert "diverged in epoch 1" in history.summary()
    json.dumps(history.to_dict(), allow_nan=False)  # the NaN loss becomes null


def test_chance_level_warns_with_remedies() -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    noise = Batches([(torch.randn(64, 2, generator=g), torch.randint(0, 10, (64,), generator=g)) for _ in range(4)])
    model = nn.Sequential(nn.Linear(2, 10))
    nn.init.zeros_(model[0].weight)
    nn.init.zeros_(model[0].bias)
    with pytest.warns(ChanceLevelWarning, match=r"随机水平（chance level，ln 10 = 2.303）.*种子.*学习率") as record:
        history = train(model, noise, None, epochs=1, lr=1e-6, **QUIET)
    message = str(record[0].message)
    assert "scheduler='onecycle'" in message and "clip_grad_norm=" in message
    assert "用在别的网络上可能让训练发散" in message  # He init is offered with its caveat, not prescribed
    assert history.notes and "随机水平" in history.notes[0]
    assert record[0].filename == "cnn_course.train"  # not the notebook cell's temporary file path


def test_no_chance_warning_when_learning(recwarn: pytest.WarningsRecorder) -> None:
    torch.manual_seed(0)
    train(mlp(), blobs(), None, epochs=1, lr=0.1, **QUIET)
    assert not [w for w in recwarn if issubclass(w.category, ChanceLevelWarning)]


class Interrupting(Batches):
    """Raises KeyboardInterrupt (as Ctrl-C or the stop button would) when batch number ``stop_at`` is due.

    Batches are counted over all passes, so ``stop_at`` can fall in any epoch.
    """

    def __init__(self, batches, stop_at: int) -> None:
        super().__init__(batches)
        self.stop_at = stop_at
        self.served = 0

    def __iter__(self):
        for batch in self.batches:
            if self.served == self.stop_at:
                raise KeyboardInterrupt
            self.served += 1
            yield batch


def test_interrupt_during_training_marks_the_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    model = mlp()
    before = [p.detach().clone() for p in model.parameters()]
    data = Interrupting(blobs(n_batches=10).batches, stop_at=14)  # epoch 1 complete, 4 steps into epoch 2
    history = train(model, data, blobs(seed=1), epochs=3, lr=0.1, **QUIET)
    assert history.interrupted and history.epochs == 1 and history.unfinished_epoch == 2
    assert len(history.step_losses) == 14 and len(history.valid_acc) == 1
    assert_consistent(history)
    assert not history.completed and "interrupted in epoch 2" in history.summary()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert "训练在第 2 轮训练时被中断" in capsys.readouterr().out


def test_interrupt_during_evaluation_keeps_history_consistent(capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    model = mlp()
    test_iter = Interrupting(blobs(n_batches=3, seed=1).batches, stop_at=4)  # the 2nd evaluation is cut
    history = train(model, blobs(), test_iter, epochs=3, lr=0.1, **QUIET)
    assert history.interrupted and history.epochs == 1 and history.unfinished_epoch == 2
    assert len(history.step_losses) == 16  # epoch 2 trained fully before its evaluation was stopped
    assert len(history.valid_acc) == 1
    assert_consistent(history)
    assert model.training  # evaluation put it back in training mode
    assert "训练在第 2 轮评估时被中断" in capsys.readouterr().out


def test_interrupt_keeps_losses_not_yet_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # On a GPU losses are read every 25 steps; make the CPU do the same to provoke that path.
    monkeypatch.setitem(cnn_course.training.LOSS_READ_INTERVAL, "cpu", 25)
    torch.manual_seed(0)
    history = train(mlp(), Interrupting(blobs(n_batches=10).batches, stop_at=6), None, epochs=1, lr=0.1, **QUIET)
    assert history.interrupted and len(history.step_losses) == 6
    assert all(math.isfinite(v) for v in history.step_losses)


def test_callbacks_see_every_stage_even_after_interrupt() -> None:
    seen: list[str] = []

    class Recorder(Callback):
        def on_train_begin(self, history: History) -> None:
            seen.append("begin")

        def on_epoch_end(self, history: History) -> None:
            seen.append(f"epoch {history.epochs}")

        def on_train_end(self, history: History) -> None:
            seen.append("end")

    data = Interrupting(blobs(n_batches=4).batches, stop_at=6)
    train(mlp(), data, None, epochs=3, lr=0.1, callbacks=[Recorder()], **QUIET)
    assert seen == ["begin", "epoch 1", "end"]


class Unrepeatable(Batches):
    """Yields its batches on the first pass only, like a stream that was used up."""

    def __init__(self, batches) -> None:
        super().__init__(batches)
        self.passes = 0

    def __len__(self) -> int:  # claims a length, as a careless wrapper might
        return len(self.batches)

    def __iter__(self):
        self.passes += 1
        return iter(self.batches if self.passes == 1 else [])


def test_empty_and_exhausted_iterators_are_errors() -> None:
    with pytest.raises(ValueError, match="train_iter 是空的"):
        train(mlp(), Batches([]), None, epochs=1, lr=0.1, **QUIET)
    with pytest.raises(ValueError, match="train_iter 在第 1 轮没有给出任何小批量"):
        train(mlp(), (b for b in []), None, epochs=1, lr=0.1, **QUIET)
    with pytest.raises(ValueError, match="只能读一遍的迭代器.*这里要读 2 遍"):
        train(mlp(), (b for b in blobs().batches), None, epochs=2, lr=0.1, **QUIET)
    with pytest.raises(ValueError, match="valid_iter 是只能读一遍的迭代器"):
        train(mlp(), blobs(), iter(blobs().batches), epochs=2, lr=0.1, **QUIET)
    with pytest.raises(ValueError, match="在第 2 轮没有给出任何小批量.*只能读一遍"):
        train(mlp(), Unrepeatable(blobs().batches), None, epochs=2, lr=0.1, **QUIET)


def test_one_pass_over_a_generator_is_fine() -> None:
    torch.manual_seed(0)
    history = train(mlp(), (b for b in blobs().batches), None, epochs=1, lr=0.1, **QUIET)
    assert history.epochs == 1 and history.steps_per_epoch == 8


def test_batches_without_labels_are_explained() -> None:
    images_only = Batches([X for X, _ in blobs().batches])
    with pytest.raises(ValueError, match=r"必须是一对 \(X, y\).*形状为 \(32, 2\).*没有标签"):
        train(mlp(), images_only, None, epochs=1, lr=0.1, **QUIET)


def test_too_few_outputs_for_the_labels() -> None:
    data = Batches([(torch.randn(8, 2), torch.arange(8) % 5)])
    with pytest.raises(ValueError, match=r"给出 2 个分数.*标签最大到 4.*nn.Linear\(\.\.\., 5\)"):
        train(mlp(outputs=2), data, None, epochs=1, lr=0.1, **QUIET)


def test_model_built_for_another_image_size_names_the_layer() -> None:
    data = Batches([(torch.randn(4, 1, 32, 32), torch.arange(4))])
    with pytest.raises(ShapeError, match=r"train_iter 的图像（每张的形状是 \(1, 32, 32\)）.*层 '7'.*in_features=400"):
        train(lenet(), data, None, epochs=1, lr=0.1, **QUIET)
    with pytest.raises(ShapeError, match=r"data_iter.*in_features=400"):
        cnn_course.evaluate(lenet(), data)


class RecordingSGD(torch.optim.SGD):
    """Plain SGD that records the norm of the whole gradient it is asked to apply."""

    def __init__(self, params, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self.norms: list[float] = []

    def step(self, closure=None):
        grads = [p.grad for group in self.param_groups for p in group["params"] if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))
        return super().step(closure)


def test_clip_grad_norm_bounds_the_gradient() -> None:
    norms = {}
    for clip in (None, 0.05):
        torch.manual_seed(0)
        model = mlp()
        optimizer = RecordingSGD(model.parameters(), lr=0.1)
        train(model, blobs(), None, epochs=1, optimizer=optimizer, clip_grad_norm=clip, **QUIET)
        norms[clip] = optimizer.norms
    assert max(norms[None]) > 0.05  # without clipping the gradient is longer than the bound
    assert max(norms[0.05]) <= 0.05 * (1 + 1e-4)


@pytest.mark.skipif(not cnn_course.bf16_supported("cpu"),
                    reason="this CPU has no native bfloat16 (AVX512-BF16 / AMX), so train falls back to fp32")
def test_bf16_on_cpu_computes_in_bf16_and_learns() -> None:
    torch.manual_seed(0)
    model = mlp()
    dtypes: set[torch.dtype] = set()
    model[0].register_forward_hook(lambda m, i, out: dtypes.add(out.dtype))
    history = train(model, blobs(), blobs(seed=1), epochs=3, lr=0.1, precision="bf16", **QUIET)
    assert history.precision == "bf16" and torch.bfloat16 in dtypes
    assert model[0].weight.dtype == torch.float32  # the weights stay fp32: mixed precision
    assert history.final_valid_acc > 0.95


def test_fp16_steps_go_through_the_gradient_scaler(monkeypatch: pytest.MonkeyPatch) -> None:
    # A CPU falls back to fp32 for precision='fp16'; force fp16 to run the scaler's branch of the loop here.
    from cnn_course import training

    steps: list[int] = []
    real = torch.amp.GradScaler

    class CountingScaler(real):
        def step(self, optimizer: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> Any:
            steps.append(1)
            return super().step(optimizer, *args, **kwargs)

    monkeypatch.setattr(training, "resolve_precision", lambda precision, device: ("fp16", None))
    monkeypatch.setattr(torch.amp, "GradScaler", CountingScaler)
    torch.manual_seed(0)
    history = train(mlp(), blobs(), blobs(seed=1), epochs=3, lr=0.1, clip_grad_norm=1.0, **QUIET)
    assert history.precision == "fp16" and len(steps) == 24
    assert history.train_loss[-1] < 0.5 * history.train_loss[0] and history.final_valid_acc > 0.95


def test_precision_falls_back_with_a_notice(capsys: pytest.CaptureFixture[str]) -> None:
    history = train(mlp(), blobs(1), None, epochs=1, lr=0.1, precision="fp16", **QUIET)
    assert history.precision == "fp32"
    assert "这次用 fp32 训练" in capsys.readouterr().out and history.notes


def test_auto_precision_matches_detection() -> None:
    history = train(mlp(), blobs(1), None, epochs=1, lr=0.1, precision="auto", **QUIET)
    assert history.precision == ("bf16" if cnn_course.bf16_supported("cpu") else "fp32")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(epochs=0, lr=0.1), "epochs 必须是至少为 1 的整数，传入的是 0"),
        (dict(epochs=1.5, lr=0.1), r"epochs 必须是至少为 1 的整数，传入的是 1.5（不是整数）"),
        (dict(epochs=1, lr=-1), "lr 必须是正数，例如 0.1，传入的是 -1"),
        (dict(epochs=1, lr=float("nan")), "lr 必须是正数"),
        (dict(epochs=1), "请给出 lr"),
        (dict(epochs=1, lr=0.1, optimizer="adam"), "optimizer 必须是 torch.optim.Optimizer"),
        (dict(epochs=1, lr=0.1, device="gpu0"), "device='gpu0'"),
        (dict(epochs=1, lr=0.1, scheduler="step"), "不认识 scheduler='step'"),
        (dict(epochs=1, lr=0.1, clip_grad_norm=0), "clip_grad_norm 必须是 None（不裁剪）或一个正数"),
        (dict(epochs=1, lr=0.1, clip_grad_norm=True), "clip_grad_norm"),
        (dict(epochs=1, lr=0.1, precision="half"),
         "precision 必须是 'fp32'、'bf16'、'fp16'、'auto' 之一，传入的是 'half'"),
        (dict(epochs=1, lr=0.1, channels_last="yes"), "channels_last 必须是 True 或 False"),
        (dict(epochs=1, lr=0.1, callbacks=[print]), "callbacks 里只能放 cnn_course.callbacks.Callback 对象"),
        (dict(epochs=1, lr=0.1, callbacks=Callback()), "callbacks 必须是由 cnn_course.callbacks.Callback 对象组成的列表"),
        (dict(epochs=1, lr=0.1, loss_fn="mse"), "loss_fn 必须是一个函数"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        train(mlp(), blobs(n_batches=1), None, progress=False, verbose=False, **kwargs)


def test_scheduler_needs_a_known_length() -> None:
    with pytest.raises(ValueError, match="scheduler='onecycle' 需要事先知道总步数"):
        train(mlp(), (b for b in blobs().batches), None, epochs=1, lr=0.1, scheduler="onecycle", **QUIET)


def test_optimizer_of_another_model_rejected() -> None:
    old = mlp()
    optimizer = torch.optim.SGD(old.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="更新的是另一个模型的参数"):
        train(mlp(), blobs(1), None, epochs=1, optimizer=optimizer, **QUIET)
    with pytest.raises(ValueError, match="只能给一个，不能两个都给"):
        train(old, blobs(1), None, epochs=1, lr=0.1, optimizer=optimizer, **QUIET)


def test_bad_model_and_data() -> None:
    with pytest.raises(ValueError, match="model 必须是"):
        train("net", blobs(1), None, epochs=1, lr=0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="没有可训练的参数"):
        train(nn.ReLU(), blobs(1), None, epochs=1, lr=0.1)
    with pytest.raises(ValueError, match="train_iter 必须能逐个给出"):
        train(mlp(), 42, None, epochs=1, lr=0.1)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- bad input, answered before any step


def images(n_batches: int = 3, batch: int = 8, scale: float = 1.0, dtype: torch.dtype = torch.float32) -> Batches:
    """Batches of random 1x28x28 "images" with labels 0-9."""
    g = torch.Generator().manual_seed(0)
    return Batches([((torch.rand(batch, 1, 28, 28, generator=g) * scale).to(dtype),
                     torch.randint(0, 10, (batch,), generator=g)) for _ in range(n_batches)])


def flat_linear() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))


def untouched(model: nn.Module) -> Callable[[], bool]:
    """A check that ``model``'s parameters are still the ones it has now (no update was made)."""
    before = [p.detach().clone() for p in model.parameters()]
    return lambda: all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


class TwoOutputs(nn.Module):
    """Returns (scores, extra), as a network with an auxiliary classifier might."""

    def __init__(self) -> None:
        super().__init__()
        self.body = flat_linear()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.body(x), x


@pytest.mark.parametrize(
    "model, match",
    [
        (nn.Sequential(nn.Conv2d(1, 10, 28)),
         r"model 返回的形状是 \(8, 10, 1, 1\).*\(8, classes\).*在模型末尾加上 nn.Flatten\(\)"),
        (nn.Sequential(nn.Conv2d(1, 10, 5)),
         r"model 返回的形状是 \(8, 10, 24, 24\).*在最后一个 nn.Linear 层之前加上 nn.Flatten\(\)"),
        (TwoOutputs(), r"model 返回的是一个 tuple，不是张量.*只返回最后的分数"),
        (nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.Flatten(0)), r"形状是 \(80,\).*对每个类别给出一个分数"),
    ],
)
def test_model_output_that_is_not_n_by_classes(model: nn.Module, match: str) -> None:
    same = untouched(model)
    with pytest.raises(ValueError, match=match):
        train(model, images(), None, epochs=1, lr=0.1, **QUIET)
    assert same()
    with pytest.raises(ValueError, match=match.replace("train_iter", "data_iter")):
        cnn_course.evaluate(model, images())


@pytest.mark.parametrize(
    "relabel, match",
    [
        (lambda y: y[:, None], r"train_iter 的第 1 个小批量（第 1 轮）的标签形状是 \(8, 1\).*y.flatten\(\)"),
        (lambda y: y.float(), r"train_iter 的第 1 个小批量.*的标签是 torch.float32.*类别编号.*y.long\(\)"),
        (lambda y: nn.functional.one_hot(y, 10), r"标签形状是 \(8, 10\).*独热向量？请传 y.argmax\(dim=1\)"),
        (lambda y: nn.functional.one_hot(y, 10).float(), r"标签是 torch.float32.*独热向量？请传 y.argmax"),
    ],
)
def test_labels_of_the_wrong_shape_or_dtype(relabel: Callable[[torch.Tensor], torch.Tensor], match: str) -> None:
    data = Batches([(X, relabel(y)) for X, y in images().batches])
    model = flat_linear()
    same = untouched(model)
    with pytest.raises(ValueError, match=match):
        train(model, data, None, epochs=1, lr=0.1, **QUIET)
    assert same()


def test_integer_labels_of_any_width_are_class_numbers() -> None:
    torch.manual_seed(0)
    data = Batches([(X, y.to(torch.int32)) for X, y in blobs().batches])
    assert train(mlp(), data, None, epochs=1, lr=0.1, **QUIET).epochs == 1
    assert cnn_course.predict(mlp(), data)[1].dtype == torch.int64


@pytest.mark.parametrize(
    "data, match",
    [
        (images(scale=255, dtype=torch.uint8), r"train_iter 的第 1 个小批量（第 1 轮）的图像是 torch.uint8"
                                               r".*请像 cnn_course.load_data 那样把它们标准化.*normalize"),
        (images(scale=255), r"train_iter 的第 1 个小批量（第 1 轮）的图像数值达到 25\d\.\d+：看起来是 "
                            r"0-255 的原始像素值，而不是标准化后的值.*像 cnn_course.load_data 那样"),
    ],
)
def test_images_that_are_not_normalised(data: Batches, match: str) -> None:
    model = flat_linear()
    same = untouched(model)
    with pytest.raises(ValueError, match=match):
        train(model, data, None, epochs=1, lr=0.1, **QUIET)
    assert same()
    with pytest.raises(ValueError, match=match.replace("train_iter 的第 1 个小批量（第 1 轮）", "data_iter 的第 1 个小批量")):
        cnn_course.predict(model, data)


def test_empty_batch_is_named_and_not_blamed_on_the_learning_rate() -> None:
    empty = (torch.zeros(0, 1, 28, 28), torch.zeros(0, dtype=torch.long))
    model = flat_linear()
    same = untouched(model)
    with pytest.raises(ValueError, match=r"train_iter 的第 1 个小批量（第 1 轮）里没有图像"):
        train(model, Batches([empty] + images().batches), None, epochs=1, lr=0.1, **QUIET)
    assert same()
    with pytest.raises(ValueError, match=r"train_iter 的第 4 个小批量（第 1 轮）里没有图像") as info:
        train(model, Batches(images().batches + [empty]), None, epochs=1, lr=0.1, **QUIET)
    assert "学习率" not in str(info.value)
    with pytest.raises(ValueError, match="data_iter 的第 2 个小批量里没有图像"):
        cnn_course.evaluate(model, Batches(images(1).batches + [empty]))


def test_nan_in_the_first_batch_stops_before_any_step() -> None:
    data = images()
    data.batches[0][0][3, 0, 5, 5] = float("nan")
    model = flat_linear()
    same = untouched(model)
    with pytest.raises(ValueError, match=r"train_iter 的第 1 个小批量（第 1 轮）的 6,272 个像素值里有 1 个是 NaN 或无穷大.*"
                                         r"在任何训练步之前发现的，所以不是学习率的问题"):
        train(model, data, None, epochs=1, lr=0.1, **QUIET)
    assert same()


def test_nan_in_a_later_batch_names_the_batch_not_the_learning_rate() -> None:
    data = images(n_batches=5)
    data.batches[3][0][0, 0, 0, 0] = float("inf")
    with pytest.raises(TrainingDiverged, match=r"train_iter 第 1 轮的第 4 个小批量里有 NaN 或无穷大的像素值"
                                               r".*坏的是数据，不是学习率") as info:
        train(flat_linear(), data, None, epochs=1, lr=0.01, **QUIET)
    assert "lr=" not in str(info.value)
    history = info.value.history
    assert history.diverged and history.unfinished_epoch == 1 and len(history.step_losses) == 4


@pytest.mark.parametrize(
    "loss_fn, match",
    [
        (lambda y_hat, y: 2.3, r"loss_fn 必须返回一个由模型输出计算出来的标量张量.*nn.CrossEntropyLoss\(\)；它返回的是一个 float"),
        (lambda y_hat, y: nn.functional.cross_entropy(y_hat, y).item(), r"它返回的是一个 float（loss_fn 里不要用 .item\(\)"),
        (nn.CrossEntropyLoss(reduction="none"), r"它返回的是形状为 \(32,\) 的张量.*\.mean\(\)"),
        (lambda y_hat, y: nn.functional.cross_entropy(y_hat.detach(), y), r"和模型的输出没有连在一起"),
    ],
)
def test_loss_fn_that_does_not_return_a_scalar_tensor(loss_fn: Callable, match: str) -> None:
    model = mlp()
    same = untouched(model)
    with pytest.raises(ValueError, match=match):
        train(model, blobs(), None, epochs=1, lr=0.1, loss_fn=loss_fn, **QUIET)
    assert same()


def test_non_finite_first_loss_is_not_blamed_on_the_learning_rate() -> None:
    model = mlp()
    with torch.no_grad():
        model[2].weight.fill_(float("nan"))  # as after a run that diverged
    with pytest.raises(ValueError, match=r"第一个小批量的损失在任何更新之前就是 nan，所以原因不在学习率"
                                         r".*请重新创建模型"):
        train(model, blobs(), None, epochs=1, lr=0.1, **QUIET)


def test_the_costly_checks_run_on_the_first_batch_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from cnn_course import batches, training

    calls: dict[str, int] = {"values": 0, "labels": 0, "loss": 0}

    def counting(name: str, check: Callable) -> Callable:
        def wrapped(*args: Any) -> Any:
            calls[name] += 1
            return check(*args)
        return wrapped

    monkeypatch.setattr(batches, "_check_values", counting("values", batches._check_values))
    monkeypatch.setattr(training, "check_labels", counting("labels", training.check_labels))
    monkeypatch.setattr(training, "check_loss", counting("loss", training.check_loss))
    torch.manual_seed(0)
    train(mlp(), blobs(), None, epochs=3, lr=0.1, **QUIET)
    assert calls == {"values": 1, "labels": 1, "loss": 1}


def test_history_refuses_inconsistent_lists() -> None:
    with pytest.raises(ValueError, match="每个按轮记录的列表都必须是每个完成的轮一项"):
        History(train_loss=[1.0, 0.5], train_acc=[0.5], epoch_seconds=[1.0], img_per_sec=[10.0])


def test_history_survives_a_json_round_trip() -> None:
    history = History(device="cpu", precision="bf16", epochs_planned=2, steps_per_epoch=2,
                      step_losses=[2.3, 1.5, float("nan")], train_loss=[1.9], train_acc=[0.4], valid_acc=[0.5],
                      epoch_seconds=[3.0], img_per_sec=[100.0], unfinished_epoch=2, diverged=True, notes=["n"])
    back = History.from_dict(json.loads(json.dumps(history.to_dict(), allow_nan=False)))
    assert back.step_losses[:2] == [2.3, 1.5] and math.isnan(back.step_losses[2])
    assert back.summary() == history.summary() and back.precision == "bf16" and back.notes == ["n"]


def test_history_from_dict_names_an_unknown_field() -> None:
    with pytest.raises(ValueError, match="'accuracy'"):
        History.from_dict({"accuracy": [0.9]})
    with pytest.raises(ValueError, match="每个按轮记录的列表都必须是每个完成的轮一项"):
        History.from_dict({"train_loss": [1.0], "train_acc": []})


def linear_classifier() -> tuple[nn.Module, Batches]:
    """A fixed 2-class model and 4 points, 3 of them classified correctly."""
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))
        model.bias.zero_()
    X = torch.tensor([[-1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [-2.0, 0.0]])
    y = torch.tensor([0, 1, 0, 0])
    return model, Batches([(X[:2], y[:2]), (X[2:], y[2:])], ["a", "b"])


def test_evaluate_predict_confusion() -> None:
    model, data = linear_classifier()
    assert cnn_course.evaluate(model, data) == pytest.approx(0.75)
    assert model.training
    pred, true = cnn_course.predict(model, data)
    assert pred.tolist() == [0, 1, 1, 0] and true.tolist() == [0, 1, 0, 0]
    assert cnn_course.confusion_matrix(model, data).tolist() == [[2, 1], [0, 1]]


def test_evaluation_on_empty_iterators() -> None:
    model, _ = linear_classifier()
    with pytest.raises(ValueError, match="data_iter 是空的"):
        cnn_course.evaluate(model, [])
    with pytest.raises(ValueError, match="data_iter 没有给出任何小批量"):
        cnn_course.predict(model, iter([]))


def test_confusion_matrix_with_wrong_class_count() -> None:
    model, data = linear_classifier()
    with pytest.raises(ValueError, match=r"标签最大到 1，但 num_classes=1 只允许 0 \.\. 0"):
        cnn_course.confusion_matrix(model, data, num_classes=1)
    wide = nn.Linear(2, 3)  # predicts a class the data does not have
    with torch.no_grad():
        wide.weight.zero_()
        wide.bias.copy_(torch.tensor([0.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match=r"预测的类别最大到 2，但 len\(data_iter.classes\) = 2"):
        cnn_course.confusion_matrix(wide, data)
    with pytest.raises(ValueError, match="num_classes 必须是至少为 1 的整数，传入的是 0"):
        cnn_course.confusion_matrix(model, data, num_classes=0)


def test_set_seed_device_and_precision_detection() -> None:
    cnn_course.set_seed(5)
    a = torch.rand(3)
    cnn_course.set_seed(5)
    assert torch.equal(a, torch.rand(3))
    with pytest.raises(ValueError, match="seed"):
        cnn_course.set_seed(-1)
    assert cnn_course.get_device().type in {"cpu", "cuda", "mps"}
    assert isinstance(cnn_course.bf16_supported("cpu"), bool)
    with pytest.raises(ValueError, match="device='tpu'"):
        cnn_course.bf16_supported("tpu")
