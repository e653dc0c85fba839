"""Test-suite setup shared by the package tests and the notebooks (nbval).

Runs every notebook in the ``smoke`` profile and points ``CNN_COURSE_DATA`` at a folder that
holds each dataset: the real files where they are found, otherwise a small synthetic stand-in
written in IDX format (:mod:`tests.synthetic`). The pytest header says which one each dataset is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from cnn_course.config import DATA_ENV, PROFILE_ENV

_DATA_REPORT: list[str] = []
_DATA_DIRS: list[Path] = []


def _prepare_data() -> None:
    from cnn_course.datasets import DATASETS, DataError, find_data
    from tests.synthetic import write_synthetic_dataset  # this file's folder is on sys.path

    folder = Path(tempfile.mkdtemp(prefix="cnn-course-test-data-"))
    _DATA_DIRS.append(folder)
    for name in DATASETS:
        target = folder / name / "raw"
        try:
            found = find_data(name, download=False)
        except DataError:
            write_synthetic_dataset(folder, name, train_per_class=200, test_per_class=50)
            _DATA_REPORT.append(f"{name}: SYNTHETIC stand-in (real files not found), {target}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(found.resolve(), target_is_directory=True)
        _DATA_REPORT.append(f"{name}: real files from {found}")
    os.environ[DATA_ENV] = str(folder)


def pytest_configure(config: pytest.Config) -> None:
    # Notebook kernels started by nbval inherit this environment.
    os.environ.setdefault(PROFILE_ENV, "smoke")
    if not any(line.startswith("MNIST") for line in _DATA_REPORT):
        _prepare_data()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"cnn_course profile: {os.environ.get(PROFILE_ENV)}"] + [
        f"test data {line}" for line in _DATA_REPORT
    ]


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _DATA_DIRS:
        shutil.rmtree(folder, ignore_errors=True)
