"""The chapter registry: the course keeps its rules, and each rule, broken, is named in one line."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cnn_course.__main__ import main
from cnn_course.chapters import CHAPTERS, Chapter, ChapterError, shown_definitions, validate
from cnn_course.exercise_types import Exercise

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_the_course_keeps_the_chapter_rules() -> None:
    validate(CHAPTERS, NOTEBOOKS)  # raises, listing every broken rule


def test_list_shows_each_chapter_with_its_title(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--notebooks", str(NOTEBOOKS)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [chapter.stem for chapter in CHAPTERS]
    assert lines[-1].startswith(f"{CHAPTERS[-1].stem}  {CHAPTERS[-1].title}  (")


def write_notebook(path: Path, *sources: str) -> None:
    cells = [{"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
             for s in sources]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}),
                    encoding="utf-8")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A notebooks folder with chapter 1 and a chapter 7 that shows LeNet (and a skeleton of AlexNet)."""
    write_notebook(tmp_path / "01_convolution.ipynb", "import torch")
    write_notebook(tmp_path / "07_new.ipynb", "%matplotlib inline\nclass LeNet:\n    pass",
                   'print(cnn_course.exercise("07-x"))\nclass AlexNet:\n    ...', "def broken(:")
    return tmp_path


FIRST = CHAPTERS[0]
NEW = Chapter("07_new", "New", "ch01", networks=("LeNet",))  # chapter 1's exercises: keys 01-..., not 07-...


def test_a_notebook_shows_its_top_level_definitions_but_not_exercise_skeletons(folder: Path) -> None:
    assert shown_definitions(folder / "07_new.ipynb") == {"LeNet"}


@pytest.mark.parametrize(
    "chapters, message",
    [
        ((FIRST, replace(NEW, stem="07-new")), "07-new: not a notebook name such as 06_resnet"),
        ((FIRST, NEW, NEW), "07_new: listed twice"),
        ((NEW, FIRST), "the chapters are not in course order: 07_new, 01_convolution"),
        ((FIRST,), "07_new: a notebook without an entry in cnn_course/chapters.py"),
        ((FIRST, NEW, replace(NEW, stem="08_more")), "08_more: no notebook"),
        ((FIRST, replace(NEW, exercise_module=None)), "07_new: a chapter needs an exercise module"),
        ((FIRST, replace(NEW, exercise_module="ch99")),
         "exercise_module='ch99' is no module of cnn_course/exercise_bank"),
        ((FIRST, NEW), "07_new: exercise keys ['01-1', '01-2', '01-3', '01-4', '01-5', '01-6', '01-corr2d'] do not "
                       "start with 07-"),
        ((FIRST, replace(NEW, networks=("ShuffleNet",))),
         "networks ['ShuffleNet'] are not defined in cnn_course/models.py"),
        ((FIRST, replace(NEW, networks=("LeNet", "AlexNet"))), "07_new: the notebook does not show ['AlexNet']"),
        ((replace(FIRST, shares_with=("07_new",)), NEW), "shares_with names '07_new', which is not an appendix 01a_"),
        ((replace(FIRST, benchmark="lenet"), replace(NEW, benchmark="lenet")), "benchmark 'lenet' belongs to more"),
    ],
)
def test_each_broken_rule_is_named(chapters: tuple[Chapter, ...], message: str, folder: Path) -> None:
    with pytest.raises(ChapterError, match="breaks these rules") as raised:
        validate(chapters, folder)
    assert message in str(raised.value)


def test_an_appendix_needs_no_exercises_but_a_chapter_does(folder: Path) -> None:
    write_notebook(folder / "01a_extra.ipynb", "import torch")
    chapters = (replace(FIRST, shares_with=("01a_extra",)), Chapter("01a_extra", "Extra"),
                replace(NEW, exercise_module=None))
    with pytest.raises(ChapterError) as raised:
        validate(chapters, folder)
    assert str(raised.value).splitlines()[1:] == ["07_new: a chapter needs an exercise module in "
                                                  "cnn_course/exercise_bank (exercise_module='ch07')"]


def test_question_and_coding_counts_are_checked(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (folder / "01_convolution.ipynb").unlink()
    question = Exercise(key="07-1", question="?", answer=1, solution="1")
    monkeypatch.setattr(Chapter, "exercises", lambda self: [question, question])
    with pytest.raises(ChapterError) as raised:
        validate((NEW,), folder)
    assert str(raised.value).splitlines()[1:] == [
        "07_new: exercise key '07-1' is used twice",
        "07_new: 2 question(s); a chapter asks at least 3",
        "07_new: no coding exercise; a chapter has at least one",
    ]
