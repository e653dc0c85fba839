"""The course's chapters in one place: each chapter's notebook, exercises, networks, benchmark and appendices.

Adding a chapter touches four files: its notebook, its exercise module in ``exercise_bank/``, its entry
in :data:`CHAPTERS`, and ``models.py`` when it shows a new network. :func:`validate` checks the chapter
rules once, for the tests; the runner and the ``answers`` command find and name chapters here.
Importing this module imports nothing else of the package.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .exercise_types import AnyExercise

__all__ = [
    "CHAPTERS",
    "Chapter",
    "ChapterError",
    "default_notebooks_dir",
    "find_chapters",
    "resolve_chapters",
    "shown_definitions",
    "validate",
]

# A chapter is NN_name.ipynb; an appendix to chapter NN is NNa_name.ipynb (a letter after the number).
_NOTEBOOK_NAME = re.compile(r"^(\d+)([a-z]?)_([A-Za-z0-9_\-]+)\.ipynb$")


class ChapterError(ValueError):
    """A chapter name matches no notebook or several, or a chapter breaks a rule; the message says what would work."""


@dataclass(frozen=True)
class Chapter:
    """What one chapter is.

    Attributes:
        stem: the notebook's name without ``.ipynb``: ``NN_name``, or ``NNa_name`` for an appendix to chapter NN.
        title: a short title, shown by ``python -m cnn_course list``.
        exercise_module: the chapter's module in ``cnn_course/exercise_bank`` (``"ch06"``); None for an appendix
            without exercises.
        networks: the names of :mod:`cnn_course.models` that the notebook shows in full (networks, blocks,
            initialisations); ``tests/test_models.py`` holds each copy to the package's code.
        benchmark: the chapter's network in ``benchmarks/pipelines.py`` (``SPECS``), or None.
        shares_with: appendices that reuse this chapter's helpers.
        facts: numbers the prose states that no output of the notebook prints, each mapped to its source
            (the source course's reported results, a paper's figure, arithmetic the prose shows);
            ``tests/test_claims.py`` holds every other number with a unit to the notebook's outputs.
    """

    stem: str
    title: str
    exercise_module: str | None = None
    networks: tuple[str, ...] = ()
    benchmark: str | None = None
    shares_with: tuple[str, ...] = ()
    facts: Mapping[str, str] = field(default_factory=dict)

    @property
    def number(self) -> str:
        """The chapter's number as its exercise keys begin: ``"06"``, or ``"05a"`` for an appendix."""
        return self.stem.split("_", 1)[0]

    def exercises(self) -> list[AnyExercise]:
        """Return the chapter's exercises in notebook order (``[]`` when it has none).

        Raises:
            ModuleNotFoundError: when ``exercise_module`` names no module of ``cnn_course.exercise_bank``.
        """
        if self.exercise_module is None:
            return []
        module = importlib.import_module(f"{__package__}.exercise_bank.{self.exercise_module}")
        return list(module.EXERCISES)


# Numbers a chapter's prose states that no output prints, with their sources (tests/test_claims.py reads
# them): the source course's reported results, papers' published figures, arithmetic the prose shows.
_FACTS_03 = {
    "98.52 %": "the source course's reported test accuracy of LeNet-5 on full MNIST (one GPU run)",
    "0.1 个百分点": "arithmetic shown in the prose: one image of a 1,000-image test set",
    "0.2 个百分点": "arithmetic shown in the prose: one image of a 500-image validation set",
    "1.5 个百分点": "arithmetic: 100 % minus the source course's 98.52 %",
}

_FACTS_04 = {
    "15.3%": "Krizhevsky, Sutskever & Hinton (2012), ImageNet Classification with Deep CNNs: top-5 error, ILSVRC-2012",
    "26.2%": "Krizhevsky et al. (2012): the runner-up's top-5 error in ILSVRC-2012",
    "25%": "Krizhevsky et al. (2012), figure 1: the training error on CIFAR-10 that both networks are timed to",
    "6 倍": "Krizhevsky et al. (2012), figure 1: ReLU reaches it six times faster than tanh",
    "4 倍": "arithmetic shown in the prose: the first convolution has stride 4",
    "8 倍": "arithmetic: 224 / 28, the upscaling of the images",
    "64 倍": "arithmetic shown in the prose: 8 x 8 pixels for each original pixel",
    "10 倍": "arithmetic shown in the prose: momentum 0.9 multiplies the step by 1 / (1 - 0.9)",
    "91.22%": "the source course's reported test accuracy of AlexNet on Fashion-MNIST (224 x 224, 10 epochs)",
    "89.59%": "the source course's reported test accuracy of its GoogLeNet on Fashion-MNIST",
}

