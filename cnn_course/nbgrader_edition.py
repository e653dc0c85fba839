"""For teachers who grade with nbgrader: each chapter in nbgrader's source format, one assignment per chapter.

``python -m cnn_course answers --nbgrader --out COURSE`` writes ``COURSE/source/<chapter>/<chapter>.ipynb``
(and ``COURSE/nbgrader_config.py`` where the folder has none); ``nbgrader generate_assignment <chapter>``, run
in ``COURSE``, then writes the students' copy to ``COURSE/release/``. In each chapter:

* every exercise becomes an answer cell (nbgrader ``solution``) and an autograder test cell (``grade``,
  locked, with points). The answer cell holds the answer between ``### BEGIN SOLUTION`` and
  ``### END SOLUTION``: a question's answer assigned to ``answer_NN_k``, or a coding exercise's reference
  code inside the skeleton's signature and docstring (or, for code to fix, the whole reference, below a
  read-only copy of the code). The test cell calls ``cnn_course.check`` and raises
  AssertionError with the check's diagnosis when it fails, so the diagnosis reaches the student's feedback;
* every other cell is read-only (``locked``). The lesson's code cells, all but the first (the imports),
  carry the ``skip-execution`` tag, which nbgrader's executor (nbclient) honours: autograding runs the
  imports and the exercises only, in seconds, with no data set and no training, as ``answers --check`` does.

The cell metadata follows nbgrader's schema version 3 (``nbgrader/nbgraderformat/v3.json``). The package
does not import nbgrader; ``tests/test_nbgrader.py`` runs nbgrader's own steps on a chapter.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import io
import json
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .answers import _QUESTION, _read, _run_cell, _source, find_exercises
from .chapters import default_notebooks_dir, find_chapters, resolve_chapters
from .exercise_types import CodeExercise
from .exercises import exercises
from .results import check_output

__all__ = [
    "CODE_POINTS",
    "DEFAULT_OUT",
    "QUESTION_POINTS",
    "SCHEMA_VERSION",
    "SKIP_TAG",
    "GradedCell",
    "answer_name",
    "grade_in_process",
    "nbgrader_notebook",
    "solution_skeleton",
    "write_nbgrader",
]

DEFAULT_OUT = Path("results") / "nbgrader"
#: nbgrader's cell metadata schema that this module writes (nbgrader 0.7 to 0.9 read it).
SCHEMA_VERSION = 3
#: Points of a question (a number to compute) and of a coding exercise (a function or class to write).
QUESTION_POINTS = 1
CODE_POINTS = 3
#: The tag nbclient (and so nbgrader's autograder) skips a cell for.
SKIP_TAG = "skip-execution"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"

_GRADE_ID = re.compile(r"^[a-zA-Z0-9_\-]+$")  # the pattern of grade_id in nbgrader's schema
NOTE = (
    "> **nbgrader 作业版。** 每道练习有两个单元格:先在可以编辑的**答案单元格**里写答案,替换掉占位的代码"
    "(nbgrader 默认放 `# YOUR CODE HERE` 和 `raise NotImplementedError()`;课文里说“把 `...` 换成你的答案”,"
    "指的就是这里),再运行它下面锁定的**检查单元格**。提交后,nbgrader 用同一个检查自动评分,答错时的提示会写进"
    "给你的反馈。\n>\n> 自动评分时只运行第一个代码单元格(导入)和练习的单元格;课文里其他的代码单元格带 "
    "`skip-execution` 标签,评分时不运行,所以答案不要用到它们定义的变量。"
)
_QUESTION_TASK = ("\n\n> **作业:** 答案赋给 `{name}`,写在下一个单元格里;再下面的检查单元格用来自动评分,"
                  "不要修改。本题 {points} 分。")
_CODE_TASK = ("\n\n> **作业:** 在下一个单元格里把 `{name}` 写完;再下面的检查单元格用来自动评分,"
              "不要修改。本题 {points} 分。")
_FIX_TASK = ("\n\n> **作业:** 下一个单元格是要改的代码(只读,评分时不运行);把它复制到再下一个单元格里改好;"
             "最后的检查单元格用来自动评分,不要修改。本题 {points} 分。")
_FIX_COMMENT = "# 把上面单元格里的 {name} 复制到这里,改好,再运行下面的检查单元格。"
_ANSWER_COMMENT = "# 把你的答案赋给 {name}(格式见题目),再运行下面的检查单元格。"
_TEST = (
    "# 自动评分(nbgrader):课程自己的检查;答错时抛出 AssertionError,附上检查给出的提示。\n"
    'feedback = cnn_course.check("{key}", {answer})\n'
    "assert feedback, feedback.message\n"
    "print(feedback)"
)

CONFIG = '''\
"""nbgrader settings for the course's assignments, written once by python -m cnn_course answers --nbgrader.

