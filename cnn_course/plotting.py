"""Plots for training histories, predictions, images, kernels and feature maps.

Figure text is English and numbers only: matplotlib ships no CJK font, so Chinese text would
render as empty boxes on Kaggle or a fresh install. Functions return the matplotlib ``Figure``;
in a notebook it appears at the end of the cell (end the line with ``;`` to avoid a second copy).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import nn

from .evaluation import predict
from .history import History
from .loaders import Loader

__all__ = [
    "draw_history",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_kernels",
    "plot_losses",
    "show_images",
    "show_mistakes",
]

#: Size of the training-history figure, shared by :func:`plot_losses` and the live plot.
HISTORY_FIGSIZE = (10, 3.6)


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def _draw_one_epoch(ax: Axes, history: History) -> None:
    """The accuracies of a one-epoch run as labelled bars (empty until the epoch completes)."""
    names, values = ["train (during the epoch)"], history.train_acc[:1]
    if history.valid_acc:
        names, values = names + ["validation (after it)"], values + history.valid_acc[:1]
    ax.set_xlim(0, 100)
    ax.set_xlabel("accuracy (%) after 1 epoch")
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(-0.6, len(names) - 0.4)
    if values:
        bars = ax.barh(range(len(values)), [100 * v for v in values], color=["tab:blue", "tab:orange"][:len(values)])
        ax.bar_label(bars, labels=[f"{100 * v:.2f} %" for v in values], label_type="center", color="white")


def draw_history(fig: Figure, history: History) -> None:
    """Draw ``history`` on ``fig``: per-step loss (left) and per-epoch accuracy (right).

    This one function draws both the live plot during training and :func:`plot_losses`
    afterwards, so the two always look the same. The loss axis spans all planned steps, so
    an unfinished run shows where it stopped; a divergence is marked with a red cross.
    """
    fig.clear()
    ax_loss, ax_acc = fig.subplots(1, 2)
    losses = np.asarray(history.step_losses, dtype=float)
    finite = np.isfinite(losses)
    shown = np.where(finite, losses, np.nan)  # NaN leaves a gap; inf would wreck the axis
    steps = np.arange(1, len(losses) + 1)
    ax_loss.plot(steps, shown, color="tab:blue", alpha=0.3, linewidth=0.8, label="batch loss")
    window = max(1, history.steps_per_epoch // 10) if history.steps_per_epoch else 1
    smooth = _smooth(shown, window)
    if len(smooth) and len(smooth) < len(losses):
        ax_loss.plot(steps[window - 1:], smooth, color="tab:blue", label=f"mean of {window}")
    if not finite.all():
        first_bad = int(np.argmin(finite))
        top = np.nanmax(shown) if finite.any() else 1.0
        ax_loss.plot([first_bad + 1], [top], "x", color="tab:red", markersize=10, label="loss not finite")
    if history.unfinished_epoch is not None and history.steps_per_epoch:
        start = (history.unfinished_epoch - 1) * history.steps_per_epoch
        ax_loss.axvline(start, color="gray", linestyle=":", linewidth=1,
                        label=f"epoch {history.unfinished_epoch} (unfinished)")
    total_steps = history.steps_per_epoch * history.epochs_planned
    if total_steps >= len(losses) and total_steps > 0:
        ax_loss.set_xlim(0, total_steps)
    if finite.any() and np.nanmax(shown) > 100 * max(float(np.nanmedian(shown)), 1.0):
        ax_loss.set_yscale("log")  # a loss that exploded before it diverged would flatten the rest
    ax_loss.set_xlabel("step (mini-batch)")
    ax_loss.set_ylabel("training loss")
    ax_loss.grid(alpha=0.3)
    if len(losses):
        ax_loss.legend(loc="upper right")
    if max(history.epochs_planned, history.epochs) == 1:
        _draw_one_epoch(ax_acc, history)  # a lone point on an epoch axis says nothing: bars instead
    else:
        epochs = np.arange(1, history.epochs + 1)
        if history.epochs:
            ax_acc.plot(epochs, 100 * np.asarray(history.train_acc), "o-", label="train")
            if history.valid_acc:
                ax_acc.plot(epochs, 100 * np.asarray(history.valid_acc), "s-", label="validation")
            ax_acc.legend(loc="lower right")
        if history.epochs_planned or history.epochs:
            ax_acc.set_xlim(0.5, max(history.epochs_planned, history.epochs) + 0.5)
        ax_acc.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_acc.set_xlabel("epoch")
        ax_acc.set_ylabel("accuracy (%)")
    ax_acc.grid(alpha=0.3)
    title = f"{history.epochs} epoch(s) on {history.device}"
    if history.final_valid_acc is not None:
        title += f", validation accuracy {100 * history.final_valid_acc:.2f} %"
    if history.stop_reason:
        title += f" ({history.stop_reason})"
    fig.suptitle(title)
    fig.tight_layout()


def plot_losses(history: History) -> Figure:
    """Plot the per-step training loss and the per-epoch train/test accuracy of ``history``.

    Works on any history: finished, interrupted or diverged (see :func:`draw_history`).

    Raises:
        ValueError: when ``history`` is not a :class:`History`.
    """
    if not isinstance(history, History):
        raise ValueError(f"history 必须是 cnn_course.train 返回的 History，传入的是 {type(history).__name__}")
    fig = plt.figure(figsize=HISTORY_FIGSIZE)
    draw_history(fig, history)
    return fig


def _to_numpy_images(images: torch.Tensor | np.ndarray | Sequence) -> list[np.ndarray]:
    if isinstance(images, (list, tuple)):
        arrays = [np.asarray(i.detach().cpu() if isinstance(i, torch.Tensor) else i) for i in images]
        if not all(a.ndim == 2 for a in arrays):
            raise ValueError("由图像组成的列表里必须都是二维的 (H, W) 图像")
        return arrays
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"images 的形状必须是 (n, H, W) 或 (n, 1, H, W)，传入的是 {tuple(arr.shape)}")
    return list(arr)


def show_images(
    images: torch.Tensor | np.ndarray | Sequence,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    scale: float = 1.4,
    colors: Sequence[str] | None = None,
) -> Figure:
    """Show grayscale images (an ``(n, H, W)`` tensor or a list of ``(H, W)``) in a grid, with titles."""
    arr = _to_numpy_images(images)
    if not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols 必须是正整数，传入的是 {ncols!r}")
    if titles is not None and len(titles) != len(arr):
        raise ValueError(f"titles 有 {len(titles)} 项，但图像有 {len(arr)} 张；两者必须一样多")
    n = len(arr)
    ncols = min(ncols, max(n, 1))
    nrows = max(1, -(-n // ncols))
    lines = max((str(t).count("\n") + 1 for t in titles), default=0) if titles is not None else 0
    row_height = scale * (1.0 + 0.18 * lines)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, row_height * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(arr[i], cmap="gray")
            if titles is not None:
                ax.set_title(titles[i], fontsize=8, color=colors[i] if colors else "black")
    fig.tight_layout()
    return fig


def plot_confusion_matrix(matrix: torch.Tensor | np.ndarray, classes: Sequence[str]) -> Figure:
    """Draw a confusion matrix (rows: true class, columns: predicted class) with counts."""
    m = matrix.cpu().numpy() if isinstance(matrix, torch.Tensor) else np.asarray(matrix)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(classes):
        raise ValueError(f"matrix 必须是方阵，每个类别一行（{len(classes)} 行），传入的形状是 {m.shape}")
    fig, ax = plt.subplots(figsize=(1.0 + 0.62 * len(classes), 0.6 + 0.55 * len(classes)))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = m.max() / 2 if m.size else 0
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, str(int(m[i, j])), ha="center", va="center", fontsize=7,
                    color="white" if m[i, j] > threshold else "black")
    accuracy = np.trace(m) / m.sum() if m.sum() else 0.0
    ax.set_title(f"confusion matrix ({int(m.sum()):,} images, accuracy {100 * accuracy:.2f} %)")
    fig.tight_layout()
    return fig


def show_mistakes(
    model: nn.Module, data_iter: Loader, n: int = 16, device: str | torch.device | None = None, ncols: int = 8
) -> Figure:
    """Show up to ``n`` misclassified images of ``data_iter`` (an unshuffled loader) with predicted and true labels."""
    if getattr(data_iter, "shuffle", True) or not hasattr(data_iter, "raw_images"):
        raise ValueError("data_iter 必须是 cnn_course.load_data 返回的、不打乱顺序的迭代器（test_iter）")
    pred, true = predict(model, data_iter, device)
    wrong = torch.nonzero(pred != true).flatten()[:n]
    classes = data_iter.classes
    if len(wrong) == 0:
        fig = plt.figure(figsize=(4, 1))
        fig.text(0.5, 0.5, "no misclassified images", ha="center")
        return fig
    titles = [f"pred: {classes[pred[i]]}\ntrue: {classes[true[i]]}" for i in wrong.tolist()]
    return show_images(data_iter.raw_images(wrong), titles, ncols=ncols, colors=["tab:red"] * len(wrong))


def plot_kernels(weight: torch.Tensor, ncols: int = 8) -> Figure:
    """Show the kernels of a convolution weight ``(out_channels, in_channels, kh, kw)`` (first input channel)."""
    if not isinstance(weight, torch.Tensor) or weight.ndim != 4:
        raise ValueError("weight 必须是四维张量 (out_channels, in_channels, kh, kw)，例如 model.net[0].weight")
    kernels = weight.detach().cpu()[:, 0]
    titles = [f"kernel {i}" for i in range(len(kernels))]
    return show_images(kernels, titles, ncols=ncols, scale=1.2)


def plot_feature_maps(model: nn.Module, X: torch.Tensor, layer: nn.Module | None = None, ncols: int = 8) -> Figure:
    """Show the input image and the output channels of ``layer`` (default: the first ``nn.Conv2d``).

    Args:
        model: the network.
        X: one image as the model takes it, shape ``(1, C, H, W)`` or ``(C, H, W)``.
        layer: the module whose output to show.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model 必须是 torch.nn.Module，传入的是 {type(model).__name__}")
    if X.ndim == 3:
        X = X.unsqueeze(0)
    if X.ndim != 4 or X.shape[0] != 1:
        raise ValueError(f"X 必须是一张图像，形状为 (1, C, H, W) 或 (C, H, W)，传入的是 {tuple(X.shape)}")
    if layer is None:
        layer = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
        if layer is None:
            raise ValueError("这个模型没有 nn.Conv2d 层；请传入 layer=...")
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda m, i, o: captured.append(o.detach().cpu()))
    param = next(model.parameters(), None)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(X.to(param.device if param is not None else "cpu"))
    finally:
        handle.remove()
        model.train(was_training)
    maps = captured[0][0]
    images = [X.detach().cpu()[0, 0]] + list(maps)
    titles = ["input"] + [f"channel {i}" for i in range(len(maps))]
    return show_images(images, titles, ncols=ncols, scale=1.3)
