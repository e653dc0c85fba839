"""For teachers: find the exercise cells of a chapter, fill in every answer, and prove each check passes.

Every exercise in a chapter follows one cell pattern (``tests/test_exercises_notebooks.py`` holds the
chapters to it):

1. a markdown cell containing ``**练习 KEY**`` (a title, and at most a line of context);
2. for a coding exercise only, a skeleton cell: ``print(cnn_course.exercise("KEY"))``, then the
   function or class with its docstring and ``...`` as the body;
3. the check cell: for a question, ``print(cnn_course.exercise("KEY"))`` and
   ``cnn_course.check("KEY", ...)``; for a coding exercise, ``cnn_course.check("KEY", name)``;
   both end with ``# print(cnn_course.solution("KEY"))``.

``python -m cnn_course answers`` writes a copy of each chapter with the ``...`` replaced by the answer
and each skeleton by the reference code, into a separate folder; the chapters are never touched.
With ``--nbgrader`` it writes nbgrader's source format instead (:mod:`cnn_course.nbgrader_edition`).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import io
import json
import linecache
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from .chapters import default_notebooks_dir, find_chapters, resolve_chapters
from .exercise_types import CodeExercise, Feedback
from .exercises import exercises
from .results import check_output

__all__ = [
    "DEFAULT_OUT",
    "ExerciseCells",
    "answer_notebook",
    "check_answers",
    "find_exercises",
    "write_answers",
]

DEFAULT_OUT = Path("results") / "answers"
NOTE = ("> **教师版:** 这是 `python -m cnn_course answers` 生成的副本,每道练习都已填好答案、"
        "写好参考代码。不要发给学生;学生用 `notebooks/` 里的原版。")

_CHECK = re.compile(r'^cnn_course\.check\("(?P<key>[^"]+)", (?P<arg>.+)\)$')
_QUESTION = 'print(cnn_course.exercise("{key}"))'
_SOLUTION = '# print(cnn_course.solution("{key}"))'
_TITLE = "**练习 {key}**"


@dataclass(frozen=True)
class ExerciseCells:
    """Where one exercise sits in a notebook (cell indices).

    Attributes:
        key: the exercise key.
        title: the markdown cell with ``**练习 KEY**``.
        skeleton: the coding exercise's skeleton cell; None for a question.
        check: the cell that calls ``cnn_course.check``.
        answer: what the check cell passes, as written (``...`` until answered; the name of the
            function or class for a coding exercise).
    """

    key: str
    title: int
    skeleton: int | None
    check: int
    answer: str


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _lines(cell: dict[str, Any]) -> list[str]:
    return [line.rstrip() for line in _source(cell).strip().splitlines()]


def find_exercises(notebook: dict[str, Any], name: str = "notebook") -> list[ExerciseCells]:
    """Return the exercises of ``notebook`` (a parsed .ipynb) in the order they appear.

    Args:
        notebook: the notebook as loaded with ``json.load``.
        name: how to name the notebook in error messages.

    Raises:
        ValueError: when an exercise's cells do not follow the pattern in this module's docstring; the
            message names the notebook, the cell and what is expected.
    """
    cells = notebook["cells"]
    found = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        lines = _lines(cell)
        checks = [m for m in map(_CHECK.match, lines) if m]
        if not checks:
            if any("cnn_course.check(" in line for line in lines):
                raise ValueError(f"{name}, cell {index}: write the check as cnn_course.check(\"KEY\", answer) "
                                 "on a line of its own")
            continue
        key, arg = checks[0]["key"], checks[0]["arg"]
        where = f"{name}, cell {index} ({key})"
        if len(checks) > 1:
            raise ValueError(f"{where}: one exercise per cell, found {len(checks)} checks")
        question, check_line = _QUESTION.format(key=key), checks[0].group(0)
        solution = _SOLUTION.format(key=key)
        if lines[0] == question:  # a question: asked and checked in one cell
            skeleton = None
            if lines != [question, check_line, solution]:
                raise ValueError(f"{where}: a question's check cell must be exactly the three lines\n"
                                 f"{question}\ncnn_course.check(\"{key}\", ...)\n{solution}")
            first = index
        else:  # a coding exercise: the skeleton above asks, this cell checks
            skeleton = index - 1
            if lines != [check_line, solution]:
                raise ValueError(f"{where}: a check cell must be exactly {question}, {check_line} and {solution} "
                                 f"(a question), or {check_line} and {solution} below a skeleton (a coding exercise)")
            above = cells[skeleton] if skeleton >= 0 else {"cell_type": "none", "source": ""}
            if above["cell_type"] != "code" or not _lines(above) or _lines(above)[0] != question:
                raise ValueError(f"{where}: the cell above the check must be the skeleton, starting with {question}")
            defined = _defined_names(_source(above), f"{name}, cell {skeleton}")
            if arg not in defined:
                raise ValueError(f"{where}: the skeleton above defines {sorted(defined)}, not {arg}")
            first = skeleton
        title = first - 1
        if title < 0 or cells[title]["cell_type"] != "markdown" or _TITLE.format(key=key) not in _source(cells[title]):
            raise ValueError(
                f"{where}: the cell before the exercise must be markdown containing {_TITLE.format(key=key)}")
        found.append(ExerciseCells(key, title, skeleton, index, arg))
    return found


def _defined_names(source: str, where: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise ValueError(f"{where}: the skeleton does not parse: {err}") from None
    return {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


def _set_source(cell: dict[str, Any], text: str) -> None:
    cell["source"] = text.splitlines(keepends=True)
    if cell["cell_type"] == "code":
        cell["outputs"], cell["execution_count"] = [], None


def answer_notebook(notebook: dict[str, Any], name: str = "notebook") -> dict[str, Any]:
    """Return a copy of ``notebook`` with every exercise answered and a teacher's note on top.

    A question's ``...`` becomes the answer; a skeleton becomes the reference code. Changed cells lose
    their outputs. ``notebook`` itself is not modified.

    Raises:
        ValueError: when the exercise cells do not follow the pattern, or use a key that does not exist.
    """
    answered = copy.deepcopy(notebook)
    cells = answered["cells"]
    registry = exercises()
    for site in find_exercises(notebook, name):
        if site.key not in registry:
            raise ValueError(f"{name}, cell {site.check}: unknown exercise key {site.key!r}")
        item = registry[site.key]
        question = _QUESTION.format(key=site.key)
        if isinstance(item, CodeExercise):
            _set_source(cells[site.skeleton], f"{question}\n\n\n{item.solution.rstrip()}\n")
        else:
            _set_source(cells[site.check], "\n".join([
                question, f'cnn_course.check("{site.key}", {item.answer!r})', _SOLUTION.format(key=site.key)]))
    note = {"cell_type": "markdown", "id": "teacher-answers-note",
            "metadata": {"slideshow": {"slide_type": "skip"}}, "source": [NOTE]}
    cells.insert(0, note)
    return answered


def _is_check_call(node: ast.stmt) -> TypeGuard[ast.Expr]:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            and ast.unparse(node.value.func) == "cnn_course.check")


def _run_cell(source: str, namespace: dict[str, Any], filename: str) -> Any:
    """Execute a cell's code in ``namespace`` as a kernel would; return what its ``cnn_course.check`` call gave."""
    source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    value = None
    for node in ast.parse(source, filename).body:
        if _is_check_call(node):
            value = eval(compile(ast.Expression(node.value), filename, "eval"), namespace)
        else:
            exec(compile(ast.Module(body=[node], type_ignores=[]), filename, "exec"), namespace)
    return value


