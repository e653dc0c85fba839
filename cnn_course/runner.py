"""Run chapter notebooks headless (nbclient) and collect their results into one table.

Each kernel first runs :data:`SETUP` silently: the notebook's parameters (profile, results file), passed
explicitly like a papermill parameters cell that leaves no trace in the executed copy. Ctrl-C kills the
running kernel (``train`` would catch a plain interrupt and let the notebook go on) and keeps the tables.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from .chapters import ChapterError
from .config import PROFILES
from .results import NotebookRun, chapter_rows, check_output, read_results, render_chapter_table

__all__ = ["SETUP", "RunInterrupted", "RunnerError", "check_kernel", "run_chapters", "run_notebook"]

#: What each kernel runs, silently, before the first cell (formatted with profile, results file and chapter).
SETUP = (
    "import cnn_course.profiles, cnn_course.results\n"
    "cnn_course.profiles.use_profile({profile!r})\n"
    "cnn_course.results.save_results_to({results!r}, chapter={chapter!r})\n"
)
#: How long an interrupted run waits for nbclient to tidy up after the kernel was killed.
_CLEANUP_SECONDS = 10.0


class RunnerError(ValueError):
    """A run cannot start: a bad profile, timeout, output folder or kernel. The message says what would work."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run; the tables hold the chapters that finished before it.

    Attributes:
        chapter: the chapter that was running (``""`` when none was).
        runs: the chapters that finished, as :class:`~cnn_course.results.NotebookRun`.
        tables: ``{"md", "json", "jsonl"}`` paths of the tables written.
    """

    def __init__(self, chapter: str, runs: list[NotebookRun], tables: dict[str, Path]) -> None:
        super().__init__(chapter)
        self.chapter = chapter
        self.runs = runs
        self.tables = tables


def _last_line(err: BaseException) -> str:
    """The error's one-line summary: ``ename: evalue`` for a cell error, else the exception's last line."""
    ename, evalue = getattr(err, "ename", None), getattr(err, "evalue", None)
    if ename:
        return f"{ename}: {evalue}" if evalue else str(ename)
    text = str(err).strip()
    line = text.splitlines()[-1] if text else ""
    return f"{type(err).__name__}: {line}" if line else type(err).__name__


def _describe_cell(nb: Any, index: int) -> str:
    """``cell 7 (`history = train(...)`)``: the cell's position (1-based, all cells counted) and first line."""
    lines = [line.strip() for line in str(nb.cells[index].source).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    first = first if len(first) <= 60 else first[:57] + "..."
    return f"第 {index + 1} 个单元格（`{first}`）"


def _write_atomic(path: Path, text: str) -> None:
    """Write a file so that an interrupt leaves either the old or the new contents, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _kill_kernel(client: Any) -> None:
    """Kill the client's kernel with everything it started (DataLoader workers included)."""
    process = getattr(getattr(getattr(client, "km", None), "provisioner", None), "process", None)
    if process is None or process.poll() is not None:
        return
    try:
        # jupyter_client starts the kernel in a session of its own, so its group is its own pid:
        # killing the group takes its children too, and never the runner.
        if os.name == "posix" and os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except OSError:  # it ended on its own meanwhile
        pass


def _kernel_config() -> Any:
    """Configuration that starts kernels quietly: with CurveZMQ keys where jupyter_client can provision them.

    ipykernel warns, once per kernel, that it runs "over TCP without encryption"; given keys it
    encrypts instead and says nothing. Older jupyter_client (without ``transport_encryption``)
    pairs with kernels that do not warn.
    """
    import zmq
    from jupyter_client.manager import KernelManager
    from traitlets.config import Config

    config = Config()
    if "transport_encryption" in KernelManager.class_trait_names() and zmq.has("curve"):
        config.KernelManager.transport_encryption = "auto"
    return config


class _Stopped(Exception):
    """Raised inside nbclient's thread to stop before the next cell once Ctrl-C was pressed."""


class _SetupFailed(Exception):
    """The runner's set-up code failed in the kernel; nothing of the notebook ran."""


async def _run_setup(client: Any, code: str) -> None:
    """Run ``code`` silently in the client's kernel (no output, no execution count)."""
    msg_id = client.kc.execute(code, silent=True, store_history=False)
    if inspect.isawaitable(msg_id):  # the asynchronous client's execute is a coroutine
        msg_id = await msg_id
    reply = await client.async_wait_for_reply(msg_id)
    content = reply["content"] if reply else {}
    if content.get("status") != "ok":
        raise _SetupFailed(f"{content.get('ename', 'Error')}: {content.get('evalue', '内核没有应答')}")


def check_kernel(name: str) -> None:
    """Check that a Jupyter kernel of this name is installed.

    Raises:
        RunnerError: naming the kernels that are installed and how to get the default one.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    try:
        manager.get_kernel_spec(name)
    except NoSuchKernel:
        known = ", ".join(sorted(manager.find_kernel_specs())) or "无"
        raise RunnerError(
            f"没有名为 {name!r} 的 Jupyter 内核（已安装的内核：{known}）；请用 --kernel NAME 指定一个，"
            "或者这样安装默认的内核：python -m pip install ipykernel"
        ) from None


def run_notebook(
    notebook: str | os.PathLike[str],
    executed: str | os.PathLike[str],
    *,
    setup: str = "",
    timeout: int | None = None,
    kernel_name: str | None = None,
) -> tuple[str, str, float]:
    """Execute ``notebook`` in a fresh kernel and save the executed copy to ``executed``.

    The kernel runs in the notebook's folder. The copy is written even when a cell fails (it then
    shows the error where it happened). nbclient runs in a thread of its own: in the main thread it
    would install a Ctrl-C handler that shuts the kernel down and reports a failed cell, and the run
    would go on with the next chapter.

    Args:
        notebook: the notebook to run (never modified).
        executed: where to save the executed copy.
        setup: Python code the kernel runs silently before the first cell (see :data:`SETUP`).
        timeout: seconds allowed per cell (None: no limit).
        kernel_name: Jupyter kernel; None uses the notebook's own (else ``python3``).

    Returns:
        ``(status, error, wall_seconds)``: status ``"ok"`` or ``"failed"``; error names what went
        wrong and the cell (``"ZeroDivisionError: division by zero，在第 3 个单元格（`1 / 0`）"``), else ``""``.

    Raises:
        KeyboardInterrupt: on Ctrl-C, after the kernel was killed.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError

    notebook, executed = Path(notebook), Path(executed)
    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception as err:  # a damaged notebook fails its chapter, the others still run
        return "failed", f"{notebook.name} 不是可以读取的笔记本：{_last_line(err)}", 0.0
    name = kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    stop = threading.Event()
    current: dict[str, int | None] = {"index": None}

    async def on_cell_start(cell: Any, cell_index: int) -> None:
        if stop.is_set():
            raise _Stopped()
        if cell_index == 0 and setup:
            await _run_setup(client, setup)
        current["index"] = cell_index

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=name,
        resources={"metadata": {"path": str(notebook.parent.resolve())}},
        on_cell_start=on_cell_start,
        # Kill rather than ask the kernel to quit: after a timeout its cell is still running, and a
        # polite shutdown makes it print a traceback of its own. Nothing in a finished kernel is kept.
        shutdown_kernel="immediate",
        record_timing=False,  # no timestamps in each cell's metadata: the copy can replace the chapter as it is
        config=_kernel_config(),
    )
    outcome: dict[str, BaseException] = {}
    done = threading.Event()

    def execute() -> None:
        try:
            asyncio.run(client.async_execute())  # a loop of its own, closed when done
        except BaseException as err:  # handed to the calling thread
            outcome["error"] = err
        finally:
            done.set()

    # Wait on an Event, not Thread.join: a join cut short by Ctrl-C marks the thread as ended
    # while it still runs (CPython 3.11), and nbclient would then be left mid-cleanup at exit.
    worker = threading.Thread(target=execute, name=f"nbclient {notebook.stem}", daemon=True)
    start = time.perf_counter()
    worker.start()
    try:
        while not done.wait(0.1):
            pass
    except KeyboardInterrupt:
        stop.set()
        deadline = time.monotonic() + _CLEANUP_SECONDS
        while True:  # nbclient notices the dead kernel and tidies up; Ctrl-C again skips the wait
            _kill_kernel(client)  # again on each turn: the kernel may still have been starting
            if done.wait(0.1) or time.monotonic() > deadline:
                break
        raise
    seconds = time.perf_counter() - start
    failure, index = outcome.get("error"), current["index"]
    where = "在第一个单元格之前" if index is None else f"在{_describe_cell(nb, index)}"
    if failure is None:
        error = ""
    elif isinstance(failure, CellTimeoutError):
        error = (f"TimeoutError: 内核在 {timeout} s 的时限内没有应答，在第一个单元格之前"
                 if index is None else
                 f"TimeoutError: {_describe_cell(nb, index)}超过了每个单元格 {timeout} s 的时限")
    elif isinstance(failure, _SetupFailed):
        error = f"{failure}，{where}，在运行器的准备代码里（内核 {name!r} 里装了 cnn_course 吗？）"
    else:
        error = f"{_last_line(failure)}，{where}"
    _write_atomic(executed, nbformat.writes(nb))
    return ("failed" if error else "ok"), error, seconds


