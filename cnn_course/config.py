"""Names of the environment variables the course reads, and the profiles one of them takes, in one place.

Kept free of heavy imports: the command line reads it before it needs torch.
"""

from __future__ import annotations

__all__ = ["CHAPTER_ENV", "DATA_ENV", "PROFILES", "PROFILE_ENV", "RESULTS_ENV"]

#: The profiles, from least to most training.
PROFILES = ("smoke", "quick", "full")
#: Profile of every chapter: ``smoke``, ``quick`` or ``full`` (see :mod:`cnn_course.profiles`).
PROFILE_ENV = "CNN_COURSE_PROFILE"
#: A folder holding ``MNIST/raw/`` and ``FashionMNIST/raw/`` (see :mod:`cnn_course.datasets`).
DATA_ENV = "CNN_COURSE_DATA"
#: A JSON-lines file that :func:`cnn_course.record_result` appends to (set by the headless runner).
RESULTS_ENV = "CNN_COURSE_RESULTS"
#: The chapter a notebook kernel runs (set by the headless runner).
CHAPTER_ENV = "CNN_COURSE_CHAPTER"
