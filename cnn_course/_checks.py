"""Strict argument checks for the public functions, and :func:`check_train_arguments` for ``train``'s.

A value of the wrong kind is rejected, never converted: ``28.7`` is not taken as 28, ``True``
is not taken as 1 and ``"28"`` is not taken as 28. Every message names the argument, repeats
the value it got and says what would work, in words a student can act on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["SCHEDULES", "check_batches", "check_bool", "check_choice", "check_int", "check_model", "check_pair",
           "check_train_arguments", "describe", "is_positive_number"]

#: The learning-rate schedules ``train`` knows by name (a function works too; see :func:`cnn_course.train`).
SCHEDULES = ("cosine", "onecycle")

# What a callback must have; checked by name so that this module needs nothing from cnn_course.callbacks.
_HOOKS = ("on_train_begin", "on_step", "on_epoch_end", "on_train_end")


def describe(value: Any) -> str:
    """``repr(value)`` plus a word on what kind of value it is when that is the likely mistake."""
    if isinstance(value, (bool, np.bool_)):
        return f"{value!r} (True/False, not a number)"
    if isinstance(value, str):
        return f"{value!r} (text; write the number without quotes)"
    if isinstance(value, (float, np.floating)):
        return f"{value!r} (not a whole number)" if not float(value).is_integer() else f"{value!r} (a float)"
    if isinstance(value, type):
        return f"the class {value.__name__}"
    text = repr(value)
    if len(text) > 80:
        text = f"a {type(value).__name__}"
    return text


def is_positive_number(value: Any) -> bool:
    """True for a finite int or float above 0 (not a bool)."""
    return (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
            and value > 0)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(value: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as a plain ``int`` if it is one and lies in ``[low, high]``.

    Args:
        value: what the caller passed.
        name: the argument's name, used in the message.
        low, high: inclusive bounds; ``None`` means unbounded.

    Returns:
        ``int(value)``.

    Raises:
        ValueError: for a bool, float, string or other non-integer, or a value out of range.
    """
    if low is not None and high is not None:
        wanted = f"a whole number from {low} to {high}"
    elif low is not None:
        wanted = {0: "a whole number, 0 or more", 1: "a whole number, at least 1"}.get(
            low, f"a whole number, at least {low}"
        )
    elif high is not None:
        wanted = f"a whole number, at most {high}"
    else:
        wanted = "a whole number"
    if not _is_int(value):
        raise ValueError(f"{name} must be {wanted}, got {describe(value)}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {wanted}, got {value}")
    return value