def check_answers(notebook: dict[str, Any], name: str = "notebook") -> list[tuple[str, Feedback]]:
    """Run a chapter's exercise cells in this process and return each check's feedback, in order.

    Only the first code cell (the imports) and the exercise cells run, so no chapter trains anything.
    Printed output is swallowed.

    Raises:
        ValueError: when the exercise cells do not follow the pattern, or a check cell gives no Feedback.
    """
    cells = notebook["cells"]
    first_code = next(i for i, cell in enumerate(cells) if cell["cell_type"] == "code")
    namespace: dict[str, Any] = {"__name__": "__main__"}
    results = []
    with contextlib.redirect_stdout(io.StringIO()):
        _run_cell(_source(cells[first_code]), namespace, f"<{name} cell {first_code}>")
        for site in find_exercises(notebook, name):
            if site.skeleton is not None:
                _run_cell(_source(cells[site.skeleton]), namespace, f"<{name} cell {site.skeleton}>")
            feedback = _run_cell(_source(cells[site.check]), namespace, f"<{name} cell {site.check}>")
            if not isinstance(feedback, Feedback):
                raise ValueError(f"{name}, cell {site.check}: the check cell gave {feedback!r}, not a Feedback")
            results.append((site.key, feedback))
    return results


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def write_answers(chapters: dict[str, Path], out_dir: str | Path = DEFAULT_OUT, force: bool = False,
                  check: bool = False) -> tuple[list[Path], list[str]]:
    """Write an answered copy of each chapter notebook into ``out_dir``.

    Args:
        chapters: ``{stem: path}`` of the notebooks to answer (see :func:`cnn_course.chapters.find_chapters`).
        out_dir: folder for the copies (created when missing); never the notebooks' own folder.
        force: replace copies left by an earlier run; without it, existing files are an error.
        check: also run each copy's exercise cells in this process and report every check that fails.

    Returns:
        The paths written, and one line per failed check (empty when all pass or ``check`` is False).

    Raises:
        ValueError: before anything is answered or written, when ``out_dir`` is a notebooks folder, is
            or lies under a file, cannot be written, or holds copies already (without ``force``);
            or when a notebook breaks the exercise pattern.
    """
    out = Path(out_dir)
    sources = {path.resolve().parent for path in chapters.values()}
    if out.resolve() in sources:
        raise ValueError(f"--out {out} is the notebooks' own folder; choose another (default: {DEFAULT_OUT})")
    targets = {stem: out / path.name for stem, path in chapters.items()}
    check_output(out, targets.values(), force=force)
    answered = {stem: answer_notebook(_read(path), path.name) for stem, path in chapters.items()}
    failures = []
    if check:
        for stem, notebook in answered.items():
            failures += [f"{stem}: {feedback}" for key, feedback in check_answers(notebook, stem) if not feedback]
    out.mkdir(parents=True, exist_ok=True)
    for stem, notebook in answered.items():
        targets[stem].write_text(json.dumps(notebook, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return list(targets.values()), failures


def run_command(args: argparse.Namespace) -> int:
    """``python -m cnn_course answers``: write the answered copies; 0 ok, 1 a check failed, 2 bad arguments.

    ``args`` has ``chapters``, ``notebooks``, ``out``, ``force`` and ``check`` (see ``cnn_course.__main__``).
    """
    try:
        chapters = find_chapters(args.notebooks or default_notebooks_dir())
        stems = resolve_chapters(args.chapters, chapters)
        paths, failures = write_answers({s: chapters[s] for s in stems}, args.out or DEFAULT_OUT, force=args.force,
                                        check=args.check)
    except ValueError as err:  # a ChapterError too
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"wrote {path}")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    if args.check:
        print("every exercise check passes in the answered copies")
    return 0
