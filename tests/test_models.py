"""Tests for cnn_course.models: the chapters show the very same code, and the networks, inits and counter work."""

from __future__ import annotations

import re

import ast
import copy
import difflib
import io
import json
import math
import tokenize
from pathlib import Path

import pytest
import torch
from torch import nn

from cnn_course import models
from cnn_course.chapters import CHAPTERS, Chapter
from cnn_course.models import (
    AlexNet,
    GoogLeNet,
    Inception,
    LeNet,
    ResidualBlock,
    ResNet,
    count_macs,
    init_he,
    init_xavier,
)

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
MODULE_SOURCE = Path(models.__file__).read_text(encoding="utf-8")
# Where each definition is shown in full: each chapter's `networks` in cnn_course/chapters.py.


# --- the drift check: a notebook's definition against the package's --------------------------------------


def _top_definitions(source: str) -> dict[str, ast.AST]:
    """Top-level classes and functions of ``source`` by name."""
    return {node.name: node for node in ast.parse(source).body
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))}


def _split(node: ast.AST, source: str) -> tuple[str, list[str], list[str]]:
    """A definition as (code without docstrings, its docstrings in order, its comments in order)."""
    node = copy.deepcopy(node)
    docstrings = []
    for inner in ast.walk(node):
        if isinstance(inner, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(inner)
            docstrings.append(doc or "")
            if doc is not None:
                inner.body = inner.body[1:] or [ast.Pass()]
    lines = source.splitlines(keepends=True)[node.lineno - 1: node.end_lineno]
    comments = [" ".join(tok.string.lstrip("#").split())
                for tok in tokenize.generate_tokens(io.StringIO("".join(lines)).readline)
                if tok.type == tokenize.COMMENT]
    return ast.unparse(node), docstrings, comments


def differences(name: str, shown: ast.AST, shown_source: str) -> str:
    """How a notebook's definition of ``name`` differs from cnn_course/models.py ('' when it does not).

    Code and comments must be equal (layout may differ); each docstring in the notebook must be the
    package's docstring or its first line.
    """
    code, docs, comments = _split(_top_definitions(MODULE_SOURCE)[name], MODULE_SOURCE)
    shown_code, shown_docs, shown_comments = _split(shown, shown_source)
    problems = []
    if shown_code != code:
        problems += difflib.unified_diff(code.splitlines(), shown_code.splitlines(), "cnn_course/models.py",
                                         "notebook", lineterm="")
    pairs = zip(shown_docs, docs, strict=True) if len(shown_docs) == len(docs) else None
    if pairs is None or any(s not in (d, d.split("\n")[0]) for s, d in pairs):
        problems.append(f"docstrings {shown_docs!r} are neither those of cnn_course/models.py nor their first "
                        f"lines: {docs!r}")
    if shown_comments != comments:
        problems += difflib.unified_diff(comments, shown_comments, "comments in cnn_course/models.py",
                                         "comments in the notebook", lineterm="")
    return "\n".join(problems)


def _code_cells(notebook: Path) -> list[tuple[int, str, str]]:
    """(index, cell id, source with IPython magics blanked) of every code cell."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    out = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code" and "cnn_course.exercise(" not in "".join(cell["source"]):
            # (an exercise's skeleton is the student's to write, not a copy of the package's code)
            source = "".join(cell["source"])
            lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")]
            out.append((i, cell.get("id", "?"), "\n".join(lines)))
    return out


def notebook_definitions(notebook: Path) -> list[tuple[int, str, str, ast.AST, str]]:
    """(cell index, cell id, name, node, cell source) of every package name a notebook defines at top level."""
    found = []
    for index, cell_id, source in _code_cells(notebook):
        try:
            defined = _top_definitions(source)
        except SyntaxError as err:
            if any(f"def {n}(" in source or f"class {n}(" in source for n in models.__all__):
                raise AssertionError(f"{notebook.name}, cell {index} (id {cell_id}) defines a name of "
                                     f"cnn_course.models but does not parse: {err}") from None
            continue
        found += [(index, cell_id, name, node, source) for name, node in defined.items() if name in models.__all__]
    return found


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_definitions_are_the_package_code(notebook: Path) -> None:
    report = []
    for index, cell_id, name, node, source in notebook_definitions(notebook):
        diff = differences(name, node, source)
        if diff:
            report.append(f"notebooks/{notebook.name}, cell {index} (id {cell_id}): {name} differs from "
                          f"cnn_course/models.py; change both together.\n{diff}")
    assert not report, "\n\n".join(report)


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS if c.networks], ids=lambda c: c.stem)
def test_each_chapter_shows_its_networks(chapter: Chapter) -> None:
    notebook = NOTEBOOKS[0].parent / f"{chapter.stem}.ipynb"
    shown = {name for _, _, name, _, _ in notebook_definitions(notebook)}
    assert set(chapter.networks) <= shown, f"{chapter.stem} no longer defines {sorted(set(chapter.networks) - shown)}"


def test_drift_check_accepts_layout_and_a_one_line_docstring_and_rejects_any_other_change() -> None:
    original = ast.get_source_segment(MODULE_SOURCE, _top_definitions(MODULE_SOURCE)["LeNet"])
    summary = ast.get_docstring(_top_definitions(MODULE_SOURCE)["LeNet"]).split("\n")[0]
    start, end = original.index('"""'), original.index('"""', original.index('"""') + 3) + 3
    short_doc = original[:start] + f'"""{summary}"""' + original[end:]
    relaid = short_doc.replace("nn.Tanh(),  # C1", "nn.Tanh(),      # C1").replace("super().__init__()",
                                                                                    "super( ).__init__( )")

    def check(source: str) -> str:
        return differences("LeNet", _top_definitions(source)["LeNet"], source)

    assert check(original) == "" and check(relaid) == ""
    changed_layer = original.replace("nn.Conv2d(6, 16, kernel_size=5)", "nn.Conv2d(6, 16, kernel_size=3)")
    assert "kernel_size=3" in check(changed_layer)
    assert "N x 6 x 27 x 27" in check(original.replace("N x 6 x 28 x 28", "N x 6 x 27 x 27"))
    assert "docstrings" in check(original.replace(summary, "LeNet-5 with ReLU."))


# --- the networks -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, image",
    [(LeNet, (1, 28, 28)), (AlexNet, (1, 224, 224)), (GoogLeNet, (1, 28, 28)), (ResNet, (1, 28, 28))],
    ids=["LeNet", "AlexNet", "GoogLeNet", "ResNet"],
)
@pytest.mark.parametrize("num_classes", [10, 7])
def test_networks_give_one_score_per_class(make, image: tuple[int, int, int], num_classes: int) -> None:
    model = make(num_classes=num_classes)
    with torch.no_grad():
        assert tuple(model(torch.zeros(2, *image)).shape) == (2, num_classes)
    assert isinstance(model.net, nn.Sequential)


