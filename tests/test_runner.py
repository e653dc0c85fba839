"""The headless runner and the results it collects: chapter names, record_result, the table,
the command line's answers to bad values, real runs on tiny notebooks, Ctrl-C and cell timeouts.
(The chapter registry itself is tested in tests/test_chapters.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import torch
from torch import nn

import cnn_course
from cnn_course import History, profiles, results
from cnn_course.__main__ import main
from cnn_course.chapters import ChapterError, find_chapters, resolve_chapters
from cnn_course.config import PROFILE_ENV
from cnn_course.results import NotebookRun, Result, chapter_rows, markdown_table, read_results, render_chapter_table
from cnn_course.runner import SETUP, run_notebook

CHAPTERS = {stem: Path(f"/nb/{stem}.ipynb") for stem in ("01_convolution", "03_lenet", "04_alexnet", "06_resnet")}
TABLE = {"smoke": {"epochs": 1}, "quick": {"epochs": 3}, "full": {"epochs": 10}}


# --------------------------------------------------------------------------- chapter names


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


@pytest.mark.parametrize(
    "query, stem",
    [("05", "05_googlenet"), ("5", "05_googlenet"), ("googlenet", "05_googlenet"), ("05a", "05a_googlenet_stall"),
     ("5A", "05a_googlenet_stall"), ("googlenet_stall", "05a_googlenet_stall"),
     ("05a_googlenet_stall.ipynb", "05a_googlenet_stall")],
)
def test_an_appendix_is_found_after_its_chapter_and_named_by_its_letter(tmp_path: Path, query: str, stem: str) -> None:
    for name in ("06_resnet", "05a_googlenet_stall", "05_googlenet", "notes"):
        (tmp_path / f"{name}.ipynb").write_text("{}", encoding="utf-8")
    chapters = find_chapters(tmp_path)
    assert list(chapters) == ["05_googlenet", "05a_googlenet_stall", "06_resnet"]
    assert resolve_chapters([query], chapters) == [stem]


# --------------------------------------------------------------------------- record_result


def _history(epochs: int, **extra) -> History:
    return History(device="cpu", epochs_planned=extra.pop("epochs_planned", epochs),
                   train_loss=[0.5] * epochs, train_acc=[0.8] * epochs, valid_acc=[0.8 + i / 100 for i in range(epochs)],
                   epoch_seconds=[2.0] * epochs, img_per_sec=[50.0] * epochs, **extra)


class FakeTestIter:
    """100 test images of which the first ``round(100 * acc)`` are class 0, which :class:`SaysZero` always predicts."""

    def __init__(self, acc: float = 0.75) -> None:
        zeros = round(100 * acc)
        self.labels = torch.tensor([0] * zeros + [1] * (100 - zeros))

    def __iter__(self):
        images = torch.randn(100, 1, 4, 4, generator=torch.Generator().manual_seed(0))
        return iter([(images[i:i + 25], self.labels[i:i + 25]) for i in range(0, 100, 25)])

    def describe(self) -> str:
        return "Fake test: 100 images, 4x4, batch 25, on cpu, from nowhere"


class SaysZero(nn.Module):
    """Scores class 0 above class 1 for every image."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([1.0, 0.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bias.expand(len(x), 2)


@pytest.fixture
def saving(tmp_path: Path):
    """Results saved to a file, as the runner asks in a kernel; saving is switched off afterwards."""
    target = tmp_path / "results.jsonl"
    results.save_results_to(target, chapter="99_test")
    yield target
    results.save_results_to(None)


