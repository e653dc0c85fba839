"""The course's self-check exercises, one module per chapter (feedback in Simplified Chinese)."""

from . import ch01, ch02, ch03, ch04, ch05, ch06  # noqa: F401  (each module registers its exercises)
