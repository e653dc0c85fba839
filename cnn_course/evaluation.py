"""Running a model over batches: predictions, accuracy, confusion matrix, and the checks they share with training."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sized
from typing import Any

import torch
from torch import nn

from ._checks import check_int, check_model
from .runtime import resolve_device, resolve_precision
from .shapes import ShapeError, layer_shapes

__all__ = ["confusion_matrix", "evaluate", "predict"]

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_batches(data_iter: Any, name: str, passes: int = 1) -> None:
    """Check that ``data_iter`` can yield ``(X, y)`` batches ``passes`` times.

    Raises:
        ValueError: when it is not iterable, has length 0, or is a one-shot iterator
            (a generator) that would have to be read more than once.
    """
    if not isinstance(data_iter, Iterable) or isinstance(data_iter, (str, bytes, torch.Tensor)):
        raise ValueError(
            f"{name} must yield (X, y) batches, e.g. the iterators from cnn_course.load_data or a "
            f"torch DataLoader; got {type(data_iter).__name__}"
        )
    if isinstance(data_iter, Sized) and len(data_iter) == 0:
        raise ValueError(f"{name} is empty: it yields no batch. Check the dataset size and batch_size.")
    if passes > 1 and isinstance(data_iter, Iterator):
        raise ValueError(
            f"{name} is a one-shot iterator ({type(data_iter).__name__}, e.g. a generator): it can be read "
            f"only once, but it is needed {passes} times (once per epoch). Pass a list of batches, a "
            "DataLoader or the iterators from cnn_course.load_data."
        )


def no_batch_error(name: str, epoch: int | None = None) -> ValueError:
    """The error for an iterable that yielded nothing (in ``epoch``, when given)."""
    when = f" in epoch {epoch}" if epoch is not None else ""
    again = (
        " It yielded batches before: it can probably be read only once (like a generator). Pass a list "
        "of batches, a DataLoader or the iterators from cnn_course.load_data."
        if epoch is not None and epoch > 1
        else " Check the dataset size and batch_size."
    )
    return ValueError(f"{name} yielded no batch{when}.{again}")


def unpack_batch(batch: Any, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(X, y)`` from one batch, or raise ``ValueError`` saying what the batch should be."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        got = f"a {type(batch).__name__}"
        if isinstance(batch, torch.Tensor):
            got += f" of shape {tuple(batch.shape)} (images without labels?)"
        elif isinstance(batch, (tuple, list)):
            got += f" of {len(batch)} items"
        raise ValueError(
            f"each batch of {name} must be a pair (X, y): a tensor of images and a tensor of their labels; "
            f"got {got}. Use cnn_course.load_data, or a DataLoader over a dataset that returns (image, label)."
        )
    X, y = batch
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise ValueError(
            f"each batch of {name} must be a pair of tensors (X, y); got ({type(X).__name__}, {type(y).__name__})"
        )
    if len(X) != len(y):
        raise ValueError(f"a batch of {name} has {len(X)} images but {len(y)} labels; they must match")
    return X, y


def label_error(y_hat: torch.Tensor, y: torch.Tensor, name: str) -> ValueError | None:
    """The error to raise when class labels ``y`` do not fit the model's scores ``y_hat``, else None."""
    if y.is_floating_point() or y.ndim != 1 or y_hat.ndim != 2 or len(y) == 0:
        return None  # not class labels (e.g. a custom loss_fn with other targets): nothing to check
    low, high = int(y.min()), int(y.max())
    if low < 0:
        return ValueError(f"the labels of {name} must be class numbers 0, 1, 2, ...; found {low}")
    if high >= y_hat.shape[1]:
        return ValueError(
            f"the model gives {y_hat.shape[1]} scores per image, but {name} has labels up to {high} "
            f"(at least {high + 1} classes): make the model's last layer output one score per class, "
            f"e.g. nn.Linear(..., {high + 1}) or num_classes={high + 1}."
        )
    return None


