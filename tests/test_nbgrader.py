"""The nbgrader edition for teachers: nbgrader's cell metadata and solution regions, points, the graded cells
passing with the answers and failing with a student's mistake, the command's refusals, and nbgrader's own
generate_assignment / autograde / generate_feedback steps on chapter 2 with a right and a wrong submission."""

from __future__ import annotations

import ast
import copy
import hashlib
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cnn_course.__main__ import main
from cnn_course.answers import find_exercises
from cnn_course.exercises import CodeExercise, check, exercises
from cnn_course.nbgrader_edition import (
    BEGIN,
    CODE_POINTS,
    END,
    QUESTION_POINTS,
    SKIP_TAG,
    answer_name,
    grade_in_process,
    nbgrader_notebook,
    solution_skeleton,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
CHAPTER = "02_pooling"  # small: five questions and pool2d; its lesson loads a data set, which grading must skip
WITH_EXERCISES = [p for p in sorted(NOTEBOOK_DIR.glob("[0-9]*.ipynb"))
                  if find_exercises(json.loads(p.read_text(encoding="utf-8")), p.name)]
# The chapter's exercises as the registry lists them: the counts and points follow the exercise bank.
KEYS = [key for key in exercises() if key.startswith("02-")]
TOTAL = sum(CODE_POINTS if isinstance(exercises()[key], CodeExercise) else QUESTION_POINTS for key in KEYS)
# A student's typical mistake in pool2d: without a stride it steps by 1, not by the window. The check names it.
MISTAKE = ("stride = pool_size if stride is None else stride", "stride = 1 if stride is None else stride")


def wrong_edits() -> tuple[dict[str, tuple[str, str]], str, str]:
    """The wrong submission's changes (pool2d's mistake, 02-4's first known wrong answer), and the diagnoses
    the course's checks give for them, computed here in this process."""
    item = exercises()["02-4"]
    wrong, hint = item.hints[0]
    namespace: dict[str, Any] = {}
    exec("import torch\n" + exercises()["02-pool2d"].solution.replace(*MISTAKE), namespace)
    diagnosis = check("02-pool2d", namespace["pool2d"])
    assert not diagnosis and "stride" in diagnosis.message  # the mistake's own diagnosis, not a generic one
    answer = (f"answer_02_4 = {item.answer!r}", f"answer_02_4 = {wrong!r}")
    return {"02-pool2d-answer": MISTAKE, "02-4-answer": answer}, diagnosis.message, hint

def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict[str, Any]) -> str:
    text = cell["source"]
    return "".join(text) if isinstance(text, list) else text


def by_grade_id(notebook: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {cell["metadata"]["nbgrader"]["grade_id"]: cell for cell in notebook["cells"]}


def digest(folder: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())).hexdigest()


def student_version(notebook: dict[str, Any]) -> dict[str, Any]:
    """What nbgrader generate_assignment does to the solution regions, with nbgrader's own preprocessor."""
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbgrader")
    from nbgrader.preprocessors import ClearSolutions

    nb = nbformat.reads(json.dumps(notebook), as_version=4)
    nb, _ = ClearSolutions().preprocess(nb, {})
    return json.loads(nbformat.writes(nb))


