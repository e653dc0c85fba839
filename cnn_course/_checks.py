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
        return f"{value!r}（True/False，不是数字）"
    if isinstance(value, str):
        return f"{value!r}（文本；写数字时不要加引号）"
    if isinstance(value, (float, np.floating)):
        return f"{value!r}（不是整数）" if not float(value).is_integer() else f"{value!r}（浮点数）"
    if isinstance(value, type):
        return f"{value.__name__} 类"
    text = repr(value)
    if len(text) > 80:
        text = f"{type(value).__name__} 对象"
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
        wanted = f"从 {low} 到 {high} 的整数"
    elif low is not None:
        wanted = "非负整数" if low == 0 else f"至少为 {low} 的整数"
    elif high is not None:
        wanted = f"至多为 {high} 的整数"
    else:
        wanted = "整数"
    if not _is_int(value):
        raise ValueError(f"{name} 必须是{wanted}，传入的是 {describe(value)}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} 必须是{wanted}，传入的是 {value}")
    return value


def check_pair(value: Any, name: str, low: int | None = None) -> tuple[int, int]:
    """Return ``value`` as an ``(h, w)`` pair: one int for both, or a sequence of exactly two ints.

    Raises:
        ValueError: for anything else (a float, a string, a list of three...), or a number below ``low``.
    """
    wanted = "一个整数，或由两个整数组成的 (h, w) 二元组"
    if _is_int(value):
        return check_int(value, name, low), check_int(value, name, low)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{name} 必须是{wanted}，传入的是 {describe(value)}")
    items = tuple(value)
    if len(items) != 2:
        raise ValueError(f"{name} 必须是{wanted}，传入的 {describe(value)} 有 {len(items)} 个数")
    if not all(_is_int(v) for v in items):
        bad = next(v for v in items if not _is_int(v))
        raise ValueError(f"{name} 必须是{wanted}，传入的是 {describe(value)}：其中 {describe(bad)} 不是整数")
    return check_int(items[0], f"{name}（高度）", low), check_int(items[1], f"{name}（宽度）", low)


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` if it is ``True`` or ``False`` (``0``, ``1`` and ``"yes"`` are refused)."""
    if not isinstance(value, (bool, np.bool_)):
        shown = f"{value!r}（文本；写 True 或 False 时不要加引号）" if isinstance(value, str) else describe(value)
        raise ValueError(f"{name} 必须是 True 或 False，传入的是 {shown}")
    return bool(value)


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices`` (exact spelling)."""
    if not isinstance(value, str) or value not in choices:
        options = "、".join(repr(c) for c in choices)
        hint = ""
        if isinstance(value, str):
            close = [c for c in choices if c.lower() == value.strip().lower()]
            if close:
                hint = f"（是不是想写 {close[0]!r}？）"
        shown = repr(value) if isinstance(value, str) else describe(value)
        raise ValueError(f"{name} 必须是 {options} 之一，传入的是 {shown}{hint}")
    return value


def check_model(model: Any) -> nn.Module:
    """Return ``model`` if it is a network instance; a class or anything else is refused with a hint."""
    if isinstance(model, type) and issubclass(model, nn.Module):
        raise ValueError(
            f"model 必须是一个网络，传入的却是类 {model.__name__} 本身；"
            f"请先创建一个：{model.__name__}()"
        )
    if not isinstance(model, nn.Module):
        raise ValueError(f"model 必须是 torch.nn.Module，例如 LeNet()，传入的是 {describe(model)}")
    return model


def check_batches(data_iter: Any, name: str, passes: int = 1) -> None:
    """Check that ``data_iter`` can yield ``(X, y)`` batches ``passes`` times.

    Raises:
        ValueError: when it is not iterable, has length 0, or is a one-shot iterator
            (a generator) that would have to be read more than once.
    """
    if not isinstance(data_iter, Iterable) or isinstance(data_iter, (str, bytes, torch.Tensor)):
        raise ValueError(
            f"{name} 必须能逐个给出 (X, y) 小批量，例如 cnn_course.load_data 返回的迭代器或 torch 的 "
            f"DataLoader；传入的是 {type(data_iter).__name__}"
        )
    if isinstance(data_iter, Sized) and len(data_iter) == 0:
        raise ValueError(f"{name} 是空的：一个小批量也给不出。请检查数据集的大小和 batch_size。")
    if passes > 1 and isinstance(data_iter, Iterator):
        raise ValueError(
            f"{name} 是只能读一遍的迭代器（{type(data_iter).__name__}，例如生成器），但这里要读 {passes} 遍"
            "（每轮一遍）。请传入由小批量组成的列表、DataLoader 或 cnn_course.load_data 返回的迭代器。"
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
        raise ValueError(f"loss_fn 必须是一个函数 (y_hat, y) -> loss，例如 nn.CrossEntropyLoss()，"
                         f"传入的是 {loss_fn!r}")
    if scheduler is not None and not callable(scheduler) and scheduler not in SCHEDULES:
        raise ValueError(f"不认识 scheduler={scheduler!r}；请用 None、'cosine'、'onecycle' 或一个函数 "
                         "(optimizer, total_steps) -> scheduler")
    if scheduler is not None and not isinstance(train_iter, Sized):
        raise ValueError(
            f"scheduler={scheduler!r} 需要事先知道总步数，但 train_iter 没有长度（len(train_iter) 会出错）："
            "请传入由小批量组成的列表、DataLoader 或 cnn_course.load_data 返回的迭代器，或者用 scheduler=None"
        )
    if clip_grad_norm is not None and not is_positive_number(clip_grad_norm):
        raise ValueError(f"clip_grad_norm 必须是 None（不裁剪）或一个正数，例如 2.0，"
                         f"传入的是 {clip_grad_norm!r}")
    for name, value in flags.items():
        check_bool(value, name)
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Iterable) \
            or all(callable(getattr(callbacks, hook, None)) for hook in _HOOKS):
        raise ValueError(f"callbacks 必须是由 cnn_course.callbacks.Callback 对象组成的列表，传入的是 {callbacks!r}")
    for callback in callbacks:
        if not all(callable(getattr(callback, hook, None)) for hook in _HOOKS):
            raise ValueError(f"callbacks 里只能放 cnn_course.callbacks.Callback 对象，其中有 {callback!r}")


def _check_lr_and_optimizer(model: nn.Module, lr: Any, optimizer: Any) -> None:
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError(f"model（{type(model).__name__}）没有可训练的参数：没有东西可以训练")
    if optimizer is None:
        if lr is None:
            raise ValueError("请给出 lr（例如 lr=0.1，用普通的 SGD 训练）或 optimizer（例如 torch.optim.SGD(...)）")
        if not is_positive_number(lr):
            raise ValueError(f"lr 必须是正数，例如 0.1，传入的是 {lr!r}")
        return
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(
            f"optimizer 必须是 torch.optim.Optimizer，例如 torch.optim.SGD(model.parameters(), lr=0.1)，"
            f"传入的是 {type(optimizer).__name__}"
        )
    if lr is not None:
        raise ValueError("lr（用于默认的 SGD）和 optimizer（自带 lr）只能给一个，不能两个都给")
    own = {id(p) for p in model.parameters()}
    if not any(id(p) in own for group in optimizer.param_groups for p in group["params"]):
        raise ValueError(
            "optimizer 更新的是另一个模型的参数，不是这个模型的（是不是在创建 optimizer 之后又重新创建了模型？）："
            "请用这个模型创建 optimizer，例如 torch.optim.SGD(model.parameters(), lr=0.1)"
        )
