"""Tests for the exercises as the chapters use them: one cell pattern, keys in course order, every key used
once; the committed cells give clean feedback; the teachers' answered copies pass every check."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from pathlib import Path

import pytest
import torch
from torch import nn

import cnn_course
from cnn_course.__main__ import main
from cnn_course.answers import answer_notebook, check_answers, find_exercises
from cnn_course.chapters import CHAPTERS, Chapter
from cnn_course.exercises import CodeExercise, check, collect, exercises

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
# The chapters with exercises, by notebook.
CHAPTER_OF = {NOTEBOOK_DIR / f"{chapter.stem}.ipynb": chapter for chapter in CHAPTERS if chapter.exercise_module}
NOTEBOOKS = list(CHAPTER_OF)


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def in_course_order(keys: list[str]) -> bool:
    """Chapters in increasing order, and within each chapter the numbered questions in increasing order.

    Coding exercises (keys without a number) may sit between the questions, where the chapter uses them.
    """
    chapters = [int(key.split("-", 1)[0]) for key in keys]
    numbered = [(int(c), int(rest)) for c, rest in (key.split("-", 1) for key in keys) if rest.isdigit()]
    return chapters == sorted(chapters) and numbered == sorted(numbered)


# --- collection -------------------------------------------------------------------------------------------


def test_registry_is_the_chapter_lists_in_course_order() -> None:
    listed = [item.key for chapter in CHAPTERS for item in chapter.exercises()]
    assert list(exercises()) == listed and in_course_order(listed)
    assert not in_course_order(["01-2", "01-1"]) and not in_course_order(["02-1", "01-1"])
    assert in_course_order(["01-1", "01-corr2d", "01-2", "02-1"])


def test_collect_rejects_a_key_used_twice() -> None:
    first = CHAPTERS[0]
    with pytest.raises(ValueError, match="'01-1' is used twice \\(again in 99_again\\)"):
        collect((first, Chapter("99_again", "Again", first.exercise_module)))


# --- the chapters -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercises_follow_one_pattern_in_course_order(path: Path) -> None:
    sites = find_exercises(load(path), path.name)  # raises, naming the cell, where the pattern is broken
    keys = [site.key for site in sites]
    assert keys == [item.key for item in CHAPTER_OF[path].exercises()]
    assert in_course_order(keys)
    for site in sites:
        coding = isinstance(exercises()[site.key], CodeExercise)
        assert (site.skeleton is not None) == coding, site
        assert site.answer == (exercises()[site.key].reference.__name__ if coding else "..."), site


def test_every_exercise_is_used_once_in_the_chapters() -> None:
    used = [site.key for path in NOTEBOOKS for site in find_exercises(load(path), path.name)]
    assert used == list(exercises())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_exercise_cells_give_clean_feedback(path: Path) -> None:
    results = check_answers(load(path), path.stem)
    assert results and all(not feedback for _, feedback in results)
    for key, feedback in results:
        # A coding exercise's skeleton is unimplemented, or (a "change it and retrain" exercise) the unchanged code.
        expected = ("还没有实现", "还没有改动") if isinstance(exercises()[key], CodeExercise) else ("还没有作答",)
        assert any(text in feedback.message for text in expected), (key, feedback.message)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_answered_copy_passes_every_check(path: Path) -> None:
    original = load(path)
    kept = copy.deepcopy(original)
    answered = answer_notebook(original, path.name)
    assert original == kept
    results = check_answers(answered, path.stem)
    assert [key for key, _ in results] == [item.key for item in CHAPTER_OF[path].exercises()]
    assert all(results[i][1] for i in range(len(results))), [str(f) for _, f in results if not f]
    assert "教师版" in "".join(answered["cells"][0]["source"])


def test_the_chapters_own_implementations_pass_the_coding_checks() -> None:
    """corr2d and pool2d as chapters 1 and 2 teach them (not the skeletons) pass; the exercise copies cannot drift."""
    for path, name, key in [(NOTEBOOKS[0], "corr2d", "01-corr2d"), (NOTEBOOKS[1], "pool2d", "02-pool2d")]:
        cells = [("".join(c["source"])) for c in load(path)["cells"] if c["cell_type"] == "code"]
        lesson = [s for s in cells if re.search(rf"^def {name}\(", s, re.M) and "cnn_course.exercise(" not in s]
        assert len(lesson) == 1, path.name
        namespace = {"torch": torch, "nn": nn}
        exec(lesson[0], namespace)
        assert check(key, namespace[name])
    assert check("05-inception", cnn_course.models.Inception)


@pytest.mark.parametrize("broken, message", [
    ('cnn_course.check("01-1", ...)', "exactly"),
    ('print(cnn_course.exercise("01-1"))\ncnn_course.check("01-1", ...)', "exactly the three lines"),
    ('print(cnn_course.exercise("01-1")); cnn_course.check("01-1", ...)', "line of its own"),
])
def test_a_broken_exercise_cell_is_named(broken: str, message: str) -> None:
    notebook = {"cells": [{"cell_type": "markdown", "source": "**练习 01-1**"},
                          {"cell_type": "code", "source": broken}]}
    with pytest.raises(ValueError, match=message):
        find_exercises(notebook, "demo.ipynb")


def test_an_exercise_without_its_title_is_named() -> None:
    cell = 'print(cnn_course.exercise("01-1"))\ncnn_course.check("01-1", ...)\n# print(cnn_course.solution("01-1"))'
    notebook = {"cells": [{"cell_type": "markdown", "source": "no title"}, {"cell_type": "code", "source": cell}]}
    with pytest.raises(ValueError, match=r"demo.ipynb, cell 1 \(01-1\).*\*\*练习 01-1\*\*"):
        find_exercises(notebook, "demo.ipynb")


# --- the teachers' command --------------------------------------------------------------------------------


def digest(folder: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.glob("*.ipynb")))).hexdigest()


def test_answers_command_writes_copies_elsewhere_and_never_overwrites(tmp_path: Path, capsys) -> None:
    notebooks = NOTEBOOKS[0].parent
    before = digest(notebooks)
    out = tmp_path / "answers"
    assert main(["answers", "01", "pooling", "--out", str(out), "--check"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["01_convolution.ipynb", "02_pooling.ipynb"]
    assert "every exercise check passes" in capsys.readouterr().out
    answered = load(out / "02_pooling.ipynb")
    assert any('cnn_course.check("02-1", ((1.0, 2.0), (2.0, 1.0)))' in "".join(c["source"]) for c in answered["cells"])
    assert main(["answers", "01", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["answers", "01", "--out", str(out), "--force"]) == 0
    assert main(["answers", "--out", str(notebooks), "--force"]) == 2
    assert "notebooks' own folder" in capsys.readouterr().err
    assert digest(notebooks) == before


def test_answers_refuses_an_output_folder_it_cannot_use_before_answering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import cnn_course.answers

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("a chapter was answered before the output folder was checked")

    monkeypatch.setattr(cnn_course.answers, "answer_notebook", never)
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    assert main(["answers", "01", "--out", str(tmp_path / "a-file" / "answers"), "--check"]) == 2
    assert capsys.readouterr().err == (f"error: 输出文件夹 {tmp_path}/a-file/answers 会位于文件 "
                                       f"{tmp_path}/a-file 之下；请另选 --out\n")
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # Tests run as root, for whom every folder is writable: the permission is what os.access says.
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))
    assert main(["answers", "01", "--out", str(locked / "answers")]) == 2
    assert capsys.readouterr().err == f"error: 无法写入 {locked}（没有权限）；请另选 --out\n"
    assert list(locked.iterdir()) == []
