"""What a reader sees in committed files: no local paths, no stale progress bars, no smoke-profile outputs."""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# Files a reader opens on GitHub: documentation, saved results and notebooks.
READER_FILES = sorted(
    p
    for pattern in ("*.md", "notebooks/*.ipynb", "benchmarks/*.md", "benchmarks/results/*")
    for p in ROOT.glob(pattern)
    if p.is_file()
)
LOCAL_PATH = re.compile(r"/work/|/root/|/home/[\w.-]+/|/Users/[\w.-]+/|/tmp/|[A-Z]:\\\\Users\\\\")
STALE_BAR = re.compile(r"\d+%\|[^|\n]{0,60}\| *\d+/\d+ \[|轮 \[[#.]{20}\] \d+")  # tqdm's bar, or the course's own


def _output_texts(notebook: Path) -> list[tuple[int, str]]:
    """(cell index, text) for every text-like output of every code cell."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    texts = []
    for index, cell in enumerate(cells):
        for output in cell.get("outputs", []):
            parts = [output.get("text", "")]
            parts += [v for k, v in output.get("data", {}).items() if k.startswith("text/") and k != "text/html"]
            parts += output.get("traceback", [])
            texts.append((index, "".join("".join(p) if isinstance(p, list) else p for p in parts)))
    return texts


def test_reader_files_exist() -> None:
    assert len(NOTEBOOKS) >= 6
    assert any(p.suffix == ".md" for p in READER_FILES)


@pytest.mark.parametrize("path", READER_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_local_machine_paths(path: Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":
        found = [(i, m.group()) for i, t in _output_texts(path) for m in LOCAL_PATH.finditer(t)]
    else:
        found = [(0, m.group()) for m in LOCAL_PATH.finditer(text)]
    assert not found, f"{path.name} shows local machine paths to readers: {found[:5]}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_no_stale_progress_bars(notebook: Path) -> None:
    stale = [i for i, text in _output_texts(notebook) if STALE_BAR.search(text)]
    assert not stale, f"{notebook.name}: cells {stale} keep progress-bar text, which looks like a hung run"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_from_a_real_profile(notebook: Path) -> None:
    texts = " ".join(t for _, t in _output_texts(notebook))
    smoke = ("profile: smoke", "档位（profile）：smoke")  # choose_settings' line, before and after it spoke Chinese
    assert not any(line in texts for line in smoke), f"{notebook.name} was saved from a smoke run"
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    unrun = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and "".join(c["source"]).strip()
             and c.get("execution_count") is None]
    assert not unrun, f"{notebook.name}: code cells {unrun} were never run; commit outputs from a real run"


def _definitions(notebook: Path) -> set[str]:
    """Names of the functions and classes that the notebook's code cells define at top level."""
    names = set()
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        lines = "".join(cell["source"]).splitlines()
        source = "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))  # magics, shell
        names |= {node.name for node in ast.parse(source).body
                  if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    return names


def test_no_helper_is_copied_between_notebooks() -> None:
    defined_in = defaultdict(list)
    for notebook in NOTEBOOKS:
        for name in _definitions(notebook):
            defined_in[name].append(notebook.name)
    copies = {name: where for name, where in defined_in.items() if len(where) > 1}
    assert not copies, (
        f"defined in more than one notebook: {copies}. A helper two notebooks need lives once in the package "
        "(e.g. cnn_course.probes) and both import it; a network goes in cnn_course.models, shown in one chapter."
    )


def test_patterns_catch_what_they_should() -> None:
    assert STALE_BAR.search("  0%|          | 0/469 [00:00<?, ?it/s]")
    assert STALE_BAR.search("100%|##########| 12/12 [00:03<00:00,  3.1it/s]")
    assert not STALE_BAR.search("第 1/5 轮：训练损失 0.5000，训练准确率 80.00 %，15,000 张/秒")
    assert STALE_BAR.search("第 1/5 轮 [####................] 40/200 步，损失 0.5000，900 张/秒，3 s")
    assert LOCAL_PATH.search("/tmp/ipykernel_123/456.py") and LOCAL_PATH.search("/work/main/x")
    assert not LOCAL_PATH.search("~/.cache/cnn_course/ and /usr/share/datasets/fashion-mnist/")
