"""What an exercise is: a question with a numeric answer, a coding task, and the feedback a check returns.

These are plain data types; the course's exercises are instances of them, listed per chapter in
``exercise_bank/chNN.py``. Feedback is written in Simplified Chinese, since students read it.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .code_checks import Mistake

__all__ = ["AnyExercise", "CodeExercise", "Exercise", "Feedback", "NOT_ANSWERED"]

NOT_ANSWERED = "还没有作答:把 `...` 换成你的答案再运行这个单元格。"


@dataclass
class Feedback:
    """Result of a check: whether the answer is right, and the message shown (falsy when wrong)."""

    correct: bool
    message: str

    def __str__(self) -> str:
        return self.message

    __repr__ = __str__

    def __bool__(self) -> bool:
        return self.correct


@dataclass
class Exercise:
    """A question whose answer is a number, a tuple of numbers, a string or a bool.

    Attributes:
        key: short id such as ``"01-1"``.
        question: the question text (shown by ``cnn_course.exercise``).
        answer: the expected answer.
        solution: worked solution shown by ``cnn_course.solution``.
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
            return all(self.matches(e, g) for e, g in zip(expected, given, strict=True))
        return given == expected

    def check(self, answer: Any) -> Feedback:
        """Check ``answer``: right, or the hint for the first known mistake it matches, or the default hint."""
        if answer is None or answer is Ellipsis:
            return Feedback(False, f"[{self.key}] {NOT_ANSWERED}")
        ok = self.checker(answer) if self.checker is not None else self.matches(self.answer, answer)
        if ok:
            return Feedback(True, f"[{self.key}] ✔ 正确!")
        for wrong, hint in self.hints:
            if self.matches(wrong, answer):
                return Feedback(False, f"[{self.key}] ✘ 不对。提示:{hint}")
        return Feedback(False, f"[{self.key}] ✘ 不对。提示:{self.default_hint}")

    def solution_text(self) -> str:
        """The answer and the worked solution, as ``cnn_course.solution`` prints them."""
        return f"[{self.key}] 参考答案:{self.answer!r}\n{self.solution}"


@dataclass
class CodeExercise:
    """A task in which the student writes a function or a class that is then run and judged.

    Attributes:
        key: short id such as ``"01-corr2d"``.
        question: the task (shown by ``cnn_course.exercise``): the signature and what is checked.
        reference: the reference implementation; its source is the solution.
        judge: ``judge(student_obj)`` runs the student's code on the checker's inputs and raises
            :class:`~cnn_course.code_checks.Mistake` with a hint when it finds a problem; on success it
            returns a short description of what was tested.
    """

    key: str
    question: str
    reference: Callable[..., Any]
    judge: Callable[[Any], str]

    @property
    def solution(self) -> str:
        """Source code of the reference implementation."""
        return inspect.getsource(self.reference)

    def check(self, answer: Any) -> Feedback:
        """Run the student's code against the reference; the global random state is left untouched."""
        if answer is None or answer is Ellipsis:
            return Feedback(False, f"[{self.key}] 还没有作答:把你写的函数(或类)传给 check。")
        with torch.random.fork_rng(devices=[]):
            try:
                tested = self.judge(answer)
            except Mistake as mistake:
                return Feedback(False, f"[{self.key}] ✘ {mistake}")
        return Feedback(True, f"[{self.key}] ✔ 正确!{tested}")

    def solution_text(self) -> str:
        """The reference code, as ``cnn_course.solution`` prints it (ready to paste into a cell)."""
        return self.solution


AnyExercise = Exercise | CodeExercise
