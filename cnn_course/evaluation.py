"""Running a trained model over batches: predictions, accuracy and the confusion matrix."""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_batches, check_int, check_model
from .batches import DataIter, autocast, batches, forward
from .runtime import resolve_device, resolve_precision

__all__ = ["confusion_matrix", "evaluate", "predict"]


def _model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def predict(
    model: nn.Module, data_iter: DataIter, device: str | torch.device | None = None, precision: str = "fp32"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(predicted, true)`` labels for every example of ``data_iter``.

    Args:
        model: the network (put in evaluation mode while predicting, then back).
        data_iter: an iterable of ``(X, y)`` batches.
        device: where to run; None keeps the model where it is.
        precision: ``'fp32'`` (default), ``'bf16'``, ``'fp16'`` or ``'auto'``, as in :func:`cnn_course.train`.

    Returns:
        Two CPU int64 tensors of the same length.

    Raises:
        ValueError: for a bad argument, a batch that is not ``(X, y)`` of float images and class numbers,
            a model that does not return ``(N, classes)`` scores, or an iterator with no batch.
        ShapeError: when the model cannot take the images (the message names the layer).
    """
    check_model(model)
    check_batches(data_iter, "data_iter")
    dev = resolve_device(device) if device is not None else _model_device(model)
    chosen, _ = resolve_precision(precision, dev)
    model.to(dev)
    return predict_batches(model, data_iter, dev, chosen, "data_iter")


def predict_batches(
    model: nn.Module, data_iter: DataIter, device: torch.device, precision: str, name: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`predict` without argument checks, for callers that checked them; ``name`` is used in errors."""
    was_training = model.training
    model.eval()
    preds, trues = [], []
    try:
        with torch.no_grad(), autocast(device, precision):
            for X, y in batches(data_iter, name, device):
                preds.append(forward(model, X, name).argmax(dim=1).cpu())
                trues.append(y.cpu())
    finally:
        model.train(was_training)
    return torch.cat(preds), torch.cat(trues)


def evaluate(
    model: nn.Module, data_iter: DataIter, device: str | torch.device | None = None, precision: str = "fp32"
) -> float:
    """Return the accuracy of ``model`` on ``data_iter``, in [0, 1] (arguments as in :func:`predict`).

    Raises:
        ValueError, ShapeError: as :func:`predict`.
    """
    return _accuracy(*predict(model, data_iter, device, precision))


def evaluate_batches(model: nn.Module, data_iter: DataIter, device: torch.device, precision: str, name: str) -> float:
    """:func:`evaluate` without argument checks, as :func:`predict_batches`."""
    return _accuracy(*predict_batches(model, data_iter, device, precision, name))


def _accuracy(pred: torch.Tensor, true: torch.Tensor) -> float:
    """Exactly right / total, as the confusion matrix counts it (no float32 mean to round it)."""
    return int((pred == true).sum()) / len(true)


def confusion_matrix(
    model: nn.Module, data_iter: DataIter, num_classes: int | None = None, device: str | torch.device | None = None
) -> torch.Tensor:
    """Return the confusion matrix: entry ``[i, j]`` counts examples of class ``i`` predicted as ``j``.

    Args:
        model, data_iter, device: as in :func:`predict`.
        num_classes: the number of classes; None takes ``len(data_iter.classes)`` or, failing
            that, the largest label or prediction plus one.

    Returns:
        An int64 tensor of shape ``(num_classes, num_classes)``.

    Raises:
        ValueError: for a bad ``num_classes``, or labels or predictions outside ``0 .. num_classes - 1``.
    """
    if num_classes is not None:
        num_classes = check_int(num_classes, "num_classes", low=1)
    pred, true = predict(model, data_iter, device)
    given = num_classes is not None
    if num_classes is None:
        classes = getattr(data_iter, "classes", None)
        num_classes = len(classes) if classes else int(max(pred.max(), true.max())) + 1
    source = f"num_classes={num_classes}" if given else f"len(data_iter.classes) = {num_classes}"
    if int(true.min()) < 0:
        raise ValueError(f"data_iter 的标签必须是类别编号 0, 1, 2, ...；却出现了 {int(true.min())}")
    if int(true.max()) >= num_classes:
        raise ValueError(
            f"data_iter 的标签最大到 {int(true.max())}，但 {source} 只允许 0 .. {num_classes - 1}："
            f"请传 num_classes={int(true.max()) + 1} 或更大的值"
        )
    if int(pred.max()) >= num_classes:
        raise ValueError(
            f"模型预测的类别最大到 {int(pred.max())}，但 {source} 只允许 0 .. {num_classes - 1}："
            "模型最后一层给出的分数比类别多"
        )
    return torch.bincount(true * num_classes + pred, minlength=num_classes**2).reshape(num_classes, num_classes)