_FACTS_05 = {
    "6.67%": "Szegedy et al. (2015), Going Deeper with Convolutions: GoogLeNet's top-5 error, ILSVRC-2014",
    "12 倍": "Szegedy et al. (2015): 12 times fewer parameters than AlexNet",
    "9 倍": "arithmetic shown in the prose: torchvision's 61 million / 6.6 million parameters; and 3 x 3",
    "25 倍": "arithmetic shown in the prose: 5 x 5",
    "91.22%": "the source course's reported test accuracy of AlexNet on Fashion-MNIST",
    "89.59%": "the source course's reported test accuracy of this GoogLeNet on Fashion-MNIST",
    "10%": "arithmetic shown in the prose: chance level, 1 of 10 equally likely classes",
}

_FACTS_06 = {
    "3.57%": "He et al. (2016), Deep Residual Learning for Image Recognition: top-5 error, ILSVRC-2015",
    "7 倍": "arithmetic shown in the prose: 152 / 22 layers",
    "0.5 倍": "a hypothetical factor in the derivation of vanishing gradients, not a result",
    "90.04%": "the source course's reported test accuracy of its ResNet on Fashion-MNIST",
}


#: The chapters in course order.
CHAPTERS: tuple[Chapter, ...] = (
    Chapter("01_convolution", "Convolution", "ch01"),
    Chapter("02_pooling", "Pooling", "ch02"),
    Chapter("03_lenet", "LeNet-5", "ch03", networks=("LeNet", "init_xavier"), benchmark="lenet", facts=_FACTS_03),
    Chapter("04_alexnet", "AlexNet", "ch04", networks=("AlexNet", "init_he", "VGGBlock", "VGG"),
            benchmark="alexnet", shares_with=("04a_alexnet_on_a_cpu",), facts=_FACTS_04),
    Chapter("04a_alexnet_on_a_cpu", "Appendix: training AlexNet on a CPU", networks=("SlimAlexNet",)),
    Chapter("05_googlenet", "GoogLeNet", "ch05",
            networks=("Inception", "GoogLeNet", "PaperInception", "PaperGoogLeNet"), benchmark="googlenet",
            shares_with=("05a_googlenet_stall",), facts=_FACTS_05),
    Chapter("05a_googlenet_stall", "Appendix: why some seeds stall at chance level"),
    Chapter("06_resnet", "ResNet", "ch06", networks=("ResidualBlock", "ResNet"), benchmark="resnet", facts=_FACTS_06),
    Chapter("07_explain_and_transfer", "Explain and transfer", "ch07",
            networks=("DepthwiseSeparable", "MobileNet")),
)


# --------------------------------------------------------------------------- finding chapters


def default_notebooks_dir() -> Path:
    """Return ``./notebooks`` when it exists, else the ``notebooks`` folder next to the package."""
    here = Path.cwd() / "notebooks"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "notebooks"


def _sort_key(stem: str) -> tuple[int, str]:
    match = _NOTEBOOK_NAME.match(stem + ".ipynb")
    return (int(match.group(1)), stem) if match else (-1, stem)