def _kernel_of(path: Path) -> str:
    """The kernel a notebook asks for (``python3`` when it names none or cannot be read)."""
    try:
        metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
        return str(metadata.get("kernelspec", {}).get("name") or "python3")
    except (OSError, ValueError, AttributeError):
        return "python3"  # run_notebook reports the damaged notebook


def _prepare_output(
    stems: Sequence[str], chapters: dict[str, Path], out: Path, profile: str, force: bool
) -> tuple[dict[str, Path], dict[str, Path]]:
    """Check the output folder before any kernel starts; return the executed-copy and table paths."""
    nb_targets = {stem: out / f"{stem}.{profile}.ipynb" for stem in stems}
    tables = {ext: out / f"results.{profile}.{ext}" for ext in ("md", "json", "jsonl")}
    written = [*nb_targets.values(), *tables.values()]
    sources = {chapters[s].resolve() for s in stems}
    clash = [p for p in written if p.resolve() in sources]
    if clash:
        raise RunnerError(f"{clash[0]} 是这次要运行的笔记本之一；请另选一个 --out 文件夹")
    try:
        check_output(out, written, force=force)
    except ValueError as err:
        raise RunnerError(str(err)) from None
    try:
        out.mkdir(parents=True, exist_ok=True)
        tables["jsonl"].write_text("", encoding="utf-8")
    except OSError as err:
        raise RunnerError(f"无法写入输出文件夹 {out}：{err.strerror or err}；"
                          "请另选 --out") from None
    return nb_targets, tables


