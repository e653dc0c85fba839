"""Run chapter notebooks headless (no browser) and collect their results into one table.

``python -m cnn_course run 03 lenet --profile smoke`` executes the notebooks with nbclient,
saves the executed copies and writes ``results.<profile>.md`` / ``.json``. Each notebook
reports its accuracies through :func:`cnn_course.record_result`, which appends JSON lines to
the file the runner names in the kernel's environment. That environment is the one way in:
the runner sets the profile, the chapter and the results file (names in :mod:`cnn_course.config`),
and the notebook reads the profile once, in ``choose_settings``.

Ctrl-C stops the whole run at once: the running kernel is killed (``train`` would catch a
plain interrupt and let the notebook go on), the tables keep the chapters that finished, and
:class:`RunInterrupted` is raised.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from .config import CHAPTER_ENV, PROFILE_ENV, PROFILES, RESULTS_ENV

__all__ = [
    "ChapterError",
    "NotebookRun",
    "RunInterrupted",
    "RunnerError",
    "build_rows",
    "check_kernel",
    "default_notebooks_dir",
    "find_chapters",
    "read_results",
    "render_markdown",
    "resolve_chapters",
    "run_chapters",
    "run_notebook",
]

# A chapter is NN_name.ipynb; an appendix to chapter NN is NNa_name.ipynb (a letter after the number).
_NOTEBOOK_NAME = re.compile(r"^(\d+)([a-z]?)_([A-Za-z0-9_\-]+)\.ipynb$")
#: How long an interrupted run waits for nbclient to tidy up after the kernel was killed.
_CLEANUP_SECONDS = 10.0


class RunnerError(ValueError):
    """A run cannot start: a bad chapter, profile, output folder or kernel. The message says what would work."""


class ChapterError(RunnerError):
    """A chapter name matches no notebook, or more than one; the message lists the known chapters."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run; the tables hold the chapters that finished before it.

    Attributes:
        chapter: the chapter that was running (``""`` when none was).
        runs: the chapters that finished, as :class:`NotebookRun`.
        tables: ``{"md", "json", "jsonl"}`` paths of the tables written.
    """

    def __init__(self, chapter: str, runs: list[NotebookRun], tables: dict[str, Path]) -> None:
        super().__init__(chapter)
        self.chapter = chapter
        self.runs = runs
        self.tables = tables


@dataclass
class NotebookRun:
    """What happened when one notebook was executed.

    Attributes:
        chapter: the notebook's stem, e.g. ``"03_lenet"``.
        notebook: path of the notebook that was run (never modified).
        executed: path of the executed copy (also written when the notebook failed).
        status: ``"ok"`` or ``"failed"``.
        error: what went wrong and in which cell
            (``"ZeroDivisionError: division by zero, in cell 3 (`1 / 0`)"``), or ``""``.
        wall_seconds: time from kernel start to the last cell.
        records: the lines the notebook recorded with :func:`cnn_course.record_result`.
        profile: the profile the runner asked for.
    """

    chapter: str
    notebook: str
    executed: str
    status: str = "ok"
    error: str = ""
    wall_seconds: float = 0.0
    records: list[dict[str, Any]] = field(default_factory=list)
    profile: str = ""


# --------------------------------------------------------------------------- chapters


def default_notebooks_dir() -> Path:
    """Return ``./notebooks`` when it exists, else the ``notebooks`` folder next to the package."""
    here = Path.cwd() / "notebooks"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "notebooks"


def find_chapters(notebooks_dir: str | os.PathLike) -> dict[str, Path]:
    """Return ``{stem: path}`` of the chapter notebooks (``NN_name.ipynb``, appendices ``NNa_name.ipynb``), in order.

    Raises:
        ChapterError: when the folder does not exist or is a file.
    """
    folder = Path(notebooks_dir)
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise ChapterError(f"the notebooks folder {folder} {problem}; give one with --notebooks DIR")
    found = [p for p in folder.iterdir() if p.is_file() and _NOTEBOOK_NAME.match(p.name)]
    found.sort(key=lambda p: (int(_NOTEBOOK_NAME.match(p.name).group(1)), p.name))  # type: ignore[union-attr]
    return {p.stem: p for p in found}


def _matches(query: str, stem: str) -> int:
    """How well ``query`` names the notebook ``stem``: 3 exact, 2 number, 1 name prefix, 0 not at all.

    A number names the chapter, never its appendix: "05" is ``05_googlenet``, "05a" is ``05a_...``.
    """
    m = _NOTEBOOK_NAME.match(stem + ".ipynb")
    if m is None:
        return 0
    number, letter, name = m.group(1), m.group(2), m.group(3).lower()
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


# --------------------------------------------------------------------------- results and table


def read_results(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read the JSON lines written by :func:`cnn_course.record_result` (a missing file gives ``[]``).

    Lines that are not JSON objects are skipped with a warning (a notebook killed mid-write).
    """
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if not isinstance(record, dict):
            warnings.warn(f"{path}:{number} is not a result line; skipped", stacklevel=2)
            continue
        records.append(record)
    return records


