"""Packaging: what is declared, where, for which Python; the README's commands; CI; the test tiers; one version."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import sys
from pathlib import Path
from typing import cast

import pytest

import cnn_course

ROOT = Path(__file__).resolve().parents[1]
#: The oldest Python the course supports; every source file and notebook cell must parse with it.
MIN_PYTHON = (3, 10)
# conda-forge names that differ from PyPI's (normalized) ones
CONDA_NAMES = {"torch": "pytorch", "jupyter-client": "jupyter_client"}
# Import names of this repository's own code, not distributions.
LOCAL = {"cnn_course", "benchmarks", "tests", "conftest"}

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _split(requirement: str, normalize: bool = True) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    assert match, requirement
    name = _normalize(match.group(1)) if normalize else match.group(1).lower()
    return name, match.group(2).replace(" ", "")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _requirements(*groups: str) -> dict[str, str]:
    """``{name: specifier}`` of the runtime dependencies (group ``""``) and the named extras."""
    project = _project()
    found: dict[str, str] = {}
    for group in groups:
        listed = project["dependencies"] if group == "" else project["optional-dependencies"][group]
        found.update(_split(r) for r in listed)
    return found


def _environment() -> dict[str, str]:
    deps = {}
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    for line in text.split("dependencies:", 1)[1].splitlines():
        item = re.match(r"^  - ([A-Za-z].*)$", line)
        if item and not item.group(1).startswith(("pip", "python")):
            name, spec = _split(item.group(1), normalize=False)  # conda does not treat - and _ alike
            deps[name] = spec
    return deps


def _readme_bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


def _readme_commands() -> list[str]:
    """Every command line of the README's bash blocks, in order, without trailing comments."""
    lines = "\n".join(_readme_bash_blocks()).splitlines()
    return [re.sub(r"\s+#.*$", "", line).strip() for line in lines if line.strip()]


OPEN_COURSE = 'python -m pip install -e ".[lab]" && jupyter lab notebooks/'
TEST_COMMAND = 'python -m pip install -e ".[test]" && python -m pytest'
CPU_WHEELS = "python -m pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu"


def _notebook_code(path: Path) -> list[str]:
    """The notebook's code cells as plain Python (IPython magics turned into calls, as the kernel does)."""
    from IPython.core.inputtransformer2 import TransformerManager

    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    manager = TransformerManager()
    return [manager.transform_cell("".join(c["source"])) for c in cells if c["cell_type"] == "code"]


def _sources(*folders: str) -> dict[str, str]:
    """``{label: Python source}`` of every .py file in the folders and every notebook code cell."""
    found: dict[str, str] = {}
    for folder in folders:
        base = ROOT / folder
        paths = [base] if base.is_file() else sorted(base.rglob("*.py")) + sorted(base.rglob("*.ipynb"))
        for path in paths:
            if ".ipynb_checkpoints" in path.parts:
                continue
            label = str(path.relative_to(ROOT))
            if path.suffix == ".ipynb":
                for number, code in enumerate(_notebook_code(path), start=1):
                    found[f"{label}, code cell {number}"] = code
            else:
                found[label] = path.read_text(encoding="utf-8")
    return found


def _imported(sources: dict[str, str]) -> dict[str, str]:
    """``{top-level module: where it is first imported}``, without the standard library and local code."""
    modules: dict[str, str] = {}
    for label, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in LOCAL and top != "__future__":
                    modules.setdefault(top, label)
    return modules


def _undeclared(modules: dict[str, str], declared: set[str]) -> list[str]:
    providers = importlib.metadata.packages_distributions()
    missing = []
    for module, where in sorted(modules.items()):
        # A module that is not installed here (tomli on a new Python) counts under its own name.
        dists = {_normalize(d) for d in providers.get(module, [module])}
        if not dists & declared:
            missing.append(f"{module} (imported in {where}; installed from {sorted(dists) or 'nothing'})")
    return missing


# Modules that only an extra's command (and its test) uses, with that extra: what they import comes with it.
EXTRA_MODULES = {"cnn_course/site.py": "site", "tests/test_site.py": "site"}


def test_runtime_imports_are_runtime_dependencies() -> None:
    """What the package and the notebooks import is installed by ``pip install cnn-course`` alone."""
    sources = {label: code for label, code in _sources("cnn_course", "notebooks").items()
               if label not in EXTRA_MODULES}
    modules = _imported(sources)
    assert {"torch", "nbclient"} <= set(modules)  # the scan sees what it should
    assert _undeclared(modules, set(_requirements(""))) == []


@pytest.mark.parametrize("module, extra", sorted(EXTRA_MODULES.items()))
def test_an_extras_module_imports_what_the_extra_installs(module: str, extra: str) -> None:
    modules = _imported(_sources(module))
    groups = ("", "test", extra) if module.startswith("tests/") else ("", extra)
    assert _undeclared(modules, set(_requirements(*groups))) == []


def test_test_imports_are_declared_for_the_tests() -> None:
    sources = _sources("tests", "benchmarks", "conftest.py")
    modules = _imported({label: code for label, code in sources.items() if label not in EXTRA_MODULES})
    assert _undeclared(modules, set(_requirements("", "test"))) == []


def test_jupyterlab_comes_only_with_the_lab_extra_that_the_readme_installs() -> None:
    assert "jupyterlab" not in _requirements("") and "jupyterlab" in _requirements("lab")
    assert OPEN_COURSE in _readme_commands()