def test_record_result_takes_the_profile_from_the_settings_and_saves_a_line(
    saving: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(PROFILE_ENV, "full")  # what the notebook chose wins over the environment
    cfg = cnn_course.choose_settings(TABLE, profile="smoke", verbose=False)
    result = cnn_course.record_result("source", _history(2), FakeTestIter(), model=SaysZero(), settings=cfg)
    out = capsys.readouterr().out
    assert "[source] 验证准确率 81.00 %（训练 2 轮后）" in out
    assert "[source] 测试准确率 75.00 %（训练结束后只评估这一次，fp32），数据：Fake test" in out
    assert isinstance(result, Result) and read_results(saving) == [result]
    saved = json.loads(saving.read_text(encoding="utf-8"))
    assert saved["profile"] == "smoke" and saved["settings"] == {"epochs": 1} and saved["chapter"] == "99_test"


def test_record_result_saves_nothing_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = cnn_course.choose_settings(TABLE, profile="smoke", verbose=False)
    assert cnn_course.record_result("source", _history(1), FakeTestIter(), model=SaysZero(), settings=cfg).chapter == ""
    assert list(tmp_path.iterdir()) == []


def test_record_result_names_a_results_file_it_cannot_write(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    results.save_results_to(tmp_path / "a-file" / "results.jsonl", chapter="99_test")
    cfg = cnn_course.choose_settings(TABLE, profile="smoke", verbose=False)
    try:
        with pytest.raises(OSError, match="无法把结果保存到 .*a-file/results.jsonl（由 save_results_to 指定）"):
            cnn_course.record_result("source", _history(1), FakeTestIter(), model=SaysZero(), settings=cfg)
    finally:
        results.save_results_to(None)


def test_the_runners_setup_chooses_the_profile_and_the_results_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PROFILE_ENV, "full")
    target = tmp_path / "r.jsonl"
    try:
        exec(SETUP.format(profile="smoke", results=str(target), chapter="03_tiny"), {})
        cfg = cnn_course.choose_settings(TABLE, verbose=False)
        cnn_course.record_result("source", _history(1), FakeTestIter(), model=SaysZero(), settings=cfg)
    finally:
        profiles.use_profile(None)
        results.save_results_to(None)
    (saved,) = read_results(target)
    assert cfg.profile == "smoke" and saved.chapter == "03_tiny" and saved.profile == "smoke"
    assert cnn_course.get_profile() == "full"  # use_profile(None) gives the environment back
    with pytest.raises(ValueError, match="profile='turbo' 不是档位"):
        profiles.use_profile("turbo")


def test_record_result_reports_an_interrupted_training_as_such(capsys: pytest.CaptureFixture[str]) -> None:
    history = _history(2, epochs_planned=5, interrupted=True, unfinished_epoch=3)
    cfg = cnn_course.choose_settings(TABLE, profile="quick", verbose=False)
    result = cnn_course.record_result("source", history, FakeTestIter(), model=SaysZero(), settings=cfg)
    assert "验证准确率 81.00 %（完成 2 轮后（第 3 轮时中断））" in capsys.readouterr().out
    assert result.epochs == 2 and result.valid_acc == pytest.approx(0.81) and result.test_acc == 0.75
    assert result.interrupted


def test_record_result_says_which_precision_trained(capsys: pytest.CaptureFixture[str]) -> None:
    cfg = cnn_course.choose_settings(TABLE, profile="quick", verbose=False)
    result = cnn_course.record_result("source", _history(1, precision="bf16"), FakeTestIter(), model=SaysZero(), settings=cfg)
    assert "张/秒，设备 cpu，bf16" in capsys.readouterr().out and result.precision == "bf16"
    result = cnn_course.record_result("source", _history(1), FakeTestIter(), model=SaysZero(), settings=cfg)
    assert "张/秒，设备 cpu\n" in capsys.readouterr().out and result.precision == "fp32"  # the default goes unsaid
    rows = chapter_rows([_run("05_googlenet", _record("05_googlenet", "source", 0.9, precision="bf16")),
                         _run("03_lenet", _record("03_lenet", "source", 0.9))])
    assert {row["chapter"]: row["device"] for row in rows} == {"05_googlenet": "cpu (bf16)", "03_lenet": "cpu"}


def test_record_result_wants_the_chosen_settings() -> None:
    with pytest.raises(ValueError, match="settings 必须是 cnn_course.choose_settings 返回的对象.*传入的是 dict"):
        cnn_course.record_result("source", _history(1), FakeTestIter(), model=SaysZero(), settings={"profile": "smoke"})


# --------------------------------------------------------------------------- the table


def _record(chapter: str, recipe: str, acc: float, **extra) -> dict:
    record = {"chapter": chapter, "recipe": recipe, "profile": "smoke", "settings": {"epochs": 2}, "test_acc": acc,
              "epochs": 2, "seconds": 10.0, "img_per_sec": 400.0, "device": "cpu",
              "data": "MNIST test: 1,000 images, 28x28, batch 256, on cpu, from /data/MNIST/raw"}
    record.update(extra)
    return record


def _run(chapter: str, *records: dict, **extra) -> NotebookRun:
    return NotebookRun(chapter, "a.ipynb", "b.ipynb", results=[Result.from_dict(r) for r in records], **extra)


def test_results_read_back_and_tabulated(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    lines = [_record("03_lenet", "source", 0.9), _record("03_lenet", "improved", 0.95, img_per_sec=800.0),
             _record("03_lenet", "improved", 0.96), _record("04_alexnet", "source", 0.5, unknown_key=1)]
    path.write_text("\n".join(json.dumps(r) for r in lines) + '\n{broken\n{"recipe": "no chapter"}\n', encoding="utf-8")
    with pytest.warns(UserWarning, match="不是结果行；已跳过") as caught:
        saved = read_results(path)
    assert len(caught) == 2 and [(r.chapter, r.test_acc) for r in saved] == [
        ("03_lenet", 0.9), ("03_lenet", 0.95), ("03_lenet", 0.96), ("04_alexnet", 0.5)]
    rows = chapter_rows([_run(stem, *[r for r in lines if r["chapter"] == stem], wall_seconds=12.0)
                         for stem in ("03_lenet", "04_alexnet")])
    lenet, alexnet = rows
    assert lenet["source_acc"] == 0.9 and lenet["improved_acc"] == 0.96  # the last record wins
    assert lenet["gain"] == 6.0
    assert alexnet["improved_acc"] is None and alexnet["gain"] is None
    text = render_chapter_table(rows, "smoke")
    assert "| 03_lenet | ok | smoke | MNIST test: 1,000 images, 28x28 | 2 | — / 90.00 % | — / 96.00 % | +6.00 |" in text
    assert "| 10.0 / 10.0 | 400 / 400 | cpu | 12.0 |" in text
    assert "from /data/MNIST/raw" in text  # the full data line is listed under the table
    assert read_results(tmp_path / "missing.jsonl") == []


def test_table_marks_a_recipe_that_stopped_early() -> None:
    rows = chapter_rows([_run("05_googlenet", _record("05_googlenet", "source", 0.7,
                                                      stop_reason="interrupted in epoch 3"))])
    assert "| 2 (source interrupted in epoch 3) |" in render_chapter_table(rows)


def test_failed_run_shows_its_error() -> None:
    run = NotebookRun("04_alexnet", "a.ipynb", "b.ipynb", "failed", "ValueError: bad | thing", 3.0)
    row = chapter_rows([run])[0]
    assert row["status"] == "failed" and row["source_acc"] is None
    assert "failed: ValueError: bad \\| thing" in render_chapter_table([row])


def test_markdown_table_aligns_and_escapes() -> None:
    assert markdown_table(["a", "n"], [["x|y", 3], ["z", 4.5]], align="lr") == (
        "| a | n |\n|---|---:|\n| x\\|y | 3 |\n| z | 4.5 |")


# --------------------------------------------------------------------------- bad command-line values


def _write_notebook(path: Path, *sources: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "googlenet"], "unknown chapter 'googlenet'; known chapters: 03_lenet"),
        (["run", "--profile", "turbo"], "invalid choice: 'turbo'"),
        (["run", "--timeout", "0"], "--timeout: must be a positive whole number of seconds"),
        (["run", "--timeout", "soon"], "--timeout: must be a positive whole number of seconds"),
        (["run", "--kernel", "no-such-kernel"], "没有名为 'no-such-kernel' 的 Jupyter 内核"),
        (["run", "--out", "{tmp}/a-file"], "输出文件夹 {tmp}/a-file 是一个文件；请另选 --out"),
        (["run", "--out", "{tmp}/a-file/results"], "会位于文件 {tmp}/a-file 之下；请另选 --out"),
        (["run", "--out", "{tmp}/earlier"], "results.smoke.md 是之前运行留下的；加上 --force"),
        (["run", "--notebooks", "{tmp}/nope"], "does not exist"),
        (["list", "--notebooks", "{tmp}/a-file"], "is not a folder"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_command_line_values_get_one_line_and_status_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    _write_notebook(notebooks / "03_lenet.ipynb", "print('never run')")
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    (tmp_path / "earlier").mkdir()
    (tmp_path / "earlier" / "results.smoke.md").write_text("# an earlier table\n", encoding="utf-8")
    argv = [a.format(tmp=tmp_path) for a in args]
    if argv[0] == "run":
        argv += ["--profile", "smoke"] if "--profile" not in argv else []
        argv += ["--notebooks", str(notebooks)] if "--notebooks" not in argv else []
        argv += ["--out", str(tmp_path / "out")] if "--out" not in argv else []
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: ")
    assert message.format(tmp=tmp_path) in captured.err
    assert (tmp_path / "earlier" / "results.smoke.md").read_text(encoding="utf-8") == "# an earlier table\n"
    assert not (tmp_path / "out").exists()  # nothing was started


def test_a_folder_that_cannot_be_written_is_refused_before_any_kernel_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    _write_notebook(notebooks / "03_lenet.ipynb", "print('never run')")
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # Tests run as root, for whom every folder is writable: the permission is what os.access says.
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))
    argv = ["run", "--profile", "smoke", "--notebooks", str(notebooks), "--out", str(locked / "results")]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"error: 无法写入 {locked}（没有权限）；请另选 --out\n"
    assert list(locked.iterdir()) == []


