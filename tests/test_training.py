"""Training on tiny synthetic problems: learning, divergence, chance level, interruption, evaluation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import cnn_course  # noqa: E402
from cnn_course import ChanceLevelWarning, History, TrainingDiverged, train  # noqa: E402
from cnn_course.data import load_data, write_synthetic_dataset  # noqa: E402


class Batches:
    """A list of (X, y) batches with the length protocol and optional class names."""

    def __init__(self, batches: list[tuple[torch.Tensor, torch.Tensor]], classes: list[str] | None = None) -> None:
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


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))


def test_loss_falls_and_history_is_complete() -> None:
    torch.manual_seed(0)
    data = blobs()
    history = train(mlp(), data, blobs(seed=1), epochs=3, lr=0.1, device="cpu", progress=False, verbose=False)
    assert isinstance(history, History)
    assert len(history.step_losses) == 24 and history.steps_per_epoch == 8
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.test_acc[-1] > 0.95 and len(history.train_acc) == 3
    assert len(history.epoch_seconds) == 3 and all(r > 0 for r in history.img_per_sec)
    assert history.device == "cpu" and not history.interrupted
    assert "3 epochs" in history.summary() and "test acc" in history.summary()
    json.dumps(history.to_dict())


def test_cnn_learns_synthetic_images(tmp_path: Path) -> None:
    write_synthetic_dataset(tmp_path, "MNIST", train_per_class=60, test_per_class=20)
    train_iter, test_iter = load_data("MNIST", 64, root=tmp_path, device="cpu")
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(), nn.Linear(8 * 7 * 7, 10),
    )
    before = cnn_course.evaluate(model, test_iter)
    history = train(
        model, train_iter, test_iter, epochs=4, device="cpu", progress=False, verbose=False,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9), scheduler="cosine",
    )
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.final_test_acc > max(0.5, before + 0.3)


def test_nan_loss_stops_with_advice() -> None:
    torch.manual_seed(0)
    data = blobs(n_batches=20)
    with pytest.raises(TrainingDiverged) as info:
        train(mlp(), data, None, epochs=5, lr=1e6, device="cpu", progress=False, verbose=False)
    message = str(info.value)
    assert "diverged" in message and "try lr=" in message
    assert info.value.history.step_losses and not math.isfinite(info.value.history.step_losses[-1])


def test_chance_level_warns() -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    noise = Batches([(torch.randn(64, 2, generator=g), torch.randint(0, 10, (64,), generator=g)) for _ in range(4)])
    model = nn.Sequential(nn.Linear(2, 10))
    nn.init.zeros_(model[0].weight)
    nn.init.zeros_(model[0].bias)
    with pytest.warns(ChanceLevelWarning, match=r"chance level \(ln 10 = 2.303\).*seed.*learning rate"):
        history = train(model, noise, None, epochs=1, lr=1e-6, device="cpu", progress=False, verbose=False)
    assert history.notes and "chance level" in history.notes[0]


def test_no_chance_warning_when_learning(recwarn: pytest.WarningsRecorder) -> None:
    torch.manual_seed(0)
    train(mlp(), blobs(), None, epochs=1, lr=0.1, device="cpu", progress=False, verbose=False)
    assert not [w for w in recwarn if issubclass(w.category, ChanceLevelWarning)]


class Interrupting(Batches):
    """Raises KeyboardInterrupt (as Ctrl-C or the notebook's stop button would) after some batches."""

    def __init__(self, batches, stop_after: int) -> None:
        super().__init__(batches)
        self.stop_after = stop_after

    def __iter__(self):
        for i, batch in enumerate(self.batches):
            if i == self.stop_after:
                raise KeyboardInterrupt
            yield batch


def test_interrupt_returns_history_and_keeps_model(capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    model = mlp()
    before = [p.detach().clone() for p in model.parameters()]
    data = Interrupting(blobs(n_batches=10).batches, stop_after=6)
    history = train(model, data, None, epochs=3, lr=0.1, device="cpu", progress=False, verbose=False)
    assert history.interrupted and history.epochs == 0
    assert len(history.step_losses) == 6
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert "interrupted" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(epochs=0, lr=0.1), "epochs must be a positive int"),
        (dict(epochs=1.5, lr=0.1), "epochs"),
        (dict(epochs=1, lr=-1), "lr must be a positive number"),
        (dict(epochs=1, lr=float("nan")), "lr must be a positive number"),
        (dict(epochs=1), "give lr"),
        (dict(epochs=1, lr=0.1, optimizer="adam"), "optimizer must be a torch.optim.Optimizer"),
        (dict(epochs=1, lr=0.1, device="gpu0"), "device='gpu0'"),
        (dict(epochs=1, lr=0.1, scheduler="step"), "scheduler='step' is unknown"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        train(mlp(), blobs(n_batches=1), None, progress=False, verbose=False, **kwargs)


def test_lr_and_optimizer_together_rejected() -> None:
    model = mlp()
    with pytest.raises(ValueError, match="not both"):
        train(model, blobs(1), None, epochs=1, lr=0.1, optimizer=torch.optim.SGD(model.parameters(), lr=0.1))


def test_bad_model_and_data() -> None:
    with pytest.raises(ValueError, match="model must be"):
        train("net", blobs(1), None, epochs=1, lr=0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="train_iter is empty"):
        train(mlp(), Batches([]), None, epochs=1, lr=0.1)
    with pytest.raises(ValueError, match="train_iter must yield"):
        train(mlp(), 42, None, epochs=1, lr=0.1)  # type: ignore[arg-type]


def test_evaluate_predict_confusion() -> None:
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))
        model.bias.zero_()
    X = torch.tensor([[-1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [-2.0, 0.0]])
    y = torch.tensor([0, 1, 0, 0])
    data = Batches([(X[:2], y[:2]), (X[2:], y[2:])], ["a", "b"])
    assert cnn_course.evaluate(model, data) == pytest.approx(0.75)
    assert model.training
    pred, true = cnn_course.predict(model, data)
    assert pred.tolist() == [0, 1, 1, 0] and true.tolist() == y.tolist()
    assert cnn_course.confusion_matrix(model, data).tolist() == [[2, 1], [0, 1]]


def test_record_result_prints_and_saves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    target = tmp_path / "results.jsonl"
    monkeypatch.setenv("CNN_COURSE_RESULTS", str(target))
    monkeypatch.setenv("CNN_COURSE_CHAPTER", "99_test")
    monkeypatch.setenv("CNN_COURSE_PROFILE", "smoke")
    history = History(device="cpu", train_loss=[1.0], train_acc=[0.5], test_acc=[0.875], epoch_seconds=[2.0],
                      img_per_sec=[100.0])
    result = cnn_course.record_result("source", history, blobs(1))
    out = capsys.readouterr().out
    assert "[source] test accuracy 87.50 %" in out
    saved = json.loads(target.read_text().splitlines()[0])
    assert saved == result and saved["chapter"] == "99_test" and saved["profile"] == "smoke"


def test_plots_return_figures(tmp_path: Path) -> None:
    write_synthetic_dataset(tmp_path, "FashionMNIST", train_per_class=5, test_per_class=3)
    train_iter, test_iter = load_data("FashionMNIST", 16, root=tmp_path, device="cpu")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    history = train(model, train_iter, test_iter, epochs=1, lr=0.01, progress=False, verbose=False, device="cpu")
    figures = [
        cnn_course.plot_losses(history),
        cnn_course.plot_confusion_matrix(cnn_course.confusion_matrix(model, test_iter), test_iter.classes),
        cnn_course.show_mistakes(model, test_iter, n=4),
        cnn_course.plot_feature_maps(model, next(iter(test_iter))[0][:1]),
        cnn_course.plot_kernels(model[0].weight),
    ]
    assert len(figures[3].axes) >= 5  # input + 4 channels
    assert figures[1].axes[0].get_title().startswith("confusion matrix (30 images")
    for fig in figures:
        assert fig.axes
        plt.close(fig)
    with pytest.raises(ValueError, match="unshuffled"):
        cnn_course.show_mistakes(model, train_iter)
    with pytest.raises(ValueError, match="square"):
        cnn_course.plot_confusion_matrix(torch.zeros(3, 3), test_iter.classes)


def test_set_seed_and_device() -> None:
    cnn_course.set_seed(5)
    a = torch.rand(3)
    cnn_course.set_seed(5)
    assert torch.equal(a, torch.rand(3))
    with pytest.raises(ValueError, match="seed"):
        cnn_course.set_seed(-1)
    assert cnn_course.get_device().type in {"cpu", "cuda", "mps"}
