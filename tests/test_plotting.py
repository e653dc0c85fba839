"""Plots of training histories (finished, interrupted, diverged), of predictions, and what a notebook keeps."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from nbclient import NotebookClient  # noqa: E402
from torch import nn  # noqa: E402

import cnn_course  # noqa: E402
from cnn_course import History, TrainingDiverged, load_data, train  # noqa: E402
from tests.synthetic import write_synthetic_dataset  # noqa: E402
from tests.test_training import QUIET, Interrupting, blobs, mlp  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def loss_line(fig) -> np.ndarray:
    """The per-step loss curve drawn on the left axes."""
    return fig.axes[0].get_lines()[0].get_ydata()


def title(fig) -> str:
    """The figure's title (suptitle)."""
    return " ".join(t.get_text() for t in fig.texts)


def test_plot_losses_on_a_finished_history() -> None:
    torch.manual_seed(0)
    history = train(mlp(), blobs(), blobs(seed=1), epochs=2, lr=0.1, **QUIET)
    fig = cnn_course.plot_losses(history)
    assert len(fig.axes) == 2
    np.testing.assert_allclose(loss_line(fig), history.step_losses)
    accuracy_lines = fig.axes[1].get_lines()
    assert [list(line.get_xdata()) for line in accuracy_lines] == [[1, 2], [1, 2]]  # train and test
    assert title(fig) == f"2 epoch(s) on cpu, validation accuracy {100 * history.final_valid_acc:.2f} %"


def test_plot_losses_on_an_interrupted_history() -> None:
    torch.manual_seed(0)
    history = train(mlp(), Interrupting(blobs(n_batches=10).batches, stop_at=24), blobs(seed=1), epochs=4, lr=0.1,
                    **QUIET)
    fig = cnn_course.plot_losses(history)
    assert len(loss_line(fig)) == 24  # the unfinished epoch's steps are drawn
    assert fig.axes[0].get_xlim() == (0, 40)  # on the axis of the planned run
    assert [list(line.get_xdata()) for line in fig.axes[1].get_lines()] == [[1, 2], [1, 2]]
    assert "(interrupted in epoch 3)" in title(fig)
    assert "epoch 3 (unfinished)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_plot_losses_on_a_diverged_history() -> None:
    torch.manual_seed(0)
    with pytest.raises(TrainingDiverged) as info:
        train(mlp(), blobs(n_batches=10), None, epochs=4, lr=30, **QUIET)
    fig = cnn_course.plot_losses(info.value.history)
    assert "(diverged in epoch" in title(fig)
    assert "loss not finite" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_plot_losses_rejects_other_objects() -> None:
    with pytest.raises(ValueError, match="history 必须是 cnn_course.train 返回的 History，传入的是 dict"):
        cnn_course.plot_losses({"loss": [1.0]})  # type: ignore[arg-type]
    cnn_course.plot_losses(History())  # an empty history draws empty axes


def test_plots_of_predictions_return_figures(tmp_path: Path) -> None:
    write_synthetic_dataset(tmp_path, "FashionMNIST", train_per_class=5, test_per_class=3)
    train_iter, test_iter = load_data("FashionMNIST", 16, root=tmp_path, device="cpu")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    train(model, train_iter, test_iter, epochs=1, lr=0.01, **QUIET)
    figures = [
        cnn_course.plot_confusion_matrix(cnn_course.confusion_matrix(model, test_iter), test_iter.classes),
        cnn_course.show_mistakes(model, test_iter, n=4),
        cnn_course.plot_feature_maps(model, next(iter(test_iter))[0][:1]),
        cnn_course.plot_kernels(model[0].weight),
    ]
    assert figures[0].axes[0].get_title().startswith("confusion matrix (30 images")
    assert len(figures[2].axes) >= 5  # input + 4 channels
    assert all(fig.axes for fig in figures)
    with pytest.raises(ValueError, match="不打乱顺序的迭代器"):
        cnn_course.show_mistakes(model, train_iter)
    with pytest.raises(ValueError, match=r"matrix 必须是方阵，每个类别一行（10 行），传入的形状是 \(3, 3\)"):
        cnn_course.plot_confusion_matrix(torch.zeros(3, 3), test_iter.classes)


def test_headline_accuracy_confusion_matrix_and_mistakes_agree_to_the_image(tmp_path: Path) -> None:
    """Training in bf16 evaluates in fp32, like the headline, the matrix and the gallery: one number."""
    write_synthetic_dataset(tmp_path, "FashionMNIST", train_per_class=20, test_per_class=20)
    train_iter, valid_iter, test_iter = load_data("FashionMNIST", 16, root=tmp_path, device="cpu", valid_size=50)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    history = train(model, train_iter, valid_iter, epochs=2, lr=0.05, precision="bf16", **QUIET)
    cfg = cnn_course.choose_settings({"smoke": {}, "quick": {}, "full": {}}, profile="smoke", verbose=False)
    result = cnn_course.record_result("source", history, test_iter, model=model, settings=cfg)
    matrix = cnn_course.confusion_matrix(model, test_iter)
    right = int(matrix.diagonal().sum())
    assert int(matrix.sum()) == 200 and result.test_acc == right / 200
    assert 0 < right < 200  # a half-trained model: there are mistakes to agree on
    gallery = cnn_course.show_mistakes(model, test_iter, n=500)
    assert len([ax for ax in gallery.axes if ax.images]) == 200 - right
    assert result.valid_acc == history.final_valid_acc and "valid: 50 images" in result.valid_data


TRAIN_CELL = """\
import torch, cnn_course
from torch import nn
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
data = []
for _ in range(40):
    y = torch.randint(0, 2, (32,), generator=g)
    data.append((torch.randn(32, 2, generator=g) + 2.0 * y[:, None], y))
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
history = cnn_course.train(model, data, data[:5], epochs=2, lr=0.1, device="cpu")
"""


@pytest.mark.kernel
def test_notebook_keeps_epoch_lines_and_final_plot_only() -> None:
    # A real kernel, as a notebook (or the headless runner) would run it, with the displays left on.
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(TRAIN_CELL), nbformat.v4.new_code_cell("cnn_course.plot_losses(history);")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=300).execute()
    outputs = nb.cells[0].outputs
    texts = [o.text for o in outputs if o.output_type == "stream"]
    assert all(o.get("name") == "stdout" for o in outputs if o.output_type == "stream")
    assert [line.split("：")[0] for line in "".join(texts).splitlines()] == ["第 1/2 轮", "第 2/2 轮"]
    shown = [o.data for o in outputs if o.output_type == "display_data"]
    pictures = [d for d in shown if "image/png" in d]
    assert len(pictures) == 1  # the live plot, one picture updated in place
    assert all(d == {"text/plain": ""} for d in shown if "image/png" not in d)  # the progress bar, emptied
    # The live plot's last picture is exactly what plot_losses draws for the finished history.
    assert pictures[0]["image/png"] == nb.cells[1].outputs[0].data["image/png"]