def find_chapters(notebooks_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Return ``{stem: path}`` of the chapter notebooks in a folder (``NN_name.ipynb``, ``NNa_name.ipynb``), in order.

    Raises:
        ChapterError: when the folder does not exist or is a file.
    """
    folder = Path(notebooks_dir)
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise ChapterError(f"the notebooks folder {folder} {problem}; give one with --notebooks DIR")
    found = [p for p in folder.iterdir() if p.is_file() and _NOTEBOOK_NAME.match(p.name)]
    return {p.stem: p for p in sorted(found, key=lambda p: _sort_key(p.stem))}


def _matches(query: str, stem: str) -> int:
    """How well ``query`` names the notebook ``stem``: 3 exact, 2 number, 1 name prefix, 0 not at all.

    A number names the chapter, never its appendix: "05" is ``05_googlenet``, "05a" is ``05a_...``.
    """
    match = _NOTEBOOK_NAME.match(stem + ".ipynb")
    if match is None:
        return 0
    number, letter, name = match.group(1), match.group(2), match.group(3).lower()
    q = query.strip().lower().removesuffix(".ipynb")
    if q in (stem.lower(), name):
        return 3
    numbered = re.fullmatch(r"(\d+)([a-z]?)", q)
    if numbered:
        return 2 if (int(numbered.group(1)), numbered.group(2)) == (int(number), letter) else 0
    return 1 if len(q) >= 2 and name.startswith(q) else 0


def resolve_chapters(queries: Sequence[str], chapters: dict[str, Path]) -> list[str]:
    """Turn chapter names as users type them ("03", "3", "lenet", "03_lenet", "05a") into notebook stems.

    An empty ``queries`` means every chapter. Duplicates are dropped, order is kept.

    Raises:
        ChapterError: for a name that matches no chapter or several; the message lists the known ones.
    """
    if not chapters:
        raise ChapterError("no chapter notebooks (named like 03_lenet.ipynb) were found")
    if not queries:
        return list(chapters)
    known = ", ".join(chapters)
    chosen: list[str] = []
    for query in queries:
        scores = {stem: _matches(str(query), stem) for stem in chapters}
        best = max(scores.values())
        hits = [stem for stem, score in scores.items() if score == best and best > 0]
        if not hits:
            raise ChapterError(f"unknown chapter {query!r}; known chapters: {known}")
        if len(hits) > 1:
            raise ChapterError(f"chapter {query!r} is ambiguous: it matches {', '.join(hits)}; known chapters: {known}")
        if hits[0] not in chosen:
            chosen.append(hits[0])
    return chosen


# --------------------------------------------------------------------------- the chapter rules


def shown_definitions(notebook: str | os.PathLike[str]) -> set[str]:
    """Return the names of the classes and functions a notebook defines at the top level of its code cells.

    Exercise skeletons (cells calling ``cnn_course.exercise(``) do not count: they are the student's to write.
    Cells that do not parse (IPython magics aside) are skipped.
    """
    names: set[str] = set()
    for cell in json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] != "code" or "cnn_course.exercise(" in source:
            continue
        lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        names |= {node.name for node in tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}
    return names


def _exercise_problems(chapter: Chapter) -> list[str]:
    from .exercise_types import CodeExercise, Exercise

    if chapter.exercise_module is None:
        if chapter.number[-1].isalpha():
            return []  # an appendix may have no exercises
        return [f"{chapter.stem}: a chapter needs an exercise module in cnn_course/exercise_bank "
                f"(exercise_module='ch{chapter.number}')"]
    try:
        items = chapter.exercises()
    except ModuleNotFoundError:
        return [f"{chapter.stem}: exercise_module={chapter.exercise_module!r} is no module of "
                "cnn_course/exercise_bank; write it there, with a list EXERCISES"]
    keys = [item.key for item in items]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    problems = [f"{chapter.stem}: exercise key {key!r} is used twice" for key in twice]
    foreign = [key for key in keys if not key.startswith(f"{chapter.number}-")]
    if foreign:
        problems.append(f"{chapter.stem}: exercise keys {foreign} do not start with {chapter.number}-")
    questions = sum(isinstance(item, Exercise) for item in items)
    if questions < 3:
        problems.append(f"{chapter.stem}: {questions} question(s); a chapter asks at least 3")
    coding = sum(isinstance(item, CodeExercise) for item in items)
    if coding < 1:
        problems.append(f"{chapter.stem}: no coding exercise; a chapter has at least one")
    return problems


def validate(chapters: Sequence[Chapter] = CHAPTERS, notebooks_dir: str | os.PathLike[str] | None = None) -> None:
    """Check the chapter rules: every broken rule is reported at once, one line each.

    The rules: stems are ``NN_name`` (appendices ``NNa_name``), unique and in course order; each has
    its notebook, and each notebook in the folder has an entry; a chapter (not an appendix) has an
    exercise module whose keys start with its number, with at least 3 questions and at least one
    coding exercise; every name in ``networks`` is defined in :mod:`cnn_course.models` and shown
    in the notebook; ``shares_with`` names appendices of the same chapter; benchmarks are unique.

    Args:
        chapters: the registry to check (default: :data:`CHAPTERS`).
        notebooks_dir: the folder of the notebooks (default: :func:`default_notebooks_dir`).

    Raises:
        ChapterError: listing every problem found.
    """
    from . import models

    folder = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
    on_disk = find_chapters(folder)
    stems = [chapter.stem for chapter in chapters]
    problems = [f"{stem}: not a notebook name such as 06_resnet or 05a_googlenet_stall"
                for stem in stems if not _NOTEBOOK_NAME.match(stem + ".ipynb")]
    problems += [f"{stem}: listed twice" for stem in sorted({s for s in stems if stems.count(s) > 1})]
    if stems != sorted(stems, key=_sort_key):
        problems.append(f"the chapters are not in course order: {', '.join(stems)}")
    problems += [f"{stem}: a notebook without an entry in cnn_course/chapters.py" for stem in on_disk
                 if stem not in stems]
    benchmarks = [chapter.benchmark for chapter in chapters if chapter.benchmark]
    problems += [f"benchmark {name!r} belongs to more than one chapter"
                 for name in sorted({b for b in benchmarks if benchmarks.count(b) > 1})]
    for chapter in chapters:
        notebook = folder / f"{chapter.stem}.ipynb"
        if not notebook.is_file():
            problems.append(f"{chapter.stem}: no notebook {notebook}")
        problems += _exercise_problems(chapter)
        unknown = [name for name in chapter.networks if name not in models.__all__]
        if unknown:
            problems.append(f"{chapter.stem}: networks {unknown} are not defined in cnn_course/models.py")
        shown = shown_definitions(notebook) if chapter.networks and notebook.is_file() else set(chapter.networks)
        missing = [name for name in chapter.networks if name not in unknown and name not in shown]
        if missing:
            problems.append(f"{chapter.stem}: the notebook does not show {missing} in a code cell of its own")
        for other in chapter.shares_with:
            if other not in stems or not re.fullmatch(rf"{chapter.number}[a-z]_.+", other):
                problems.append(f"{chapter.stem}: shares_with names {other!r}, which is not an appendix "
                                f"{chapter.number}a_... in the registry")
    if problems:
        raise ChapterError("the chapter registry (cnn_course/chapters.py) breaks these rules:\n" + "\n".join(problems))
