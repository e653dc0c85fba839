"""The headless notebook runner: chapter names, the results table, and a real run on tiny notebooks."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from cnn_course.__main__ import main
from cnn_course.runner import ChapterError, NotebookRun, build_rows, read_results, render_markdown, resolve_chapters

CHAPTERS = {stem: Path(f"/nb/{stem}.ipynb") for stem in ("01_convolution", "03_lenet", "04_alexnet", "06_resnet")}


@pytest.mark.parametrize(
    "query, stem",
    [("03", "03_lenet"), ("3", "03_lenet"), ("lenet", "03_lenet"), ("LeNet", "03_lenet"), ("03_lenet", "03_lenet"),
     ("03_lenet.ipynb", "03_lenet"), ("alex", "04_alexnet"), ("6", "06_resnet"), ("1", "01_convolution")],
)
def test_resolve_chapter_names(query: str, stem: str) -> None:
    assert resolve_chapters([query], CHAPTERS) == [stem]


def test_resolve_keeps_order_drops_duplicates_and_defaults_to_all() -> None:
    assert resolve_chapters(["resnet", "3", "lenet"], CHAPTERS) == ["06_resnet", "03_lenet"]
    assert resolve_chapters([], CHAPTERS) == list(CHAPTERS)


@pytest.mark.parametrize("query", ["5", "googlenet", "x", "net"])
def test_unknown_chapter_lists_the_known_ones(query: str) -> None:
    with pytest.raises(ChapterError, match="known chapters: 01_convolution, 03_lenet, 04_alexnet, 06_resnet"):
        resolve_chapters([query], CHAPTERS)


def test_ambiguous_prefix_is_refused() -> None:
    chapters = {"05_resnet": Path("a"), "06_resnext": Path("b")}
    with pytest.raises(ChapterError, match="ambiguous"):
        resolve_chapters(["resn"], chapters)


def _record(chapter: str, recipe: str, acc: float, **extra) -> dict:
    record = {"chapter": chapter, "recipe": recipe, "profile": "smoke", "test_acc": acc, "epochs": 2,
              "seconds": 10.0, "img_per_sec": 400.0, "device": "cpu",
              "data": "MNIST test: 1,000 images, 28x28, batch 256, on cpu, from /data/MNIST/raw"}
    record.update(extra)
    return record


def test_table_from_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    lines = [_record("03_lenet", "source", 0.9), _record("03_lenet", "improved", 0.95, img_per_sec=800.0),
             _record("03_lenet", "improved", 0.96), _record("04_alexnet", "source", 0.5)]
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n{broken\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="not a result line"):
        records = read_results(path)
    assert len(records) == 4
    rows = build_rows(records)
    assert [r["chapter"] for r in rows] == ["03_lenet", "04_alexnet"]
    lenet, alexnet = rows
    assert lenet["source_acc"] == 0.9 and lenet["improved_acc"] == 0.96  # the last record wins
    assert lenet["gain"] == 6.0
    assert alexnet["improved_acc"] is None and alexnet["gain"] is None
    text = render_markdown(rows, "smoke")
    assert "| 03_lenet | recorded | smoke | MNIST test: 1,000 images, 28x28 | 2 | 90.00 % | 96.00 % | +6.00 |" in text
    assert "from /data/MNIST/raw" in text  # the full data line is listed under the table
    assert read_results(tmp_path / "missing.jsonl") == []


def test_failed_run_shows_its_error() -> None:
    run = NotebookRun("04_alexnet", "a.ipynb", "b.ipynb", "failed", "ValueError: bad | thing", 3.0)
    row = build_rows([run])[0]
    assert row["status"] == "failed" and row["source_acc"] is None
    assert "failed: ValueError: bad \\| thing" in render_markdown([row])


RECORD_CELL = """\
import os
import cnn_course
from cnn_course.training import History

class FakeTestIter:
    def describe(self):
        return "Fake test: 10 images, 28x28, batch 5, on cpu, from nowhere"

history = History(device="cpu", train_loss=[0.5], train_acc=[0.8], test_acc=[{acc}],
                  epoch_seconds=[2.0], img_per_sec=[50.0])
cnn_course.record_result("{recipe}", history, FakeTestIter())
print(os.environ["CNN_COURSE_PROFILE"], os.environ["CNN_COURSE_CHAPTER"])
"""


def _write_notebook(path: Path, *sources: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_run_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notebooks, out = tmp_path / "notebooks", tmp_path / "results"
    notebooks.mkdir()
    _write_notebook(notebooks / "03_tiny.ipynb", RECORD_CELL.format(acc=0.9, recipe="source"),
                    RECORD_CELL.format(acc=0.925, recipe="improved"))
    _write_notebook(notebooks / "04_broken.ipynb", "print('no torch here: a quick kernel')", "1 / 0", "print('never')")
    before = {p.name: p.read_bytes() for p in notebooks.iterdir()}

    status = main(["run", "tiny", "4", "--profile", "smoke", "--notebooks", str(notebooks), "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 1, captured.err  # one notebook failed
    assert "1 of 2 notebook(s) failed: 04_broken" in captured.err
    assert {p.name: p.read_bytes() for p in notebooks.iterdir()} == before  # sources untouched

    table = json.loads((out / "results.smoke.json").read_text(encoding="utf-8"))
    tiny, broken = table["rows"]
    assert tiny["chapter"] == "03_tiny" and tiny["status"] == "ok"
    assert tiny["source_acc"] == 0.9 and tiny["improved_acc"] == 0.925 and tiny["gain"] == 2.5
    assert tiny["profile"] == "smoke" and tiny["device"] == "cpu" and tiny["data"].startswith("Fake test")
    assert broken["status"] == "failed" and broken["error"] == "ZeroDivisionError: division by zero"
    assert broken["source_acc"] is None
    assert "| 03_tiny | ok | smoke |" in (out / "results.smoke.md").read_text(encoding="utf-8")

    executed = nbformat.read(out / "03_tiny.smoke.ipynb", as_version=4)
    assert "smoke 03_tiny" in executed.cells[0].outputs[-1]["text"]  # the kernel saw the runner's variables
    assert (out / "04_broken.smoke.ipynb").is_file()  # a failed notebook is saved too, with its error

    # A second run refuses to replace the first one's files unless told to.
    assert main(["run", "3", "--profile", "smoke", "--notebooks", str(notebooks), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "03_lenet.ipynb").write_text("{}", encoding="utf-8")
    assert main(["run", "googlenet", "--notebooks", str(tmp_path)]) == 2
    assert "unknown chapter 'googlenet'; known chapters: 03_lenet" in capsys.readouterr().err
    assert main(["run", "--notebooks", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse's own message for a bad choice
        main(["run", "--profile", "nope"])
    capsys.readouterr()
    assert main(["list", "--notebooks", str(tmp_path)]) == 0
    assert "03_lenet" in capsys.readouterr().out