def submit(student: dict[str, Any], source_edition: dict[str, Any],
           edit: dict[str, tuple[str, str]] | None = None) -> dict[str, Any]:
    """A student's copy with each answer cell as the source edition answers it (minus the region markers),
    after the replacements ``edit`` gives for some answer cells (``grade_id: (old, new)``)."""
    answers = by_grade_id(source_edition)
    submitted = copy.deepcopy(student)
    for cell in submitted["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if not cell["metadata"].get("nbgrader", {}).get("solution"):
            continue
        text = "".join(line for line in source(answers[grade_id]).splitlines(keepends=True)
                       if BEGIN not in line and END not in line)
        if edit and grade_id in edit:
            old, new = edit[grade_id]
            assert old in text, (grade_id, old)
            text = text.replace(old, new)
        cell["source"] = text
    return submitted


@pytest.fixture(scope="module")
def edition() -> dict[str, Any]:
    return nbgrader_notebook(load(NOTEBOOK_DIR / f"{CHAPTER}.ipynb"), f"{CHAPTER}.ipynb")


# --- the conversion ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.stem)
def test_every_cell_carries_valid_nbgrader_metadata(path: Path) -> None:
    pytest.importorskip("nbgrader")
    import nbformat
    from nbgrader.nbgraderformat import MetadataValidator

    converted = nbgrader_notebook(load(path), path.name)
    # nbgrader's own validator: the schema (version 3), grade_id and points where needed, no duplicate grade_id
    nb = nbformat.reads(json.dumps(converted), as_version=4)
    MetadataValidator().validate_nb(nb)
    nbformat.validate(nb)  # and still a valid notebook (unique cell ids)
    for cell in converted["cells"]:
        meta = cell["metadata"]["nbgrader"]
        assert set(meta) == {"grade", "grade_id", "locked", "schema_version", "solution"} | ({"points"} if meta["grade"]
                                                                                           else set())
        assert meta["schema_version"] == 3
        assert meta["locked"] != meta["solution"]  # answers are editable, everything else read-only


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.stem)
def test_each_exercise_is_an_answer_cell_then_a_graded_test_with_its_points(path: Path) -> None:
    chapter = load(path)
    keys = [site.key for site in find_exercises(chapter, path.name)]
    converted = nbgrader_notebook(chapter, path.name)
    cells = converted["cells"]
    graded = [(i, c) for i, c in enumerate(cells) if c["metadata"]["nbgrader"]["grade"]]
    assert [c["metadata"]["nbgrader"]["grade_id"] for _, c in graded] == [f"{key}-check" for key in keys]
    for (index, test), key in zip(graded, keys, strict=True):
        coding = isinstance(exercises()[key], CodeExercise)
        answer = cells[index - 1]
        assert answer["metadata"]["nbgrader"] == {"grade": False, "grade_id": f"{key}-answer", "locked": False,
                                                  "schema_version": 3, "solution": True}
        assert test["metadata"]["nbgrader"]["points"] == (CODE_POINTS if coding else QUESTION_POINTS)
        assert test["metadata"]["nbgrader"]["locked"] and not test["metadata"]["nbgrader"]["solution"]
        name = exercises()[key].reference.__name__ if coding else answer_name(key)
        assert source(test).splitlines()[1:] == [f'feedback = cnn_course.check("{key}", {name})',
                                                 "assert feedback, feedback.message", "print(feedback)"]
        assert answer["outputs"] == [] == test["outputs"]
        title = next(c for c in reversed(cells[:index]) if c["cell_type"] == "markdown")
        points = test["metadata"]["nbgrader"]["points"]
        assert f"**练习 {key}**" in source(title) and f"本题 {points} 分" in source(title)


def test_the_solution_regions_hold_the_answers(edition: dict[str, Any]) -> None:
    cells = by_grade_id(edition)
    for key, item in exercises().items():
        if not key.startswith("02-"):
            continue
        lines = source(cells[f"{key}-answer"]).splitlines()
        marks = [line.strip() for line in lines]
        assert marks.count(BEGIN) == marks.count(END) == 1
        region = lines[marks.index(BEGIN) + 1:marks.index(END)]
        if isinstance(item, CodeExercise):
            assert "stride = pool_size if stride is None else stride" in region[0]
            assert lines[0] == 'print(cnn_course.exercise("02-pool2d"))'
            assert '    """Max or average pooling of a 2-D tensor (no padding); stride defaults to pool_size.' in lines
        else:
            assert region == [f"{answer_name(key)} = {item.answer!r}"]
    assert answer_name("02-1") == "answer_02_1" and answer_name("04a-3") == "answer_04a_3"


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.stem)
def test_the_students_version_keeps_the_skeleton_and_loses_every_answer(path: Path) -> None:
    converted = nbgrader_notebook(load(path), path.name)
    student = student_version(converted)
    for key, item in exercises().items():
        if f"{key}-answer" not in by_grade_id(converted):
            continue
        cell = source(by_grade_id(student)[f"{key}-answer"])
        assert BEGIN not in cell and "NotImplementedError" in cell
        if isinstance(item, CodeExercise):  # the students get code that runs: signatures, docstrings, the stub;
            starter = by_grade_id(student).get(f"{key}-starter")  # or, to fix, read-only code above the answer
            tree = ast.parse(cell if starter is None else source(starter))
            assert item.reference.__name__ in {node.name for node in tree.body if hasattr(node, "name")}
        region, inside = set(), False  # the teacher's lines between BEGIN and END SOLUTION
        for line in source(by_grade_id(converted)[f"{key}-answer"]).splitlines():
            inside = (inside or line.strip() == BEGIN) and line.strip() != END
            if inside and line.strip() not in ("", BEGIN):
                region.add(line.strip())
        assert region and not region & {line.strip() for line in cell.splitlines()}, key