def test_blocks_keep_height_and_width() -> None:
    with torch.no_grad():
        assert tuple(Inception(10)(torch.zeros(2, 10, 12, 12)).shape) == (2, 88, 12, 12)
        assert tuple(ResidualBlock(16)(torch.zeros(2, 16, 12, 12)).shape) == (2, 16, 12, 12)


@pytest.mark.parametrize("image_size, flat_size", [(224, 256 * 5 * 5), (112, 256 * 2 * 2), (65, 256)])
def test_alexnet_derives_its_flatten_size(image_size: int, flat_size: int) -> None:
    model = AlexNet(image_size=image_size)
    first_linear = next(m for m in model.net if isinstance(m, nn.Linear))
    assert first_linear.in_features == flat_size
    with torch.no_grad():
        assert tuple(model(torch.zeros(1, 1, image_size, image_size)).shape) == (1, 10)


@pytest.mark.parametrize("image_size", [64, 28, 224.0])
def test_alexnet_rejects_an_image_too_small_for_its_layers(image_size) -> None:
    with pytest.raises(ValueError, match=rf"image_size 必须是不小于 65 的整数.*收到的是 {re.escape(repr(image_size))}"):
        AlexNet(image_size=image_size)


# --- the initialisations ------------------------------------------------------------------------------------


def test_init_he_draws_weights_with_variance_two_over_fan_in() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(), nn.Linear(512, 256))
    assert init_he(model) is model
    assert model[0].weight.std().item() == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.05)
    assert model[3].weight.std().item() == pytest.approx(math.sqrt(2 / 512), rel=0.05)
    assert not model[0].bias.any() and not model[3].bias.any()