def test_readme_installs_cpu_wheels_before_the_course() -> None:
    """On a machine without a GPU, PyPI's torch is the CUDA build: the README brings the CPU one first."""
    commands = _readme_commands()
    assert CPU_WHEELS in commands and OPEN_COURSE in commands
    assert commands.index(CPU_WHEELS) < commands.index(OPEN_COURSE)


def test_the_runners_kernel_comes_with_the_plain_install() -> None:
    """``python -m cnn_course run`` starts an ipykernel; ``pip install cnn-course`` alone must bring it."""
    assert "ipykernel" in _requirements("")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text))


# The first releases whose wheels work with NumPy 1 and NumPy 2 alike; older ones were built for NumPy 1 only
# and do not declare it, so pip would pair them with NumPy 2 (torch 2.4.0's Windows wheels were still NumPy 1).
FIRST_FOR_NUMPY_2 = {"torch": (2, 4, 1), "torchvision": (0, 19, 1), "matplotlib": (3, 8, 4)}


def test_lower_bounds_work_with_either_numpy() -> None:
    declared = _requirements("")
    assert "<2" not in declared["numpy"], "numpy is capped below 2: the lower bounds here need not hold"
    too_low = {}
    for name, first in FIRST_FOR_NUMPY_2.items():
        lower = re.search(r">=([\d.]+)", declared[name])
        if lower is None or _version(lower.group(1)) < first:
            too_low[name] = declared[name]
    assert too_low == {}


def test_every_upper_cap_names_its_break() -> None:
    """A ``<`` cap in a requirement has a comment on its line saying what breaks above it."""
    uncommented = []
    for line in (ROOT / "pyproject.toml").read_text(encoding="utf-8").splitlines():
        requirement = re.match(r'^\s*"([^"]+)",?\s*(#.*)?$', line)
        if requirement and "<" in requirement.group(1).split(";")[0] and not requirement.group(2):
            uncommented.append(requirement.group(1))
    assert uncommented == []


def test_environment_installs_what_pyproject_declares() -> None:
    """environment.yml holds the library, the lab extra and the test extra, with the same ranges."""
    declared = _requirements("", "lab", "test")
    expected = {CONDA_NAMES.get(name, name): spec for name, spec in declared.items() if ";" not in spec}
    assert _environment() == expected
    assert "- -e ." in (ROOT / "environment.yml").read_text(encoding="utf-8")


def test_readme_test_command_is_what_ci_runs_after_lint_and_types() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert TEST_COMMAND in _readme_commands() and TEST_COMMAND in ci
    assert "set -euo pipefail" in ci  # a failing check stops the run
    checks = ["ruff check cnn_course", "mypy cnn_course"]
    assert all(check in ci for check in checks) and all(check in _readme_commands() for check in checks)
    assert max(ci.index(check) for check in checks) < ci.index(TEST_COMMAND)
    assert {"ruff", "mypy"} <= set(_requirements("test"))


def test_every_notebook_is_in_the_kernel_tier() -> None:
    """conftest.py marks each notebook's items ``kernel``, so ``-m "not kernel"`` leaves them out."""
    import conftest

    class Item:
        def __init__(self, path: Path) -> None:
            self.path = path
            self.marks: list[str] = []

        def add_marker(self, mark: pytest.MarkDecorator) -> None:
            self.marks.append(mark.name)

    notebook, test = Item(ROOT / "notebooks" / "01_convolution.ipynb"), Item(ROOT / "tests" / "test_shapes.py")
    conftest.pytest_collection_modifyitems(cast(pytest.Config, None), cast(list[pytest.Item], [notebook, test]))
    assert (notebook.marks, test.marks) == (["kernel"], [])
    assert any(line.startswith("kernel:") for line in tomllib.loads(
        (ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]["markers"])


def test_an_unmarked_test_that_starts_a_kernel_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """In the fast tier a kernel start fails at once and says which mark the test needs."""
    from jupyter_client.manager import KernelManager

    import conftest

    conftest.refuse_kernels("tests/test_x.py::test_y", monkeypatch)
    manager = KernelManager()
    named = r"test_x.py::test_y starts a Jupyter kernel: mark it @pytest.mark.kernel,"
    try:
        with pytest.raises(RuntimeError, match=named):
            manager.start_kernel()
    finally:
        manager.cleanup_resources()


def test_requires_python_is_the_minimum_the_sources_are_checked_with() -> None:
    minimum = ">={}.{}".format(*MIN_PYTHON)
    assert _project()["requires-python"] == minimum
    assert f"  - python{minimum}" in (ROOT / "environment.yml").read_text(encoding="utf-8").splitlines()


def test_every_source_and_notebook_cell_parses_with_the_minimum_python() -> None:
    sources = _sources("cnn_course", "tests", "benchmarks", "notebooks", "conftest.py")
    assert any("code cell" in label for label in sources) and "cnn_course/runner.py" in sources
    failures = []
    for label, source in sources.items():
        try:
            ast.parse(source, filename=label, feature_version=MIN_PYTHON)
        except SyntaxError as err:
            failures.append(f"{label}, line {err.lineno}: {err.msg}")
    assert failures == []


def test_version_is_written_once() -> None:
    """pyproject.toml reads the version from ``cnn_course.__version__``, and the installed metadata agrees."""
    project = _project()
    assert "version" not in project and "version" in project["dynamic"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "cnn_course.__version__"}
    installed = importlib.metadata.version("cnn-course")
    if installed != cnn_course.__version__:
        pytest.fail(f"installed metadata says {installed}, the package {cnn_course.__version__}: "
                    'reinstall with python -m pip install -e ".[test]"')
