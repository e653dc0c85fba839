"""The course's exercises: one module per chapter, each holding a plain ``EXERCISES`` list in notebook order.

Nothing registers itself: :func:`collect` reads the chapter modules listed in :data:`CHAPTERS`.
"""

from __future__ import annotations

from types import ModuleType

from ..exercise_types import AnyExercise
from . import ch01, ch02, ch03, ch04, ch05, ch06

__all__ = ["CHAPTERS", "collect"]

# Chapter modules in course order. A new chapter's exercises are added here, and nowhere else.
CHAPTERS: tuple[ModuleType, ...] = (ch01, ch02, ch03, ch04, ch05, ch06)


def collect(chapters: tuple[ModuleType, ...] = CHAPTERS) -> dict[str, AnyExercise]:
    """Return every exercise of ``chapters`` by key, in course order.

    Raises:
        ValueError: when two exercises share a key.
    """
    found: dict[str, AnyExercise] = {}
    for module in chapters:
        for item in module.EXERCISES:
            if item.key in found:
                raise ValueError(f"exercise key {item.key!r} is used twice (again in {module.__name__})")
            found[item.key] = item
    return found