def test_init_he_can_give_linear_layers_a_fixed_scale() -> None:
    torch.manual_seed(0)
    model = init_he(nn.Sequential(nn.Conv2d(64, 64, 3), nn.Linear(512, 256)), linear_std=0.01)
    assert model[0].weight.std().item() == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.05)
    assert model[1].weight.std().item() == pytest.approx(0.01, rel=0.05)


def test_init_xavier_draws_uniform_weights_with_variance_two_over_fan_sum() -> None:
    torch.manual_seed(0)
    model = init_xavier(nn.Sequential(nn.Linear(400, 200), nn.Conv2d(8, 4, 5, bias=False)))
    bound = math.sqrt(6 / (400 + 200))
    assert model[0].weight.abs().max().item() <= bound
    assert model[0].weight.std().item() == pytest.approx(math.sqrt(2 / (400 + 200)), rel=0.05)
    assert not model[0].bias.any() and model[1].bias is None


@pytest.mark.parametrize("init", [init_he, init_xavier])
def test_inits_reject_a_class_instead_of_a_network(init) -> None:
    with pytest.raises(TypeError, match="model 必须是一个网络实例"):
        init(LeNet)


@pytest.mark.parametrize("linear_std", [0, -0.01, "0.01"])
def test_init_he_rejects_a_bad_linear_std(linear_std) -> None:
    with pytest.raises(ValueError, match=rf"linear_std 必须是正数.*收到的是 {re.escape(repr(linear_std))}"):
        init_he(LeNet(), linear_std=linear_std)


# --- the multiply-add counter --------------------------------------------------------------------------------


def test_count_macs_matches_a_hand_count() -> None:
    model = nn.Sequential(nn.Conv2d(2, 4, kernel_size=3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 5 * 5, 3))
    macs = count_macs(model, (2, 5, 5))
    conv = (4 * 5 * 5) * (2 * 3 * 3)  # output elements x inputs each one looks at
    linear = 3 * (4 * 5 * 5)  # outputs x in_features
    assert macs == {"0": conv, "3": linear, "total": conv + linear}


def test_count_macs_handles_groups_and_linear_layers_on_every_position() -> None:
    model = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1, groups=2), nn.Linear(6, 5))
    macs = count_macs(model, (4, 6, 6))
    assert macs["0"] == (8 * 6 * 6) * (4 // 2) * 3 * 3
    assert macs["1"] == (8 * 6 * 5) * 6  # output elements x in_features, for each of the 8 x 6 rows


def test_count_macs_agrees_with_the_chapters() -> None:
    lenet = count_macs(LeNet(), (1, 28, 28))  # chapter 3 counts LeNet-5 by hand
    assert [lenet[k] for k in ("net.0", "net.3", "net.6", "net.9", "net.11")] == [117_600, 240_000, 48_000, 10_080, 840]
    assert lenet["total"] == 416_520
    alexnet = count_macs(AlexNet(), (1, 224, 224))
    assert alexnet["net.0"] == 96 * 54 * 54 * (11 * 11) and alexnet["net.14"] == 6400 * 4096
    assert alexnet["total"] == 938_146_176


def test_count_macs_restores_the_mode() -> None:
    model = AlexNet(image_size=112)
    count_macs(model, (1, 112, 112))
    assert model.training
    count_macs(model.eval(), (1, 112, 112))
    assert not model.training


@pytest.mark.parametrize("shape", [(28, 28), (1, 0, 28), "1x28x28", (1, 28.0, 28)])
def test_count_macs_rejects_a_bad_input_shape(shape) -> None:
    with pytest.raises(ValueError, match="input_shape 必须是一张图像的 \\(C, H, W\\)"):
        count_macs(LeNet(), shape)


def test_count_macs_says_when_the_input_does_not_fit() -> None:
    with pytest.raises(ValueError, match=r"input_shape=\(1, 32, 32\) 和这个模型对不上"):
        count_macs(LeNet(), (1, 32, 32))
    with pytest.raises(TypeError, match="model 必须是一个网络实例"):
        count_macs(LeNet, (1, 28, 28))