def _pct(value: Any) -> str:
    return f"{100 * value:.2f} %" if isinstance(value, (int, float)) else "—"


def _short_data(data: str) -> str:
    """The dataset, split, size and image size of a ``describe()`` line, without batch/device/folder."""
    return data.split(", batch ")[0] if data else "—"


def build_rows(runs: Iterable[NotebookRun | dict[str, Any]]) -> list[dict[str, Any]]:
    """Build one table row per chapter from notebook runs (or from bare result records).

    Each row has chapter, status, error, profile, data, device, epochs, stopped (which recipe's
    training ended early and how, e.g. ``"source interrupted in epoch 3"``), source_acc, improved_acc, gain (points), source/improved
    seconds and img/s, notebook_seconds and other_recipes. When a recipe was recorded twice, the last record wins.

    Args:
        runs: :class:`NotebookRun` objects, or plain record dicts (grouped by their ``chapter``).
    """
    groups: dict[str, dict[str, Any]] = {}
    for item in runs:
        if isinstance(item, NotebookRun):
            group = groups.setdefault(item.chapter, {"run": item, "records": []})
            group["run"] = item
            group["records"].extend(item.records)
        else:
            groups.setdefault(str(item.get("chapter", "")), {"run": None, "records": []})["records"].append(item)
    rows = []
    for chapter, group in groups.items():
        run: NotebookRun | None = group["run"]
        by_recipe: dict[str, dict[str, Any]] = {}
        for record in group["records"]:
            by_recipe[str(record.get("recipe", ""))] = record
        src, imp = by_recipe.get("source", {}), by_recipe.get("improved", {})
        first = src or imp or next(iter(by_recipe.values()), {})
        datas = sorted({str(r.get("data", "")) for r in (src, imp) if r})
        gain = None
        if isinstance(src.get("test_acc"), (int, float)) and isinstance(imp.get("test_acc"), (int, float)):
            gain = round(100 * (imp["test_acc"] - src["test_acc"]), 2)
        rows.append({
            "chapter": chapter,
            "status": run.status if run else "recorded",
            "error": run.error if run else "",
            "profile": first.get("profile") or (run.profile if run else ""),
            "data": " | ".join(datas) if datas else "",
            "device": first.get("device", "") + ("" if first.get("precision", "fp32") == "fp32"
                                                 else f" ({first['precision']})"),
            "epochs": first.get("epochs"),
            "stopped": "; ".join(f"{k} {r['stop_reason']}" for k, r in by_recipe.items() if r.get("stop_reason")),
            "source_acc": src.get("test_acc"),
            "improved_acc": imp.get("test_acc"),
            "gain": gain,
            "source_seconds": src.get("seconds"),
            "improved_seconds": imp.get("seconds"),
            "source_img_per_sec": src.get("img_per_sec"),
            "improved_img_per_sec": imp.get("img_per_sec"),
            "notebook_seconds": round(run.wall_seconds, 1) if run else None,
            "other_recipes": {k: v.get("test_acc") for k, v in by_recipe.items() if k not in ("source", "improved")},
        })
    return rows


def _num(value: Any, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, (int, float)) else "—"