def test_bad_profile_in_the_environment_gets_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(PROFILE_ENV, "fast")
    assert main(["run", "--notebooks", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"error: {PROFILE_ENV}='fast' 不是档位；请用 smoke、quick、full 之一\n"


# --------------------------------------------------------------------------- real runs

RECORD_CELL = """\
import cnn_course
from cnn_course import History

import torch
from torch import nn

class FakeTestIter:
    def __iter__(self):
        zeros = round(100 * {acc})
        labels = torch.tensor([0] * zeros + [1] * (100 - zeros))
        return iter([(torch.randn(100, 1, 4, 4), labels)])
    def describe(self):
        return "Fake test: 100 images, 4x4, batch 100, on cpu, from nowhere"

class SaysZero(nn.Module):
    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([1.0, 0.0]))
    def forward(self, x):
        return self.bias.expand(len(x), 2)

cfg = cnn_course.choose_settings({{"smoke": {{"epochs": 1}}, "quick": {{"epochs": 2}}, "full": {{"epochs": 3}}}})
history = History(device="cpu", epochs_planned=1, train_loss=[0.5], train_acc=[0.8], valid_acc=[0.5],
                  epoch_seconds=[2.0], img_per_sec=[50.0])
cnn_course.record_result("{recipe}", history, FakeTestIter(), model=SaysZero(), settings=cfg)
"""


@pytest.mark.kernel
def test_run_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(PROFILE_ENV, "full")  # the kernels inherit it; the runner's --profile must win
    notebooks, out = tmp_path / "notebooks", tmp_path / "results"
    notebooks.mkdir()
    _write_notebook(notebooks / "03_tiny.ipynb", RECORD_CELL.format(acc=0.9, recipe="source"),
                    RECORD_CELL.format(acc=0.93, recipe="improved"))
    _write_notebook(notebooks / "04_broken.ipynb", "print('no torch here: a quick kernel')", "1 / 0", "print('never')")
    before = {p.name: p.read_bytes() for p in notebooks.iterdir()}

    status = main(["run", "tiny", "4", "--profile", "smoke", "--notebooks", str(notebooks), "--out", str(out)])
    captured = capfd.readouterr()  # the kernels' own output too
    assert status == 1, captured.err  # one notebook failed
    assert "1 of 2 notebook(s) failed: 04_broken" in captured.err
    assert "without encryption" not in captured.err  # the kernels start quietly
    assert {p.name: p.read_bytes() for p in notebooks.iterdir()} == before  # sources untouched

    table = json.loads((out / "results.smoke.json").read_text(encoding="utf-8"))
    tiny, broken = table["rows"]
    assert tiny["chapter"] == "03_tiny" and tiny["status"] == "ok"
    assert tiny["source_acc"] == 0.9 and tiny["improved_acc"] == 0.93 and tiny["gain"] == 3.0
    # the runner's profile reached choose_settings in the kernel, and record_result took it from there
    assert tiny["profile"] == "smoke" and tiny["device"] == "cpu" and tiny["data"].startswith("Fake test")
    assert broken["status"] == "failed" and broken["source_acc"] is None
    assert broken["error"] == "ZeroDivisionError: division by zero，在第 2 个单元格（`1 / 0`）"
    assert "| 03_tiny | ok | smoke |" in (out / "results.smoke.md").read_text(encoding="utf-8")
    assert [(r.chapter, r.recipe) for r in read_results(out / "results.smoke.jsonl")] == [
        ("03_tiny", "source"), ("03_tiny", "improved")]
    assert (out / "04_broken.smoke.ipynb").is_file()  # a failed notebook is saved too, with its error
    # the runner's set-up left no trace: the executed copy is the chapter with its outputs
    executed = nbformat.read(out / "03_tiny.smoke.ipynb", as_version=4)
    assert [c.source for c in executed.cells] == [c.source for c in nbformat.read(notebooks / "03_tiny.ipynb", 4).cells]
    assert [c.execution_count for c in executed.cells] == [1, 2]
    assert [c.metadata for c in executed.cells] == [{}, {}]  # no timing stamps either
    assert "档位（profile）：smoke" in executed.cells[0].outputs[0].text


@pytest.mark.kernel
def test_timeout_names_the_cell_and_the_limit(tmp_path: Path) -> None:
    notebook = tmp_path / "01_sleepy.ipynb"
    _write_notebook(notebook, "import time\ntime.sleep(600)")
    status, error, _ = run_notebook(notebook, tmp_path / "out.ipynb", timeout=3)
    assert status == "failed"
    assert error == "TimeoutError: 第 1 个单元格（`import time`）超过了每个单元格 3 s 的时限"
    assert (tmp_path / "out.ipynb").is_file()


@pytest.mark.kernel
def test_a_failed_setup_is_named_and_no_cell_runs(tmp_path: Path) -> None:
    notebook, ran = tmp_path / "01_any.ipynb", tmp_path / "ran"
    _write_notebook(notebook, f"import pathlib\npathlib.Path({str(ran)!r}).touch()")
    status, error, _ = run_notebook(notebook, tmp_path / "out.ipynb", setup="import no_such_module_here")
    assert status == "failed" and not ran.exists()
    assert error == ("ModuleNotFoundError: No module named 'no_such_module_here'，在第一个单元格之前，"
                     "在运行器的准备代码里（内核 'python3' 里装了 cnn_course 吗？）")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.is_file() and stat.read_text().split(")")[-1].split()[0] == "Z")  # a zombie is dead


@pytest.mark.kernel
@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT, as Ctrl-C in a terminal does")
def test_ctrl_c_stops_the_run_at_once_and_keeps_the_finished_chapters(tmp_path: Path) -> None:
    notebooks, out = tmp_path / "notebooks", tmp_path / "out"
    notebooks.mkdir()
    started, never = tmp_path / "started", tmp_path / "never"
    _write_notebook(notebooks / "01_done.ipynb", "print('done')")
    _write_notebook(notebooks / "02_sleepy.ipynb",
                    f"import os, pathlib, time\npathlib.Path({str(started)!r}).write_text(str(os.getpid()))\n"
                    "time.sleep(600)")
    _write_notebook(notebooks / "03_never.ipynb", f"import pathlib\npathlib.Path({str(never)!r}).touch()")
    runner = subprocess.Popen(
        [sys.executable, "-m", "cnn_course", "run", "--profile", "smoke", "--notebooks", str(notebooks),
         "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as in a terminal, even under CI
    )
    try:
        deadline = time.monotonic() + 300  # a guard against a hang, not a measurement
        while not started.is_file() or not started.read_text():
            assert runner.poll() is None and time.monotonic() < deadline, runner.communicate()
            time.sleep(0.2)
        runner.send_signal(signal.SIGINT)
        _, err = runner.communicate(timeout=120)
    finally:
        runner.kill()
    own_lines = [line for line in err.splitlines() if not line.startswith("[IPKernelApp]")]  # the kernel's own log
    assert runner.returncode == 130, err
    assert "without encryption" not in err  # 01_done ran in a kernel that started quietly
    assert own_lines == [f"interrupted during 02_sleepy: stopped; 1 finished chapter(s) kept in {out}/results.smoke.md"]
    table = json.loads((out / "results.smoke.json").read_text(encoding="utf-8"))
    assert [(r["chapter"], r["status"]) for r in table["rows"]] == [("01_done", "ok")]
    assert "| 01_done | ok |" in (out / "results.smoke.md").read_text(encoding="utf-8")
    assert not never.exists()  # the next chapter did not start
    assert not _alive(int(started.read_text()))  # the kernel was stopped with the runner
