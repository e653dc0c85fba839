"""pyproject.toml and environment.yml list the same dependencies; the README's commands exist."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI's
CONDA_NAMES = {"torch": "pytorch"}

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    assert match, requirement
    return match.group(1).lower(), match.group(2).replace(" ", "")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["test"]
    return dict(_split(r) for r in requirements)


def _environment() -> dict[str, str]:
    deps = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        item = re.match(r"^  - ([A-Za-z].*)$", line)
        if item and not item.group(1).startswith(("pip", "python")):
            name, spec = _split(item.group(1))
            deps[name] = spec
    return deps


def test_environment_matches_pyproject() -> None:
    expected = {CONDA_NAMES.get(name, name): spec for name, spec in _pyproject().items()}
    assert _environment() == expected


def test_environment_installs_the_package() -> None:
    assert "- -e ." in (ROOT / "environment.yml").read_text()


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    assert len(blocks) >= 2, "README must open with two bash blocks: open the course, run the tests"
    test_command = blocks[1].strip().splitlines()[-1]
    assert "pytest" in test_command
    assert test_command in ci.splitlines()
