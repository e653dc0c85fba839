"""The course's settings in one place: the environment variables a user sets, their profiles, the repository URL.

Kept free of heavy imports: the command line reads it before it needs torch.
"""

from __future__ import annotations

__all__ = ["DATA_ENV", "PROFILES", "PROFILE_ENV", "REPOSITORY"]

#: The profiles, from least to most training.
PROFILES = ("smoke", "quick", "full")
#: Profile of every chapter: ``smoke``, ``quick`` or ``full`` (see :mod:`cnn_course.profiles`).
PROFILE_ENV = "CNN_COURSE_PROFILE"
#: A folder holding ``MNIST/raw/`` and ``FashionMNIST/raw/`` (see :mod:`cnn_course.datasets`).
DATA_ENV = "CNN_COURSE_DATA"
#: The course's repository on GitHub, the one place it is written: the website's "open in Colab" and "open in
#: Kaggle" links open its notebooks (``python -m cnn_course site``). ``https://github.com/OWNER/NAME``, with
#: ``/tree/BRANCH`` for a branch other than main; ``--repository URL`` overrides it for one build.
REPOSITORY = "https://github.com/cnn-course/cnn-course"
