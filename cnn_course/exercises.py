"""Self-check exercises: a student's answer, or code, is checked at once, with a hint that points at the mistake.

A notebook cell prints the question with ``exercise("01-1")``, checks an answer with ``check("01-1", 12)``
(or a function with ``check("01-corr2d", corr2d)``) and, if wanted, prints ``solution("01-1")``.
The exercises themselves are data in ``exercise_bank``, one module per chapter as
:data:`cnn_course.chapters.CHAPTERS` lists them, collected the first time one is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from .chapters import CHAPTERS, Chapter
from .exercise_types import AnyExercise, CodeExercise, Exercise, Feedback

__all__ = ["CodeExercise", "Exercise", "Feedback", "check", "collect", "exercise", "exercises", "solution"]


def collect(chapters: Sequence[Chapter] = CHAPTERS) -> dict[str, AnyExercise]:
    """Return every exercise of ``chapters`` by key, in course order.

    Raises:
        ValueError: when two exercises share a key.
    """
    found: dict[str, AnyExercise] = {}
    for chapter in chapters:
        for item in chapter.exercises():
            if item.key in found:
                raise ValueError(f"exercise key {item.key!r} is used twice (again in {chapter.stem})")
            found[item.key] = item
    return found


@cache
def _registry() -> dict[str, AnyExercise]:
    return collect()


def exercises() -> dict[str, AnyExercise]:
    """Return every course exercise by key, in course order (a new dict each call)."""
    return dict(_registry())


def _get(key: str) -> AnyExercise:
    registry = _registry()
    if not isinstance(key, str) or key not in registry:
        # Students read this one: it is in Chinese, like the feedback.
        raise ValueError(f"没有练习 {key!r}。已有的练习:{', '.join(registry)}")
    return registry[key]


def exercise(key: str) -> str:
    """Return the question text of exercise ``key``.

    Raises:
        ValueError: for an unknown key.
    """
    return _get(key).question


def check(key: str, answer: Any) -> Feedback:
    """Check ``answer`` for exercise ``key`` and return feedback: right, or a hint (falsy when wrong).

    For a coding exercise ``answer`` is the student's function or class; it is run on the checker's
    inputs, and an error inside it is reported with its line, never raised.

    Raises:
        ValueError: for an unknown key.
    """
    return _get(key).check(answer)


def solution(key: str) -> str:
    """Return the worked solution of exercise ``key`` (print it to read it); for a coding exercise, its code.

    Raises:
        ValueError: for an unknown key.
    """
    return _get(key).solution_text()