def check_pair(value: Any, name: str, low: int | None = None) -> tuple[int, int]:
    """Return ``value`` as an ``(h, w)`` pair: one int for both, or a sequence of exactly two ints.

    Raises:
        ValueError: for anything else (a float, a string, a list of three...), or a number below ``low``.
    """
    wanted = "an int or an (h, w) pair of ints"
    if _is_int(value):
        return check_int(value, name, low), check_int(value, name, low)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{name} must be {wanted}, got {describe(value)}")
    items = tuple(value)
    if len(items) != 2:
        raise ValueError(f"{name} must be {wanted}, got {describe(value)} with {len(items)} numbers")
    if not all(_is_int(v) for v in items):
        bad = next(v for v in items if not _is_int(v))
        raise ValueError(f"{name} must be {wanted}, got {describe(value)}: {describe(bad)} is not a whole number")
    return check_int(items[0], f"{name} (height)", low), check_int(items[1], f"{name} (width)", low)


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` if it is ``True`` or ``False`` (``0``, ``1`` and ``"yes"`` are refused)."""
    if not isinstance(value, (bool, np.bool_)):
        shown = f"{value!r} (text; write True or False without quotes)" if isinstance(value, str) else describe(value)
        raise ValueError(f"{name} must be True or False, got {shown}")
    return bool(value)


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices`` (exact spelling)."""
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        hint = ""
        if isinstance(value, str):
            close = [c for c in choices if c.lower() == value.strip().lower()]
            if close:
                hint = f" (did you mean {close[0]!r}?)"
        shown = repr(value) if isinstance(value, str) else describe(value)
        raise ValueError(f"{name} must be one of {options}, got {shown}{hint}")
    return value


def check_model(model: Any) -> nn.Module:
    """Return ``model`` if it is a network instance; a class or anything else is refused with a hint."""
    if isinstance(model, type) and issubclass(model, nn.Module):
        raise ValueError(
            f"model must be a network, got the class {model.__name__} itself; "
            f"build one first: {model.__name__}()"
        )
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module such as LeNet(), got {describe(model)}")
    return model


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


def check_train_arguments(
    model: Any, train_iter: Any, valid_iter: Any, *, epochs: Any, lr: Any, optimizer: Any, loss_fn: Any,
    scheduler: Any, clip_grad_norm: Any, flags: dict[str, Any], callbacks: Any,
) -> None:
    """Check the arguments of :func:`cnn_course.train` before anything is moved or trained.

    Args:
        model, train_iter, valid_iter, epochs, lr, optimizer, loss_fn, scheduler, clip_grad_norm,
            callbacks: as given to ``train``.
        flags: ``train``'s True/False arguments by name (``channels_last``, ``live_plot``, ...).

    Raises:
        ValueError: for the first bad argument; the message names it and says what would work.
    """
    check_model(model)
    epochs = check_int(epochs, "epochs", low=1)
    check_batches(train_iter, "train_iter", passes=epochs)
    if valid_iter is not None:
        check_batches(valid_iter, "valid_iter", passes=epochs)
    _check_lr_and_optimizer(model, lr, optimizer)
    if loss_fn is not None and not callable(loss_fn):
        raise ValueError(f"loss_fn must be a function (y_hat, y) -> loss such as nn.CrossEntropyLoss(), "
                         f"got {loss_fn!r}")
    if scheduler is not None and not callable(scheduler) and scheduler not in SCHEDULES:
        raise ValueError(f"scheduler={scheduler!r} is unknown; use None, 'cosine', 'onecycle' or a function "
                         "(optimizer, total_steps) -> scheduler")
    if scheduler is not None and not isinstance(train_iter, Sized):
        raise ValueError(
            f"scheduler={scheduler!r} needs the number of steps in advance, but train_iter has no length "
            "(len(train_iter) fails): pass a list of batches, a DataLoader or the iterators from "
            "cnn_course.load_data, or use scheduler=None"
        )
    if clip_grad_norm is not None and not is_positive_number(clip_grad_norm):
        raise ValueError(f"clip_grad_norm must be None (no clipping) or a positive number such as 1.0, "
                         f"got {clip_grad_norm!r}")
    for name, value in flags.items():
        check_bool(value, name)
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Iterable) \
            or all(callable(getattr(callbacks, hook, None)) for hook in _HOOKS):
        raise ValueError(f"callbacks must be a list of cnn_course.callbacks.Callback objects, got {callbacks!r}")
    for callback in callbacks:
        if not all(callable(getattr(callback, hook, None)) for hook in _HOOKS):
            raise ValueError(f"callbacks must hold cnn_course.callbacks.Callback objects, got {callback!r}")


def _check_lr_and_optimizer(model: nn.Module, lr: Any, optimizer: Any) -> None:
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError(f"model ({type(model).__name__}) has no trainable parameters: there is nothing to train")
    if optimizer is None:
        if lr is None:
            raise ValueError("give lr (e.g. lr=0.1) for plain SGD, or an optimizer (e.g. torch.optim.SGD(...))")
        if not is_positive_number(lr):
            raise ValueError(f"lr must be a positive number such as 0.1, got {lr!r}")
        return
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(
            f"optimizer must be a torch.optim.Optimizer such as torch.optim.SGD(model.parameters(), lr=0.1), "
            f"got {type(optimizer).__name__}"
        )
    if lr is not None:
        raise ValueError("give either lr (for the default SGD) or optimizer (with its own lr), not both")
    own = {id(p) for p in model.parameters()}
    if not any(id(p) in own for group in optimizer.param_groups for p in group["params"]):
        raise ValueError(
            "optimizer updates the parameters of another model, not of this one (was the model created "
            "again after the optimizer?): create the optimizer from this model, "
            "e.g. torch.optim.SGD(model.parameters(), lr=0.1)"
        )
