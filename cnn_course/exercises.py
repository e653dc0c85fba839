"""Self-check exercises: a student's answer is checked at once, with a hint that points at the mistake.

Each chapter registers its exercises with :func:`register` (see ``exercise_bank/chNN.py``); a notebook cell
then calls ``check("01-1", answer)`` and, if wanted, ``solution("01-1")``. Feedback is written in the
course's language (Simplified Chinese), since students read it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

__all__ = ["Exercise", "Feedback", "check", "exercise", "register", "solution"]


@dataclass
class Feedback:
    """Result of :func:`check`: whether the answer is right, and the message shown."""

    correct: bool
    message: str

    def __str__(self) -> str:
        return self.message

    __repr__ = __str__

    def __bool__(self) -> bool:
        return self.correct


@dataclass
class Exercise:
    """One self-check question.

    Attributes:
        key: short id such as ``"01-1"``.
        question: the question text (shown by :func:`exercise`).
        answer: the expected answer: a number, a tuple of numbers, a string or a bool.
        solution: worked solution shown by :func:`solution`.
        hints: hint for a known wrong answer, as ``(wrong_answer, hint)`` pairs.
        default_hint: hint for any other wrong answer.
        tolerance: relative tolerance for float answers (int answers must match exactly).
        checker: optional ``f(answer) -> bool`` replacing the equality test.
    """

    key: str
    question: str
    answer: Any
    solution: str
    hints: Sequence[tuple[Any, str]] = field(default_factory=tuple)
    default_hint: str = "还不对。回到本节的公式,逐项代入数字再算一遍。"
    tolerance: float = 1e-3
    checker: Callable[[Any], bool] | None = None

    def matches(self, expected: Any, given: Any) -> bool:
        """Compare ``given`` with ``expected``: numbers within ``tolerance``, sequences element-wise."""
        if isinstance(expected, bool) or isinstance(given, bool):
            return isinstance(given, bool) and given == expected
        if isinstance(expected, (int, float)):
            try:
                value = float(given)
            except (TypeError, ValueError):
                return False
            if isinstance(expected, int):  # counts and sizes must be exact
                return value == expected
            return math.isclose(value, float(expected), rel_tol=self.tolerance, abs_tol=1e-9)
        if isinstance(expected, str):
            return isinstance(given, str) and given.strip().lower() == expected.strip().lower()
        if isinstance(expected, (tuple, list)):
            if hasattr(given, "tolist"):
                given = given.tolist()
            if not isinstance(given, (tuple, list)) or len(given) != len(expected):
                return False
            return all(self.matches(e, g) for e, g in zip(expected, given))
        return given == expected


_REGISTRY: dict[str, Exercise] = {}


def register(*items: Exercise) -> None:
    """Add exercises to the registry (a later one with the same key replaces the earlier)."""
    for item in items:
        _REGISTRY[item.key] = item


def _get(key: str) -> Exercise:
    from . import exercise_bank  # noqa: F401  (registers the course exercises on first use)

    if not isinstance(key, str) or key not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ValueError(f"unknown exercise key {key!r}; known keys: {known}")
    return _REGISTRY[key]


def exercise(key: str) -> str:
    """Return the question text of exercise ``key``."""
    return _get(key).question


def check(key: str, answer: Any) -> Feedback:
    """Check ``answer`` for exercise ``key`` and return feedback (right, or a hint).

    Raises:
        ValueError: for an unknown key.
    """
    item = _get(key)
    if answer is None or answer is Ellipsis:
        return Feedback(False, f"[{key}] 还没有作答:把 `...` 换成你的答案再运行这个单元格。")
    ok = item.checker(answer) if item.checker is not None else item.matches(item.answer, answer)
    if ok:
        return Feedback(True, f"[{key}] ✔ 正确!")
    for wrong, hint in item.hints:
        if item.matches(wrong, answer):
            return Feedback(False, f"[{key}] ✘ 不对。提示:{hint}")
    return Feedback(False, f"[{key}] ✘ 不对。提示:{item.default_hint}")


def solution(key: str) -> str:
    """Return the worked solution of exercise ``key`` (print it to read it)."""
    item = _get(key)
    return f"[{key}] 参考答案:{item.answer!r}\n{item.solution}"