def check_labels(y_hat: torch.Tensor, y: torch.Tensor, name: str) -> None:
    """Check class labels against the model's scores before the loss reads them.

    Raises:
        ValueError: when the labels are not class numbers, or the model gives fewer
            scores per image than there are classes in the labels.
    """
    error = label_error(y_hat, y, name)
    if error is not None:
        raise error


def forward(model: nn.Module, X: torch.Tensor, name: str) -> torch.Tensor:
    """Return ``model(X)``; when the shapes do not fit, raise a ``ShapeError`` naming the layer.

    Raises:
        ShapeError: when a layer cannot take the images of ``name`` (e.g. a model built for
            another image size); the message names the layer and the shape it got.
    """
    try:
        return model(X)
    except RuntimeError as err:
        if isinstance(err, torch.cuda.OutOfMemoryError):
            raise
        # Run the shape table on one image to find the layer that cannot take it.
        try:
            layer_shapes(model, tuple(X.shape[1:]))
        except ShapeError as shape_err:
            raise ShapeError(
                f"the model cannot take the images of {name} (shape {tuple(X.shape[1:])} each): {shape_err}"
            ) from None
        except Exception:  # the diagnosis itself failed: the original error says more
            pass
        raise


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context for ``precision`` (``'fp32'`` gives one that does nothing)."""
    dtype = _DTYPES.get(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def _model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def predict(
    model: nn.Module, data_iter: Iterable, device: str | torch.device | None = None, precision: str = "fp32"
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
        ValueError: for a bad argument, a batch that is not ``(X, y)``, or an iterator with no batch.
        ShapeError: when the model cannot take the images (the message names the layer).
    """
    check_model(model)
    check_batches(data_iter, "data_iter")
    dev = resolve_device(device) if device is not None else _model_device(model)
    chosen, _ = resolve_precision(precision, dev)
    model.to(dev)
    return predict_batches(model, data_iter, dev, chosen, "data_iter")


def predict_batches(
    model: nn.Module, data_iter: Iterable, device: torch.device, precision: str, name: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`predict` without argument checks, for callers that checked them; ``name`` is used in errors."""
    was_training = model.training
    model.eval()
    preds, trues = [], []
    try:
        with torch.no_grad(), autocast(device, precision):
            for batch in data_iter:
                X, y = unpack_batch(batch, name)
                preds.append(forward(model, X.to(device), name).argmax(dim=1).cpu())
                trues.append(y.cpu())
    finally:
        model.train(was_training)
    if not preds:
        raise no_batch_error(name)
    return torch.cat(preds), torch.cat(trues)


def evaluate(
    model: nn.Module, data_iter: Iterable, device: str | torch.device | None = None, precision: str = "fp32"
) -> float:
    """Return the accuracy of ``model`` on ``data_iter``, in [0, 1] (arguments as in :func:`predict`).

    Raises:
        ValueError, ShapeError: as :func:`predict`.
    """
    pred, true = predict(model, data_iter, device, precision)
    return float((pred == true).float().mean())


def confusion_matrix(
    model: nn.Module, data_iter: Iterable, num_classes: int | None = None, device: str | torch.device | None = None
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
        raise ValueError(f"the labels of data_iter must be class numbers 0, 1, 2, ...; found {int(true.min())}")
    if int(true.max()) >= num_classes:
        raise ValueError(
            f"data_iter has labels up to {int(true.max())}, but {source} allows only 0 .. {num_classes - 1}: "
            f"pass num_classes={int(true.max()) + 1} or more"
        )
    if int(pred.max()) >= num_classes:
        raise ValueError(
            f"the model predicts classes up to {int(pred.max())}, but {source} allows only 0 .. "
            f"{num_classes - 1}: the model's last layer gives more scores than there are classes"
        )
    return torch.bincount(true * num_classes + pred, minlength=num_classes**2).reshape(num_classes, num_classes)
