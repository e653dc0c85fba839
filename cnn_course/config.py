"""Names of the environment variables a user sets for the course, and the profiles one of them takes, in one place.

Kept free of heavy imports: the command line reads it before it needs torch.
"""

from __future__ import annotations

__all__ = ["DATA_ENV", "PROFILES", "PROFILE_ENV"]

#: The profiles, from least to most training.
PROFILES = ("smoke", "quick", "full")
#: Profile of every chapter: ``smoke``, ``quick`` or ``full`` (see :mod:`cnn_course.profiles`).
PROFILE_ENV = "CNN_COURSE_PROFILE"
#: A folder holding ``MNIST/raw/`` and ``FashionMNIST/raw/`` (see :mod:`cnn_course.datasets`).
DATA_ENV = "CNN_COURSE_DATA"
