"""Test-suite setup shared by the package tests and the notebooks (nbval).

Runs every notebook in the ``smoke`` profile and points ``CNN_COURSE_DATA`` at a folder that
holds each dataset: the real files where they are found, otherwise a small synthetic stand-in
written in IDX format (:mod:`tests.synthetic`). The pytest header says which one each dataset is.

Two tiers: every test that starts a Jupyter kernel carries the ``kernel`` mark (the notebooks get
it here), so ``-m "not kernel"`` is the package alone and ``-m kernel`` the rest. In the fast tier
a test that starts a kernel without the mark fails and says so, rather than slowing the tier down.
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


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m selection reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.kernel)


def refuse_kernels(nodeid: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every kernel start in this process raise an error that names the test and the mark it needs."""
    from jupyter_client.provisioning.local_provisioner import LocalProvisioner

    async def refuse(self: LocalProvisioner, cmd: list[str], **kwargs: object) -> None:
        raise RuntimeError(f"{nodeid} starts a Jupyter kernel: mark it @pytest.mark.kernel, "
                           "so that the fast tier (-m 'not kernel') leaves it to the notebook tier")

    monkeypatch.setattr(LocalProvisioner, "launch_kernel", refuse)


@pytest.fixture(autouse=True)
def _unmarked_tests_start_no_kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    fast_tier = "not kernel" in " ".join(request.config.getoption("markexpr").split())
    if fast_tier and not request.node.get_closest_marker("kernel"):
        refuse_kernels(request.node.nodeid, monkeypatch)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"cnn_course profile: {os.environ.get(PROFILE_ENV)}"] + [
        f"test data {line}" for line in _DATA_REPORT
    ]


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _DATA_DIRS:
        shutil.rmtree(folder, ignore_errors=True)