def test_lesson_cells_are_locked_and_only_the_imports_run_when_grading(edition: dict[str, Any]) -> None:
    chapter = load(NOTEBOOK_DIR / f"{CHAPTER}.ipynb")
    exercise_ids = {cell["id"] for cell in chapter["cells"] if re.search(r"练习 02-|cnn_course\.(check|exercise)\(",
                                                                          source(cell))}
    run = [c for c in edition["cells"] if c["cell_type"] == "code" and SKIP_TAG not in c["metadata"].get("tags", [])]
    assert run[0]["id"] == "c002" and source(run[0]).splitlines()[1] == "import torch"  # the imports
    assert all(c["metadata"]["nbgrader"]["grade_id"].startswith("02-") for c in run[1:])
    lesson = [c for c in edition["cells"] if c.get("id") in {x["id"] for x in chapter["cells"]} - exercise_ids]
    assert len(lesson) > 30 and all(c["metadata"]["nbgrader"]["locked"] for c in lesson)
    loads_data = [c for c in lesson if "load_data(" in source(c)]
    assert loads_data and all(SKIP_TAG in c["metadata"]["tags"] for c in loads_data)
    assert all(SKIP_TAG not in c["metadata"].get("tags", []) for c in edition["cells"] if c["cell_type"] == "markdown")
    kept = {c["id"]: c for c in chapter["cells"]}
    assert all(c["outputs"] == kept[c["id"]]["outputs"] for c in lesson if c["cell_type"] == "code")
    assert "nbgrader 作业版" in source(edition["cells"][1])


def test_graded_in_process_the_answers_pass_a_blank_copy_scores_nothing_and_a_mistake_is_diagnosed(
    edition: dict[str, Any],
) -> None:
    teacher = grade_in_process(edition, CHAPTER)
    assert [(c.grade_id, c.error) for c in teacher] == [(c.grade_id, None) for c in teacher]
    assert sum(c.score for c in teacher) == TOTAL and [c.grade_id for c in teacher] == [f"{k}-check" for k in KEYS]
    student = student_version(edition)
    assert sum(c.score for c in grade_in_process(student, CHAPTER)) == 0
    edits, diagnosis, hint = wrong_edits()
    graded = {c.grade_id: c for c in grade_in_process(submit(student, edition, edits), CHAPTER)}
    assert {g for g, c in graded.items() if c.error} == {"02-pool2d-check", "02-4-check"}
    assert graded["02-pool2d-check"].error == f"AssertionError: {diagnosis}"
    assert hint in graded["02-4-check"].error

def test_chapters_are_never_modified(edition: dict[str, Any]) -> None:
    chapter = load(NOTEBOOK_DIR / f"{CHAPTER}.ipynb")
    kept = copy.deepcopy(chapter)
    nbgrader_notebook(chapter, CHAPTER)
    assert chapter == kept