def run_chapters(
    stems: Sequence[str],
    chapters: dict[str, Path],
    *,
    profile: str,
    out_dir: str | os.PathLike[str],
    force: bool = False,
    timeout: int | None = None,
    kernel_name: str | None = None,
    log: TextIO | None = None,
) -> tuple[list[NotebookRun], dict[str, Path]]:
    """Execute the chosen chapters one after another and write the results table after each.

    Executed copies go to ``<out_dir>/<stem>.<profile>.ipynb``; the table to
    ``<out_dir>/results.<profile>.md`` and ``.json``; the raw results to ``.jsonl``.
    Everything is checked before the first kernel starts. Each result is attributed to its
    chapter by the chapter the runner gave the kernel (:data:`SETUP`).

    Args:
        stems: chapters to run (from :func:`cnn_course.chapters.resolve_chapters`).
        chapters: ``{stem: notebook path}`` (from :func:`cnn_course.chapters.find_chapters`).
        profile: ``smoke``, ``quick`` or ``full``.
        out_dir: folder for everything written.
        force: replace files left by an earlier run instead of refusing.
        timeout: seconds allowed per cell (None: no limit).
        kernel_name: Jupyter kernel; None uses each notebook's own (else ``python3``).
        log: a text stream for progress lines (default stdout).

    Returns:
        ``(runs, paths)`` where ``paths`` maps ``"md"``, ``"json"``, ``"jsonl"`` to the files.

    Raises:
        ChapterError: for a stem that is not in ``chapters``.
        RunnerError: for an unknown profile, a bad timeout, a kernel that is not installed, an output
            folder that is (or lies under) a file or cannot be written, outputs left by an earlier run
            (without ``force``), or an output that would replace a notebook being run.
        RunInterrupted: on Ctrl-C; the tables then hold the chapters that had finished.
    """
    if profile not in PROFILES:
        raise RunnerError(f"profile={profile!r} 不是档位；请用 {'、'.join(PROFILES)} 之一")
    unknown = [s for s in stems if s not in chapters]
    if unknown:
        raise ChapterError(f"不认识的章节 {unknown[0]!r}；已知的章节：{', '.join(chapters)}")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1):
        raise RunnerError(f"timeout 必须是正整数（每个单元格的秒数），传入的是 {timeout!r}")
    for name in sorted({kernel_name} if kernel_name else {_kernel_of(chapters[s]) for s in stems}):
        check_kernel(name)
    log = log or sys.stdout
    nb_targets, tables = _prepare_output(stems, chapters, Path(out_dir), profile, force)
    results_file = str(tables["jsonl"].resolve())
    runs: list[NotebookRun] = []
    running = ""
    try:
        _write_tables(runs, tables, profile)  # an earlier run's tables (with force) never pass for this one's
        for i, stem in enumerate(stems, start=1):
            running = stem
            print(f"[{i}/{len(stems)}] {stem}（{profile}）...", file=log, flush=True)
            setup = SETUP.format(profile=profile, results=results_file, chapter=stem)
            status, error, seconds = run_notebook(chapters[stem], nb_targets[stem], setup=setup, timeout=timeout,
                                                  kernel_name=kernel_name)
            results = [r for r in read_results(results_file) if r.chapter == stem]
            runs.append(NotebookRun(stem, str(chapters[stem]), str(nb_targets[stem]), status, error, seconds,
                                    results, profile))
            running = ""
            accs = "，".join(f"{r.recipe} 测试准确率 " + ("—" if r.test_acc is None else f"{100 * r.test_acc:.2f} %")
                             for r in results) or "没有记录到结果"
            print(f"    {status}，用时 {seconds:.1f} s：{accs}" + (f"\n    错误：{error}" if error else ""),
                  file=log, flush=True)
            _write_tables(runs, tables, profile)
    except KeyboardInterrupt:
        _write_tables(runs, tables, profile)  # in case the interrupt cut the last write short
        raise RunInterrupted(running, runs, tables) from None
    return runs, tables


def _write_tables(runs: Sequence[NotebookRun], tables: dict[str, Path], profile: str) -> None:
    rows = chapter_rows(runs)
    _write_atomic(tables["md"], render_chapter_table(rows, profile))
    payload = {"profile": profile, "rows": rows, "runs": [asdict(r) for r in runs]}
    _write_atomic(tables["json"], json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
