"""Following one batch from a data iterator to the model's scores, with the checks that explain bad data in plain words.

Training and evaluation both read batches through :func:`batches` and call the model through
:func:`forward`; the checks that cost nothing (shapes and dtypes) run on every batch, the ones that
make the CPU wait for the device (values) on the first batch only.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn

from .loaders import Loader
from .shapes import ShapeError, layer_shapes

__all__ = ["DataIter", "autocast", "batches", "check_labels", "check_loss", "forward", "no_batch_error"]

#: What ``train_iter``, ``test_iter`` and ``data_iter`` accept: a course loader or any iterable of ``(X, y)``.
DataIter = Loader | Iterable[tuple[torch.Tensor, torch.Tensor]]

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}

# Normalised images stay within a few units of 0 (MNIST's brightest pixel becomes 2.8); raw pixel
# values 0-255 go far beyond this.
_NORMALISED_LIMIT = 20.0

_NORMALISE = ("normalise them like cnn_course.load_data does: cnn_course.datasets.normalize(images, 'MNIST'), "
              "or transforms.ToTensor() followed by transforms.Normalize(mean, std)")


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


def _unpack(batch: Any, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, y)`` from one batch, checked for what costs nothing to check: kinds, shapes and dtypes."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        got = f"a {type(batch).__name__}"
        if isinstance(batch, torch.Tensor):
            got += f" of shape {tuple(batch.shape)} (images without labels?)"
        elif isinstance(batch, (tuple, list)):
            got += f" of {len(batch)} items"
        raise ValueError(
            f"{where} must be a pair (X, y): a tensor of images and a tensor of their labels; "
            f"got {got}. Use cnn_course.load_data, or a DataLoader over a dataset that returns (image, label)."
        )
    X, y = batch
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor) or X.ndim == 0 or y.ndim == 0:
        kinds = ", ".join(f"tensor of shape {tuple(v.shape)}" if isinstance(v, torch.Tensor) else type(v).__name__
                          for v in (X, y))
        raise ValueError(f"{where} must be a pair of tensors (X, y) with one row per image; got ({kinds})")
    if len(X) != len(y):
        raise ValueError(f"{where} has {len(X)} images but {len(y)} labels; they must match")
    if len(X) == 0:
        raise ValueError(f"{where} holds no images (an empty batch): leave empty batches out of the data")
    if not X.is_floating_point():
        raise ValueError(
            f"the images of {where} are {X.dtype} (raw pixel values?), but the model computes with floats: "
            f"{_NORMALISE}"
        )
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        hint = " (one-hot vectors? give y.argmax(dim=1))" if y.ndim == 2 else " (convert them with y.long())"
        raise ValueError(f"the labels of {where} are {y.dtype}; they must be class numbers 0, 1, 2, ... "
                         f"as integers{hint}")
    if y.ndim != 1:
        one_hot = " (one-hot vectors? give y.argmax(dim=1))"
        hint = f"; y.flatten() gives shape ({len(y)},)" if y[0].numel() == 1 else one_hot
        raise ValueError(
            f"the labels of {where} have shape {tuple(y.shape)}, but there must be one class number per image, "
            f"shape ({len(y)},){hint}"
        )
    return X, y


def _check_values(X: torch.Tensor, where: str) -> None:
    """Check that images are finite and normalised (one wait for the device: first batch only)."""
    peak = float(X.detach().abs().max())  # NaN when any value is NaN
    if not math.isfinite(peak):
        bad = int((~torch.isfinite(X)).sum())
        raise ValueError(
            f"{where} holds {bad:,} NaN or infinite pixel value(s) out of {X.numel():,}: the data is broken "
            "(found before any training step, so not the learning rate). Check how the images were made or loaded."
        )
    if peak > _NORMALISED_LIMIT:
        raise ValueError(
            f"the images of {where} reach {peak:g}: they look like raw pixel values 0-255, not normalised ones, "
            f"and would make the first steps far too large; {_NORMALISE}"
        )


def batches(data_iter: DataIter, name: str, device: torch.device, channels_last: bool = False,
            epoch: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield the ``(X, y)`` batches of ``data_iter`` on ``device``, checked; labels become int64.

    Args:
        data_iter: the iterable, read once.
        name: its argument name, used in messages (e.g. ``'train_iter'``).
        device: where the batches go.
        channels_last: store the images channels-last.
        epoch: the training epoch (from 1), for messages; the values of the first batch are checked
            when it is None or 1.

    Raises:
        ValueError: for a batch that is not ``(X, y)``, an empty batch, images that are not floats or not
            finite or not normalised, labels that are not one class number per image, or no batch at all.
    """
    count = 0
    for count, batch in enumerate(data_iter, start=1):
        where = f"batch {count} of {name}" + (f" (epoch {epoch})" if epoch is not None else "")
        X, y = _unpack(batch, where)
        if count == 1 and epoch in (None, 1):
            _check_values(X, where)
        X, y = X.to(device, non_blocking=True), y.to(device, torch.long, non_blocking=True)
        if channels_last:
            X = X.contiguous(memory_format=torch.channels_last)
        yield X, y
    if count == 0:
        raise no_batch_error(name, epoch)