def test_code_to_fix_is_shown_read_only_above_an_answer_cell_whose_solution_is_the_reference() -> None:
    flipped = "def corr2d(X, K):\n    return corr2d_ref(X, K.flip(0, 1))"
    notebook = {"cells": [
        {"cell_type": "markdown", "id": "t", "metadata": {}, "source": "# 标题"},
        {"cell_type": "code", "id": "i", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "import torch\nimport cnn_course"},
        {"cell_type": "markdown", "id": "a", "metadata": {}, "source": "**练习 01-corr2d** 改对它。"},
        {"cell_type": "code", "id": "b", "metadata": {}, "outputs": [], "execution_count": None,
         "source": f'print(cnn_course.exercise("01-corr2d"))\n\n\n{flipped}'},
        {"cell_type": "code", "id": "c", "metadata": {}, "outputs": [], "execution_count": None,
         "source": 'cnn_course.check("01-corr2d", corr2d)\n# print(cnn_course.solution("01-corr2d"))'},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    converted = nbgrader_notebook(notebook, "demo.ipynb")
    cells = by_grade_id(converted)
    assert list(cells) == ["t", "nbgrader-note", "i", "a", "01-corr2d-starter", "01-corr2d-answer", "01-corr2d-check"]
    starter = cells["01-corr2d-starter"]
    assert source(starter) == flipped and starter["metadata"]["tags"] == [SKIP_TAG]
    assert starter["metadata"]["nbgrader"]["locked"] and not starter["metadata"]["nbgrader"]["solution"]
    answer = source(cells["01-corr2d-answer"])
    assert exercises()["01-corr2d"].solution.strip() in answer and answer.count(BEGIN) == 1
    assert "复制到再下一个单元格里改好" in source(cells["a"])
    assert [(c.grade_id, c.error) for c in grade_in_process(converted, "demo")] == [("01-corr2d-check", None)]
    student = student_version(converted)
    assert "def corr2d" not in source(by_grade_id(student)["01-corr2d-answer"])
    assert source(by_grade_id(student)["01-corr2d-starter"]) == flipped
    assert sum(c.score for c in grade_in_process(student, "demo")) == 0


# --- the skeleton's solution regions ----------------------------------------------------------------------

SKELETON = '''class Block(nn.Module):
    """Doc."""

    def __init__(self, n: int) -> None:
        super().__init__()
        ...  # the layers

    def forward(self, x):
        ...'''
REFERENCE = '''class Block(nn.Module):
    """Reference doc."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n  # kept

    def forward(self, x):
        # x: N x C
        return x * self.n'''


def test_solution_skeleton_puts_each_reference_body_in_a_region_at_the_skeletons_indentation() -> None:
    assert solution_skeleton(SKELETON, REFERENCE) == '''class Block(nn.Module):
    """Doc."""

    def __init__(self, n: int) -> None:
        super().__init__()
        # the layers
        ### BEGIN SOLUTION
        self.n = n  # kept
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        # x: N x C
        return x * self.n
        ### END SOLUTION'''


@pytest.mark.parametrize("skeleton, reference, message", [
    ("def f(x):\n    return x", "def f(x):\n    return x", "no `...` body"),
    (SKELETON, REFERENCE.replace("def forward", "def backward"), "defines no Block.forward"),
    (SKELETON, REFERENCE.replace("super().__init__()", "pass"), "keeps statements the reference does not start"),
    ("def f(x):\n    ...; x", "def f(x):\n    return x", "on a line of its own"),
    ("def f(x): ...", "def f(x):\n    return x", "on a line of its own"),
])
def test_solution_skeleton_names_what_it_cannot_do(skeleton: str, reference: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        solution_skeleton(skeleton, reference, "demo")


# --- the command ------------------------------------------------------------------------------------------


def test_the_command_writes_an_nbgrader_course_folder_and_leaves_the_notebooks_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    before = digest(NOTEBOOK_DIR)
    course = tmp_path / "course"
    assert main(["answers", "01", "pooling", "--nbgrader", "--out", str(course), "--check"]) == 0
    out = capsys.readouterr().out
    assert "every autograder test passes" in out and "nbgrader generate_assignment 01_convolution" in out
    assert sorted(str(p.relative_to(course)) for p in course.rglob("*") if p.is_file()) == [
        "nbgrader_config.py", "source/01_convolution/01_convolution.ipynb", "source/02_pooling/02_pooling.ipynb"]
    assert "c.Execute.timeout = 120" in (course / "nbgrader_config.py").read_text(encoding="utf-8")
    assert main(["answers", "02", "--nbgrader", "--out", str(course)]) == 2
    assert "--force" in capsys.readouterr().err
    (course / "nbgrader_config.py").write_text("c = get_config()  # the teacher's own\n", encoding="utf-8")
    assert main(["answers", "02", "--nbgrader", "--out", str(course), "--force"]) == 0
    assert "nbgrader_config.py" not in capsys.readouterr().out
    assert "the teacher's own" in (course / "nbgrader_config.py").read_text(encoding="utf-8")
    assert digest(NOTEBOOK_DIR) == before


def test_without_chapter_names_every_chapter_with_exercises_becomes_an_assignment(tmp_path: Path) -> None:
    assert main(["answers", "--nbgrader", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in (tmp_path / "source").iterdir()) == [p.stem for p in WITH_EXERCISES]
    assert "04a_alexnet_on_a_cpu" not in {p.stem for p in WITH_EXERCISES}


@pytest.mark.parametrize("args, message", [
    (["04a"], "04a_alexnet_on_a_cpu.ipynb has no exercises, so nothing to grade"),
    (["02", "--out", "{notebooks}"], "lies in the notebooks folder"),
    (["02", "--out", "{notebooks}/course"], "lies in the notebooks folder"),
    (["02", "--out", "{tmp}/a-file/course"], "会位于文件"),
    (["no-such-chapter"], "unknown chapter 'no-such-chapter'"),
])
def test_bad_arguments_get_one_line_status_2_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str,
) -> None:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    before = digest(NOTEBOOK_DIR)
    argv = [a.format(notebooks=NOTEBOOK_DIR, tmp=tmp_path) for a in args]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "course")]
    assert main(["answers", "--nbgrader", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "course").exists() and digest(NOTEBOOK_DIR) == before


# --- nbgrader's own steps ---------------------------------------------------------------------------------


def nbgrader(course: Path, *args: str) -> str:
    """Run an nbgrader command in the course folder; its kernels import this checkout's cnn_course."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "JUPYTER_CONFIG_DIR": str(course / ".jupyter")}  # no teacher's ~/.jupyter/nbgrader_config.py
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.mark.kernel
def test_nbgrader_generates_the_assignment_and_grades_a_right_and_a_wrong_submission(tmp_path: Path) -> None:
    pytest.importorskip("nbgrader")
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    assert main(["answers", CHAPTER, "--nbgrader", "--out", str(course)]) == 0
    nbgrader(course, "generate_assignment", CHAPTER)
    release = load(course / "release" / CHAPTER / f"{CHAPTER}.ipynb")
    assert BEGIN not in json.dumps(release)
    assert "window.max()" not in source(by_grade_id(release)["02-pool2d-answer"])  # (the lesson's pool2d stays)
    stubs = [source(c) for c in release["cells"] if c["metadata"]["nbgrader"]["solution"]]
    assert len(stubs) == len(KEYS) and all(text.endswith("raise NotImplementedError()") for text in stubs)
    edition = load(course / "source" / CHAPTER / f"{CHAPTER}.ipynb")
    submissions = {
        "right": submit(release, edition),
        "wrong": submit(release, edition, wrong_edits()[0]),
    }
    for student, notebook in submissions.items():
        folder = course / "submitted" / student / CHAPTER
        folder.mkdir(parents=True)
        (folder / f"{CHAPTER}.ipynb").write_text(json.dumps(notebook, ensure_ascii=False), encoding="utf-8")
    nbgrader(course, "autograde", CHAPTER)
    nbgrader(course, "generate_feedback", CHAPTER)

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {student: {grade.name: grade.auto_score
                            for grade in gradebook.find_submission_notebook(CHAPTER, CHAPTER, student).grades}
                  for student in submissions}
        assert gradebook.find_submission(CHAPTER, "right").score == TOTAL
        assert gradebook.find_submission(CHAPTER, "wrong").score == TOTAL - CODE_POINTS - QUESTION_POINTS
    assert scores["right"] == {f"{key}-check": CODE_POINTS if isinstance(exercises()[key], CodeExercise)
                               else QUESTION_POINTS for key in KEYS}
    assert {name for name, score in scores["wrong"].items() if score == 0} == {"02-pool2d-check", "02-4-check"}

    _, diagnosis, hint = wrong_edits()
    graded = load(course / "autograded" / "wrong" / CHAPTER / f"{CHAPTER}.ipynb")
    errors = {c["metadata"]["nbgrader"]["grade_id"]: c["outputs"][-1] for c in graded["cells"]
              if c["metadata"].get("nbgrader", {}).get("grade") and c["outputs"]
              and c["outputs"][-1]["output_type"] == "error"}
    assert set(errors) == {"02-pool2d-check", "02-4-check"}
    assert (errors["02-pool2d-check"]["ename"], errors["02-pool2d-check"]["evalue"]) == ("AssertionError", diagnosis)
    skipped = [c for c in graded["cells"] if SKIP_TAG in c["metadata"].get("tags", [])]
    assert len(skipped) > 10 and all(c.get("execution_count") is None and not c["outputs"] for c in skipped)
    feedback = html.unescape((course / "feedback" / "wrong" / CHAPTER / f"{CHAPTER}.html").read_text(encoding="utf-8"))
    assert diagnosis in feedback and hint in feedback
    assert f"Score: {TOTAL - CODE_POINTS - QUESTION_POINTS}.0 / {TOTAL}.0" in feedback
    right_feedback = (course / "feedback" / "right" / CHAPTER / f"{CHAPTER}.html").read_text(encoding="utf-8")
    assert f"Score: {TOTAL}.0 / {TOTAL}.0" in right_feedback and "✘" not in right_feedback