Edit freely: the command never replaces this file. One assignment per chapter, named as the chapter:

    nbgrader generate_assignment 02_pooling   # source/02_pooling/ -> release/02_pooling/, the students' copy
    nbgrader autograde 02_pooling             # submitted/<student>/02_pooling/ -> autograded/ and gradebook.db
    nbgrader generate_feedback 02_pooling     # feedback/: the scores, and each failed check's hint
"""

c = get_config()  # noqa: F821 -- nbgrader defines get_config when it reads this file

# Autograding runs the chapter's first cell (the imports) and the exercises; the lesson's other code cells
# carry the skip-execution tag. Importing torch on a busy server can take longer than nbgrader's 30 s per cell.
c.Execute.timeout = 120
'''


def answer_name(key: str) -> str:
    """Return the variable a question's answer is assigned to in the nbgrader edition: ``answer_02_1``."""
    return "answer_" + re.sub(r"\W", "_", key)


def _metadata(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False,
              points: float | None = None) -> dict[str, Any]:
    """nbgrader's cell metadata, schema version 3: ``points`` only on a graded cell."""
    if not _GRADE_ID.match(grade_id):
        raise ValueError(f"grade_id {grade_id!r} may hold only letters, digits, '_' and '-' (nbgrader's schema)")
    meta: dict[str, Any] = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA_VERSION,
                            "solution": solution}
    if grade:
        meta["points"] = points
    return meta


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    """The functions of a module and the methods of its classes, by qualified name (``VGGBlock.forward``)."""
    found: dict[str, ast.FunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            found.update({f"{node.name}.{item.name}": item for item in node.body if isinstance(item, ast.FunctionDef)})
    return found


def _is_ellipsis(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and node.value.value is Ellipsis


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    first = body[0] if body else None
    doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
    return body[1:] if doc else body


def _leaves_bodies(skeleton: str) -> bool:
    """Whether a skeleton leaves a body to write (a ``...``), rather than giving code to fix."""
    return any(_is_ellipsis(statement) for function in _functions(ast.parse(skeleton)).values()
               for statement in function.body)


def solution_skeleton(skeleton: str, reference: str, where: str = "skeleton") -> str:
    """Return a coding exercise's skeleton with each ``...`` body replaced by the reference's code in a solution region.

    The skeleton keeps its signatures, docstrings and any statements the reference also starts with (such as
    ``super().__init__()``); the rest of each reference function or method body goes between
    ``### BEGIN SOLUTION`` and ``### END SOLUTION`` at the ``...``'s indentation, with the reference's comments.
    A comment after a ``...`` stays, on the line above the region, as the students' hint.

    Args:
        skeleton: the skeleton cell's source (functions or classes whose bodies are ``...``).
        reference: the reference implementation's source (the exercise's ``solution``).
        where: how to name the skeleton in error messages.

    Raises:
        ValueError: when the skeleton has no ``...`` body, or the reference lacks a function the skeleton
            leaves to write, or does not start with the statements the skeleton keeps.
    """
    ref_lines = textwrap.dedent(reference).split("\n")
    ref_functions = _functions(ast.parse("\n".join(ref_lines)))
    lines = skeleton.split("\n")
    regions: dict[int, list[str]] = {}  # 0-based line of a `...` -> the lines that replace it
    for qualname, function in _functions(ast.parse(skeleton)).items():
        for position, statement in enumerate(function.body):
            if not _is_ellipsis(statement):
                continue
            line = lines[statement.lineno - 1].strip()
            if not line.startswith("...") or line[3:].strip()[:1] not in ("", "#"):
                raise ValueError(f"{where}: write the `...` of {qualname} on a line of its own")
            ref = ref_functions.get(qualname)
            if ref is None:
                raise ValueError(f"{where}: the reference code defines no {qualname}; it defines "
                                 f"{', '.join(ref_functions) or 'nothing'}")
            kept = _without_docstring(function.body[:position]) if position else []
            ref_body = _without_docstring(ref.body)
            if [ast.dump(s) for s in kept] != [ast.dump(s) for s in ref_body[:len(kept)]] or len(ref_body) == len(kept):
                raise ValueError(f"{where}: {qualname} keeps statements the reference does not start with, "
                                 "or leaves nothing to write")
            start = ref_body[len(kept)].lineno - 1  # 0-based: the first statement to write, and the comments above it
            while start > 0 and ref_lines[start - 1].strip().startswith("#"):
                start -= 1
            body = textwrap.dedent("\n".join(ref_lines[start:ref.end_lineno])).strip("\n").split("\n")
            indent = " " * statement.col_offset
            hint = line[3:].strip()
            regions[statement.lineno - 1] = (
                ([indent + hint] if hint.startswith("#") else []) + [indent + BEGIN]
                + [indent + line if line.strip() else "" for line in body] + [indent + END])
    if not regions:
        raise ValueError(f"{where}: the skeleton has no `...` body to put the reference code in")
    out: list[str] = []
    for index, line in enumerate(lines):
        out.extend(regions.get(index, [line]))
    return "\n".join(out)


def _code_cell(cell_id: str, source: str, nbgrader: dict[str, Any]) -> dict[str, Any]:
    return {"cell_type": "code", "execution_count": None, "id": cell_id, "metadata": {"nbgrader": nbgrader},
            "outputs": [], "source": source.splitlines(keepends=True)}


def _set(cell: dict[str, Any], source: str, nbgrader: dict[str, Any]) -> None:
    cell["source"] = source.splitlines(keepends=True)
    cell["metadata"] = {**cell.get("metadata", {}), "nbgrader": nbgrader}
    if cell["cell_type"] == "code":
        cell["outputs"], cell["execution_count"] = [], None


def nbgrader_notebook(notebook: dict[str, Any], name: str = "notebook") -> dict[str, Any]:
    """Return a copy of ``notebook`` (a chapter as loaded with ``json.load``) in nbgrader's source format.

    Each exercise's cells become a locked title with the task and its points, an answer cell with a solution
    region, and a locked autograder test cell (a coding exercise that gives code to fix rather than ``...``
    bodies to write shows that code in a read-only cell above the answer cell); every other cell is locked,
    and the lesson's code cells after the first carry the ``skip-execution`` tag. Answer and test cells have
    no outputs; the lesson keeps its outputs (``nbgrader generate_assignment`` clears them in the students'
    copy). ``notebook`` is not modified.

    Raises:
        ValueError: when the notebook has no exercises; when its exercise cells do not follow the pattern of
            :mod:`cnn_course.answers` or use an unknown key; when the reference code lacks a function a
            skeleton leaves to write; or when two cells would share a grade_id.
    """
    registry = exercises()
    sites = find_exercises(notebook, name)
    if not sites:
        raise ValueError(f"{name} has no exercises, so nothing to grade; leave it out "
                         "(an appendix is read, not graded)")
    converted = copy.deepcopy(notebook)
    cells = converted["cells"]
    exercise_cells = {i for site in sites for i in (site.title, site.skeleton, site.check) if i is not None}
    first_code = next((i for i, cell in enumerate(cells) if cell["cell_type"] == "code"), None)
    for index, cell in enumerate(cells):
        if index in exercise_cells:
            continue
        cell_id = cell.get("id", "")
        grade_id = cell_id if _GRADE_ID.match(cell_id) else f"cell-{index}"
        cell["metadata"] = {**cell.get("metadata", {}), "nbgrader": _metadata(grade_id, locked=True)}
        if cell["cell_type"] == "code" and index != first_code:
            tags = cell["metadata"].get("tags", [])
            cell["metadata"]["tags"] = tags + [SKIP_TAG] if SKIP_TAG not in tags else tags
    before: dict[int, dict[str, Any]] = {}  # code to fix, to go before its answer cell
    after: dict[int, dict[str, Any]] = {}  # a question's test cell, to go after its answer cell
    for site in sites:
        if site.key not in registry:
            raise ValueError(f"{name}, cell {site.check}: unknown exercise key {site.key!r}")
        item, question = registry[site.key], _QUESTION.format(key=site.key)
        title = cells[site.title]
        if isinstance(item, CodeExercise):
            assert site.skeleton is not None  # find_exercises gives a coding exercise its skeleton
            points, skeleton = CODE_POINTS, cells[site.skeleton]
            if _leaves_bodies(_source(skeleton)):  # signatures and docstrings stay, the bodies are the solution
                task = _CODE_TASK.format(name=site.answer, points=points)
                text = solution_skeleton(_source(skeleton), item.solution, f"{name}, cell {site.skeleton}")
            else:  # code to fix: shown read-only above an answer cell whose solution is the reference
                task = _FIX_TASK.format(points=points)
                starter = _source(skeleton).split("\n", 1)[1].strip("\n")  # below the question's print line
                before[site.skeleton] = _code_cell(f"{skeleton.get('id') or site.skeleton}-starter", starter,
                                                   _metadata(f"{site.key}-starter", locked=True))
                before[site.skeleton]["metadata"]["tags"] = [SKIP_TAG]
                text = "\n".join([question, "", _FIX_COMMENT.format(name=site.answer), BEGIN,
                                  item.solution.strip("\n"), END])
            _set(skeleton, text, _metadata(f"{site.key}-answer", solution=True))
            _set(cells[site.check], _TEST.format(key=site.key, answer=site.answer),
                 _metadata(f"{site.key}-check", grade=True, locked=True, points=points))
        else:
            answer = answer_name(site.key)
            points, task = QUESTION_POINTS, _QUESTION_TASK.format(name=answer, points=QUESTION_POINTS)
            answer_id = cells[site.check].get("id", f"cell-{site.check}")
            _set(cells[site.check], "\n".join([question, _ANSWER_COMMENT.format(name=answer), BEGIN,
                                               f"{answer} = {item.answer!r}", END]),
                 _metadata(f"{site.key}-answer", solution=True))
            after[site.check] = _code_cell(f"{answer_id}-check", _TEST.format(key=site.key, answer=answer),
                                           _metadata(f"{site.key}-check", grade=True, locked=True, points=points))
        _set(title, _source(title).rstrip() + task, _metadata(title.get("id") or f"cell-{site.title}", locked=True))
    converted["cells"] = []
    for index, cell in enumerate(cells):
        converted["cells"] += [before[index]] if index in before else []
        converted["cells"].append(cell)
        converted["cells"] += [after[index]] if index in after else []
    note = {"cell_type": "markdown", "id": "nbgrader-note",
            "metadata": {"nbgrader": _metadata("nbgrader-note", locked=True)}, "source": [NOTE]}
    converted["cells"].insert(1 if converted["cells"] and converted["cells"][0]["cell_type"] == "markdown" else 0,
                              note)
    _check_ids(converted, name)
    return converted


def _check_ids(notebook: dict[str, Any], name: str) -> None:
    seen: dict[tuple[str, str], int] = {}
    for index, cell in enumerate(notebook["cells"]):
        for what, value in (("grade_id", cell["metadata"]["nbgrader"]["grade_id"]), ("cell id", cell.get("id"))):
            if value is None:
                continue
            if (what, value) in seen:
                raise ValueError(f"{name}: cells {seen[what, value]} and {index} share the {what} {value!r}")
            seen[what, value] = index


@dataclass(frozen=True)
class GradedCell:
    """One autograder test cell as :func:`grade_in_process` ran it.

    Attributes:
        grade_id: the cell's nbgrader grade_id (``02-1-check``).
        points: what the cell is worth.
        error: why it scores nothing (the AssertionError's text, another error, or what it wrote to stderr);
            None when it passes.
    """

    grade_id: str
    points: float
    error: str | None

    @property
    def score(self) -> float:
        """The points nbgrader gives: all of them when the cell passes, none otherwise."""
        return self.points if self.error is None else 0.0


def grade_in_process(notebook: dict[str, Any], name: str = "notebook") -> list[GradedCell]:
    """Run an nbgrader edition's code cells as the autograder would, in this process, and grade its test cells.

    Cells tagged ``skip-execution`` are skipped; an error in another cell is kept and the run goes on
    (nbgrader's ``allow_errors``); a test cell that raises, or writes to stderr, scores nothing, as in
    nbgrader. Printed output is swallowed. Works on the source edition (every test passes) and on a
    student's copy alike.
    """
    namespace: dict[str, Any] = {"__name__": "__main__"}
    graded = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code" or SKIP_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        error, stderr = None, io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
            try:
                _run_cell(_source(cell), namespace, f"<{name} cell {index}>")
            except Exception as err:  # a student's mistake of any kind: kept, as nbgrader keeps it
                error = f"{type(err).__name__}: {err}"
        if meta.get("grade") and cell["cell_type"] == "code":
            if error is None and stderr.getvalue():
                error = f"wrote to stderr: {stderr.getvalue().strip()}"
            graded.append(GradedCell(meta["grade_id"], float(meta["points"]), error))
    return graded


def write_nbgrader(chapters: dict[str, Path], out_dir: str | Path = DEFAULT_OUT, force: bool = False,
                   check: bool = False) -> tuple[list[Path], list[str]]:
    """Write each chapter in nbgrader's source format into the course folder ``out_dir``.

    Args:
        chapters: ``{stem: path}`` of the notebooks (see :func:`cnn_course.chapters.find_chapters`).
        out_dir: the nbgrader course folder; each chapter goes to ``source/<stem>/<stem>.ipynb``, and
            ``nbgrader_config.py`` is written when the folder has none (an existing one is kept).
        force: replace notebooks left by an earlier run; without it, existing ones are an error.
        check: also grade each written notebook in this process (:func:`grade_in_process`) and report
            every test cell that does not pass.

    Returns:
        The paths written, and one line per failed test cell (empty when all pass or ``check`` is False).

    Raises:
        ValueError: before anything is written, when ``out_dir`` is or lies in a notebooks folder, is or lies
            under a file, cannot be written, or holds the notebooks already (without ``force``); or when a
            chapter cannot be converted.
    """
    out = Path(out_dir)
    for folder in {path.resolve().parent for path in chapters.values()}:
        if out.resolve() == folder or folder in out.resolve().parents:
            raise ValueError(f"--out {out} lies in the notebooks folder {folder}; choose another "
                             f"(default: {DEFAULT_OUT})")
    targets = {stem: out / "source" / stem / f"{stem}.ipynb" for stem in chapters}
    check_output(out, targets.values(), force=force)
    converted = {stem: nbgrader_notebook(_read(path), path.name) for stem, path in chapters.items()}
    failures = []
    if check:
        for stem, notebook in converted.items():
            failures += [f"{stem}: {cell.grade_id}: {cell.error}" for cell in grade_in_process(notebook, stem)
                         if cell.error is not None]
    written = []
    for stem, notebook in converted.items():
        targets[stem].parent.mkdir(parents=True, exist_ok=True)
        targets[stem].write_text(json.dumps(notebook, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        written.append(targets[stem])
    config = out / "nbgrader_config.py"
    if not config.exists():
        config.write_text(CONFIG, encoding="utf-8")
        written.append(config)
    return written, failures


def run_command(args: argparse.Namespace) -> int:
    """``python -m cnn_course answers --nbgrader``: write the source edition; 0 ok, 1 a test failed, 2 bad arguments.

    Without chapter names, every chapter that has exercises. ``args`` has ``chapters``, ``notebooks``, ``out``,
    ``force`` and ``check`` (see ``cnn_course.__main__``).
    """
    try:
        chapters = find_chapters(args.notebooks or default_notebooks_dir())
        stems = resolve_chapters(args.chapters, chapters)
        if not args.chapters:  # every chapter with exercises; an appendix without any has nothing to grade
            stems = [stem for stem in stems if find_exercises(_read(chapters[stem]), chapters[stem].name)]
        paths, failures = write_nbgrader({s: chapters[s] for s in stems}, args.out or DEFAULT_OUT,
                                         force=args.force, check=args.check)
    except ValueError as err:  # a ChapterError too
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"wrote {path}")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    if args.check:
        print("every autograder test passes in the source notebooks")
    course = args.out or DEFAULT_OUT
    print(f"next: cd {course} && nbgrader generate_assignment {stems[0]}   (one assignment per chapter)")
    return 0