def forward(model: nn.Module, X: torch.Tensor, name: str) -> torch.Tensor:
    """Return ``model(X)``, checked to be one row of class scores per image.

    Raises:
        ShapeError: when a layer cannot take the images of ``name`` (e.g. a model built for
            another image size); the message names the layer and the shape it got.
        ValueError: when the model returns something other than a tensor of shape ``(N, classes)``.
    """
    try:
        y_hat = model(X)
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
    if not isinstance(y_hat, torch.Tensor):
        raise ValueError(
            f"model returned a {type(y_hat).__name__}, not a tensor: forward() must return one tensor of class "
            f"scores, shape (N, classes). If it computes several outputs (e.g. auxiliary classifiers), return only "
            "the final scores."
        )
    if y_hat.ndim != 2 or len(y_hat) != len(X):
        if y_hat.ndim > 2 and math.prod(y_hat.shape[2:]) == 1:
            fix = f"add nn.Flatten() at the end of the model to turn it into ({len(X)}, {y_hat.shape[1]})"
        elif y_hat.ndim > 2:
            fix = ("add nn.Flatten() before the last nn.Linear layer (a convolution's output (N, C, H, W) must be "
                   "flattened to (N, C*H*W) first)")
        elif y_hat.ndim < 2:
            fix = "make the last layer give one score per class, e.g. nn.Linear(..., 10)"
        else:
            fix = "flatten with nn.Flatten() or x.flatten(1), which keeps the images apart, not x.view(-1, ...)"
        raise ValueError(
            f"model returned shape {tuple(y_hat.shape)} for a batch of {len(X)} images of {name}, but training "
            f"and evaluation need one row of class scores per image, shape ({len(X)}, classes): {fix}"
        )
    return y_hat


def check_labels(y_hat: torch.Tensor, y: torch.Tensor, name: str) -> None:
    """Check class labels against the model's scores, before the loss reads them (one wait for the device).

    Raises:
        ValueError: when a label is negative, or the model gives fewer scores per image than the labels need.
    """
    low, high = int(y.min()), int(y.max())
    if low < 0:
        raise ValueError(f"the labels of {name} must be class numbers 0, 1, 2, ...; found {low}")
    if high >= y_hat.shape[1]:
        raise ValueError(
            f"the model gives {y_hat.shape[1]} scores per image, but {name} has labels up to {high} "
            f"(at least {high + 1} classes): make the model's last layer output one score per class, "
            f"e.g. nn.Linear(..., {high + 1}) or num_classes={high + 1}."
        )


def check_loss(loss: Any, y_hat: torch.Tensor) -> None:
    """Check what ``loss_fn`` returned for the first batch, before any update (one wait for the device).

    Raises:
        ValueError: when it is not a scalar tensor computed from the model's scores, or is already not finite.
    """
    wanted = "loss_fn must return a scalar tensor computed from the model's output, e.g. nn.CrossEntropyLoss()"
    if not isinstance(loss, torch.Tensor):
        raise ValueError(f"{wanted}; it returned a {type(loss).__name__} (no .item() or float() inside loss_fn)")
    if loss.numel() != 1:
        raise ValueError(f"{wanted}; it returned a tensor of shape {tuple(loss.shape)}: reduce it to one number "
                         "with .mean() (nn.CrossEntropyLoss's default reduction='mean' does)")
    if not loss.requires_grad:
        raise ValueError(f"{wanted}; its result is not connected to the model's output, so no gradient can flow "
                         "back (was y_hat detached, or the loss rebuilt with torch.tensor(...)?)")
    value = float(loss.detach())
    if not math.isfinite(value):
        fp16 = " or overflow float16 (use precision='bf16' or 'fp32')" if y_hat.dtype == torch.float16 else ""
        raise ValueError(
            f"the loss of the first batch is {value} before any update, so the learning rate is not the cause: "
            f"the model's scores are not finite. Its weights may hold NaN after an earlier run that diverged "
            f"(create the model again){fp16}."
        )


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context for ``precision`` (``'fp32'`` gives one that does nothing)."""
    dtype = _DTYPES.get(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
