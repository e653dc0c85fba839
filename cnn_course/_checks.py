"""Strict argument checks for the shape, conv-step, receptive-field and widget modules.

A value of the wrong kind is rejected, never converted: ``28.7`` is not taken as 28, ``True``
is not taken as 1 and ``"28"`` is not taken as 28. Every message names the argument, repeats
the value it got and says what would work, in words a student can act on.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from torch import nn

__all__ = ["check_bool", "check_choice", "check_int", "check_model", "check_pair", "describe", "is_positive_number"]


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