def render_markdown(rows: Sequence[dict[str, Any]], profile: str = "") -> str:
    """Render table rows (from :func:`build_rows`) as Markdown, with the full data lines below."""
    title = f"# Chapter results ({profile} profile)" if profile else "# Chapter results"
    lines = [
        title,
        "",
        "| chapter | status | profile | data | epochs | source acc | improved acc | gain (points) "
        "| train s (source / improved) | img/s (source / improved) | device | notebook s |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        status = r["status"] if not r["error"] else f"{r['status']}: {r['error']}"
        status = status.replace("|", "\\|")
        gain = "—" if r["gain"] is None else f"{r['gain']:+.2f}"
        data = " / ".join(_short_data(d) for d in r["data"].split(" | ")) if r["data"] else "—"
        epochs = _num(r["epochs"], "d") + (f" ({r['stopped']})" if r.get("stopped") else "")
        lines.append(
            f"| {r['chapter']} | {status} | {r['profile'] or '—'} | {data} | {epochs} "
            f"| {_pct(r['source_acc'])} | {_pct(r['improved_acc'])} | {gain} "
            f"| {_num(r['source_seconds'], '.1f')} / {_num(r['improved_seconds'], '.1f')} "
            f"| {_num(r['source_img_per_sec'], ',.0f')} / {_num(r['improved_img_per_sec'], ',.0f')} "
            f"| {r['device'] or '—'} | {_num(r['notebook_seconds'], '.1f')} |"
        )
    details = [f"- {r['chapter']}: {d}" for r in rows for d in r["data"].split(" | ") if d]
    others = [f"- {r['chapter']}: " + ", ".join(f"{k} {_pct(v)}" for k, v in r["other_recipes"].items())
              for r in rows if r["other_recipes"]]
    if details:
        lines += ["", "Test accuracy measured on:", *details]
    if others:
        lines += ["", "Other recipes:", *others]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- execution


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
    return f"cell {index + 1} (`{first}`)"


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


class _Stopped(Exception):
    """Raised inside nbclient's thread to stop before the next cell once Ctrl-C was pressed."""


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
        known = ", ".join(sorted(manager.find_kernel_specs())) or "none"
        raise RunnerError(
            f"no Jupyter kernel named {name!r} (installed kernels: {known}); give one with --kernel NAME, "
            "or install the default one with: python -m pip install ipykernel"
        ) from None


def run_notebook(
    notebook: str | os.PathLike,
    executed: str | os.PathLike,
    *,
    env: dict[str, str],
    timeout: int | None = None,
    kernel_name: str | None = None,
) -> tuple[str, str, float]:
    """Execute ``notebook`` in a fresh kernel and save the executed copy to ``executed``.

    The kernel runs in the notebook's folder with environment ``env``. The copy is written
    even when a cell fails (it then shows the error where it happened). nbclient runs in a
    thread of its own so that Ctrl-C reaches this function rather than nbclient's own handler,
    which would turn it into a failed cell.

    Args:
        notebook: the notebook to run (never modified).
        executed: where to save the executed copy.
        env: the kernel's environment variables.
        timeout: seconds allowed per cell (None: no limit).
        kernel_name: Jupyter kernel; None uses the notebook's own (else ``python3``).

    Returns:
        ``(status, error, wall_seconds)``: status ``"ok"`` or ``"failed"``; error names what went
        wrong and the cell (``"ZeroDivisionError: division by zero, in cell 3 (`1 / 0`)"``), else ``""``.

    Raises:
        KeyboardInterrupt: on Ctrl-C, after the kernel was killed.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError

    notebook, executed = Path(notebook), Path(executed)
    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception as err:  # noqa: BLE001 - a damaged notebook fails its chapter, the others still run
        return "failed", f"{notebook.name} is not a readable notebook: {_last_line(err)}", 0.0
    name = kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    stop = threading.Event()
    current: dict[str, int | None] = {"index": None}

    def on_cell_start(cell: Any, cell_index: int) -> None:
        if stop.is_set():
            raise _Stopped()
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
    )
    outcome: dict[str, BaseException] = {}
    done = threading.Event()

    def execute() -> None:
        try:
            asyncio.run(client.async_execute(env=env))  # a loop of its own, closed when done
        except BaseException as err:  # noqa: BLE001 - handed to the calling thread
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
    status, error = "ok", ""
    err = outcome.get("error")
    if isinstance(err, CellTimeoutError):
        status = "failed"
        if current["index"] is None:
            error = f"TimeoutError: the kernel did not answer within the limit of {timeout} s, before the first cell"
        else:
            error = f"TimeoutError: {_describe_cell(nb, current['index'])} ran past the limit of {timeout} s per cell"
    elif err is not None:
        where = "before the first cell" if current["index"] is None else f"in {_describe_cell(nb, current['index'])}"
        status, error = "failed", f"{_last_line(err)}, {where}"
    _write_atomic(executed, nbformat.writes(nb))
    return status, error, seconds


def _targets(stems: Sequence[str], out_dir: Path, profile: str) -> tuple[dict[str, Path], dict[str, Path]]:
    notebooks = {stem: out_dir / f"{stem}.{profile}.ipynb" for stem in stems}
    tables = {ext: out_dir / f"results.{profile}.{ext}" for ext in ("md", "json", "jsonl")}
    return notebooks, tables


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
    nb_targets, tables = _targets(stems, out, profile)
    if out.exists() and not out.is_dir():
        raise RunnerError(f"the output folder {out} is a file; give a folder with --out DIR")
    sources = {chapters[s].resolve() for s in stems}
    clash = [p for p in [*nb_targets.values(), *tables.values()] if p.resolve() in sources]
    if clash:
        raise RunnerError(f"{clash[0]} is one of the notebooks being run; choose another --out folder")
    existing = [p for p in [*nb_targets.values(), *tables.values()] if p.exists()]
    if existing and not force:
        more = f" and {len(existing) - 1} more file(s)" if len(existing) > 1 else ""
        raise RunnerError(
            f"{existing[0]}{more} exist from an earlier run; add --force to replace them, or give another --out folder"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        tables["jsonl"].write_text("", encoding="utf-8")
    except OSError as err:
        raise RunnerError(f"cannot write in the output folder {out}: {err.strerror or err}; give another --out folder") from None
    return nb_targets, tables


def run_chapters(
    stems: Sequence[str],
    chapters: dict[str, Path],
    *,
    profile: str,
    out_dir: str | os.PathLike,
    force: bool = False,
    timeout: int | None = None,
    kernel_name: str | None = None,
    log: Any = None,
) -> tuple[list[NotebookRun], dict[str, Path]]:
    """Execute the chosen chapters one after another and write the results table after each.

    Executed copies go to ``<out_dir>/<stem>.<profile>.ipynb``; the table to
    ``<out_dir>/results.<profile>.md`` and ``.json``; the raw records to ``.jsonl``.
    Everything is checked before the first kernel starts.

    Args:
        stems: chapters to run (from :func:`resolve_chapters`).
        chapters: ``{stem: notebook path}`` (from :func:`find_chapters`).
        profile: ``smoke``, ``quick`` or ``full``.
        out_dir: folder for everything written.
        force: replace files left by an earlier run instead of refusing.
        timeout: seconds allowed per cell (None: no limit).
        kernel_name: Jupyter kernel; None uses each notebook's own (else ``python3``).
        log: a text stream for progress lines (default stdout).

    Returns:
        ``(runs, paths)`` where ``paths`` maps ``"md"``, ``"json"``, ``"jsonl"`` to the files.

    Raises:
        RunnerError: for an unknown profile or stem, a bad timeout, a kernel that is not installed,
            an output folder that is a file or cannot be written, outputs left by an earlier run
            (without ``force``), or an output that would replace a notebook being run.
        RunInterrupted: on Ctrl-C; the tables then hold the chapters that had finished.
    """
    if profile not in PROFILES:
        raise RunnerError(f"profile={profile!r} is not a profile; use one of {', '.join(PROFILES)}")
    unknown = [s for s in stems if s not in chapters]
    if unknown:
        raise ChapterError(f"unknown chapter {unknown[0]!r}; known chapters: {', '.join(chapters)}")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1):
        raise RunnerError(f"timeout must be a positive whole number of seconds per cell, got {timeout!r}")
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
            env = dict(os.environ)
            env.update({PROFILE_ENV: profile, CHAPTER_ENV: stem, RESULTS_ENV: results_file})
            print(f"[{i}/{len(stems)}] {stem} ({profile}) ...", file=log, flush=True)
            before = len(read_results(results_file))
            status, error, seconds = run_notebook(
                chapters[stem], nb_targets[stem], env=env, timeout=timeout, kernel_name=kernel_name
            )
            records = read_results(results_file)[before:]  # notebooks run one at a time: new lines are this one's
            run = NotebookRun(stem, str(chapters[stem]), str(nb_targets[stem]), status, error, seconds, records, profile)
            runs.append(run)
            running = ""
            accs = ", ".join(f"{r.get('recipe')} {_pct(r.get('test_acc'))}" for r in records) or "no result recorded"
            line = f"    {status} in {seconds:.1f} s: {accs}" + (f"\n    error: {error}" if error else "")
            print(line, file=log, flush=True)
            _write_tables(runs, tables, profile)
    except KeyboardInterrupt:
        _write_tables(runs, tables, profile)  # in case the interrupt cut the last write short
        raise RunInterrupted(running, runs, tables) from None
    return runs, tables


def _write_tables(runs: Sequence[NotebookRun], tables: dict[str, Path], profile: str) -> None:
    rows = build_rows(runs)
    _write_atomic(tables["md"], render_markdown(rows, profile))
    payload = {"profile": profile, "rows": rows, "runs": [asdict(r) for r in runs]}
    _write_atomic(tables["json"], json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
