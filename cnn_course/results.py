"""Results of the chapters' trainings: one typed record per trained recipe, printed, saved, read back and tabulated.

Notebooks call :func:`record_result`; the runner reads the saved lines with :func:`read_results`.
:func:`markdown_table` writes every Markdown table of the course and its benchmarks.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .history import History
from .profiles import Settings

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "NotebookRun",
    "Result",
    "chapter_rows",
    "check_output",
    "markdown_table",
    "read_results",
    "record_result",
    "render_chapter_table",
    "save_results_to",
]


@dataclass(frozen=True)
class Result:
    """One trained recipe's result, as :func:`record_result` printed and saved it.

    Attributes:
        chapter: the chapter's notebook stem when the runner ran it (``"03_lenet"``), else ``""``.
        recipe: a short name such as ``"source"`` or ``"improved"``.
        profile: the profile the notebook's settings were chosen for.
        settings: the chapter's settings for that profile (``epochs``, ``batch_size``, ...).
        data: what the test accuracy was measured on (the test iterator's ``describe()``).
        test_acc: accuracy on the test set, evaluated once after training, in fp32 (None when no epoch completed).
        valid_acc: validation accuracy after the last completed epoch, the number recipes are chosen by
            (None when training had no validation set).
        valid_data: what the validation accuracy was measured on, or ``""``.
        epochs: completed epochs.
        interrupted: whether Ctrl-C stopped the training.
        stop_reason: why training ended early (``"interrupted in epoch 3"``), else ``""``.
        seconds: training time.
        img_per_sec: mean training throughput.
        device: where training ran.
        precision: the arithmetic training used: ``"fp32"``, ``"bf16"`` or ``"fp16"``.
    """

    chapter: str
    recipe: str
    profile: str
    settings: dict[str, Any]
    data: str
    test_acc: float | None
    epochs: int
    valid_acc: float | None = None
    valid_data: str = ""
    interrupted: bool = False
    stop_reason: str = ""
    seconds: float = 0.0
    img_per_sec: float = 0.0
    device: str = ""
    precision: str = "fp32"

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Result:
        """Build a Result from a saved line; keys it does not know are ignored.

        Raises:
            TypeError: when a field without a default is missing.
        """
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in record.items() if key in known})


# Where record_result saves, as the runner set it in the kernel: (JSON-lines file, chapter stem).
_target: tuple[Path, str] | None = None


def save_results_to(path: str | os.PathLike[str] | None, chapter: str = "") -> None:
    """Make every later :func:`record_result` in this process append to the JSON-lines file ``path`` (None: stop).

    The runner calls this in each notebook's kernel before the first cell, with the notebook's stem as ``chapter``.

    Raises:
        ValueError: when ``chapter`` is not a string.
    """
    global _target
    if not isinstance(chapter, str):
        raise ValueError(f"chapter 必须是笔记本的文件名（不带 .ipynb），例如 '03_lenet'，传入的是 {chapter!r}")
    _target = None if path is None else (Path(path), chapter)


def _describe(data_iter: Any) -> str:
    describe = getattr(data_iter, "describe", None)
    return str(describe()) if callable(describe) else type(data_iter).__name__


def _epochs_phrase(history: History) -> str:
    """How far training got, in words that cannot be mistaken for a finished run."""
    done = history.epochs
    if history.unfinished_epoch is not None:  # the accuracy is that of the last completed epoch
        how = "发散" if history.diverged else "中断"
        return f"完成 {done} 轮后（第 {history.unfinished_epoch} 轮时{how}）"
    if history.interrupted:
        return f"完成 {done} 轮后（中断）"
    return f"训练 {done} 轮后"


def record_result(recipe: str, history: History, test_iter: Any, *, model: nn.Module, settings: Settings) -> Result:
    """Evaluate a trained recipe on the test set, once and in fp32, print it with its validation accuracy, save it.

    The test accuracy printed here is the chapter's headline number: :func:`cnn_course.confusion_matrix` and
    :func:`cnn_course.show_mistakes` run the same fp32 evaluation on the same images, so all three agree to the
    image. The validation accuracy is the last completed epoch's (what recipes are chosen by). The result is
    saved only where :func:`save_results_to` asked for it. A training that ended early says so ("after 2
    completed epochs (interrupted in epoch 3)").

    Args:
        recipe: a short name such as ``"source"`` or ``"improved"``.
        history: what :func:`cnn_course.train` returned for ``model``.
        test_iter: the test iterator (from :func:`cnn_course.load_data`), evaluated here.
        model: the trained network.
        settings: what :func:`cnn_course.choose_settings` returned for this chapter.

    Returns:
        The :class:`Result` (its ``chapter`` is ``""`` outside the runner).

    Raises:
        ValueError: when ``recipe`` is empty, ``history`` is not a History, ``settings`` not Settings, or
            ``model``/``test_iter`` cannot be evaluated (as :func:`cnn_course.evaluate`).
        OSError: when the results file cannot be written.
    """
    from .evaluation import evaluate  # evaluation imports torch's layers; results stays light for the runner

    if not isinstance(recipe, str) or not recipe.strip():
        raise ValueError(f'recipe 必须是一个简短的名字，例如 "source" 或 "improved"，传入的是 {recipe!r}')
    if not isinstance(history, History):
        raise ValueError(f"history 必须是 cnn_course.train 返回的 History，传入的是 {type(history).__name__}")
    if not isinstance(settings, Settings):
        raise ValueError(
            "settings 必须是 cnn_course.choose_settings 返回的对象（cfg = cnn_course.choose_settings(SETTINGS)），"
            f"传入的是 {type(settings).__name__}"
        )
    test_acc = evaluate(model, test_iter, precision="fp32") if history.epochs else None
    data = _describe(test_iter)
    valid_data = history.valid_data
    result = Result(
        chapter=_target[1] if _target else "",
        recipe=recipe,
        profile=settings.profile,
        settings={k: v for k, v in vars(settings).items() if k != "profile"},
        data=data,
        test_acc=test_acc,
        epochs=history.epochs,
        valid_acc=history.final_valid_acc,
        valid_data=valid_data,
        interrupted=history.interrupted,
        stop_reason=history.stop_reason,
        seconds=round(history.seconds, 1),
        img_per_sec=round(history.mean_img_per_sec, 1),
        device=history.device,
        precision=history.precision,
    )
    if history.final_valid_acc is not None:
        print(f"[{recipe}] 验证准确率 {100 * history.final_valid_acc:.2f} %（{_epochs_phrase(history)}），"
              f"数据：{valid_data}")
    acc = "—（没有完成的轮）" if test_acc is None else f"{100 * test_acc:.2f} %"
    print(f"[{recipe}] 测试准确率 {acc}（训练结束后只评估这一次，fp32），数据：{data}")
    in_precision = "" if history.precision == "fp32" else f"，{history.precision}"  # fp32 is the default
    print(f"[{recipe}] 训练 {history.seconds:.1f} s，{history.mean_img_per_sec:,.0f} 张/秒，设备 {history.device}"
          f"{in_precision}")
    if _target is not None:
        path = _target[0]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(asdict(result), ensure_ascii=False, default=str) + "\n")
        except OSError as err:
            raise OSError(f"无法把结果保存到 {path}（由 save_results_to 指定）：{err}") from err
    return result


def read_results(path: str | os.PathLike[str]) -> list[Result]:
    """Read the results :func:`record_result` saved in ``path`` (a missing file gives ``[]``).

    Lines that are not results are skipped with a warning (a notebook killed mid-write).
    """
    path = Path(path)
    if not path.is_file():
        return []
    results = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            results.append(Result.from_dict(json.loads(line)))
        except (json.JSONDecodeError, TypeError, AttributeError):
            warnings.warn(f"{path}:{number} 不是结果行；已跳过", stacklevel=2)
    return results


# --------------------------------------------------------------------------- where results go


def check_output(
    folder: str | os.PathLike[str], files: Iterable[str | os.PathLike[str]] = (), *, force: bool = False,
    option: str = "--out",
) -> None:
    """Check, before any work starts, that files can be written in ``folder`` and none is replaced unasked.

    The folder may not exist yet; it must not be a file or lie under one, and it (or the folder it
    will be made in) must be writable.

    Args:
        folder: where the files will be written.
        files: the files that will be written; an existing one is an error unless ``force``.
        force: allow replacing existing files.
        option: the command-line option that names the place, for the messages.

    Raises:
        ValueError: one line saying what is wrong and what to do.
    """
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing == folder and not folder.is_dir():
        raise ValueError(f"输出文件夹 {folder} 是一个文件；请另选 {option}")
    if not existing.is_dir():
        raise ValueError(f"输出文件夹 {folder} 会位于文件 {existing} 之下；请另选 {option}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"无法写入 {existing}（没有权限）；请另选 {option}")
    paths = [Path(f) for f in files]
    folders = [path for path in paths if path.is_dir()]
    if folders:
        raise ValueError(f"{folders[0]} 是文件夹，而这里要写入一个文件；请另选 {option}")
    found = [path for path in paths if path.exists()]
    if len(found) == 1 and not force:
        raise ValueError(f"{found[0]} 是之前运行留下的；加上 --force 可以替换它，"
                         f"或者另选 {option}")
    if found and not force:
        raise ValueError(f"{found[0]} 和另外 {len(found) - 1} 个文件是之前运行留下的；加上 --force 可以"
                         f"替换它们，或者另选 {option}")


# --------------------------------------------------------------------------- tables


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> str:
    """Render a Markdown table (no trailing newline); ``|`` inside a cell is escaped.

    Args:
        header: the column titles.
        rows: one sequence of cells per row, each turned into text with ``str``.
        align: one letter per column, ``l`` or ``r`` (right: numbers); missing letters mean ``l``.
    """
    def line(cells: Sequence[Any]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

    rule = "|" + "|".join("---:" if align[i:i + 1] == "r" else "---" for i in range(len(header))) + "|"
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


@dataclass
class NotebookRun:
    """What happened when the runner executed one chapter notebook.

    Attributes:
        chapter: the notebook's stem, e.g. ``"03_lenet"``.
        notebook: path of the notebook that was run (never modified).
        executed: path of the executed copy (also written when the notebook failed).
        status: ``"ok"`` or ``"failed"``.
        error: what went wrong and in which cell
            (``"ZeroDivisionError: division by zero，在第 3 个单元格（`1 / 0`）"``), or ``""``.
        wall_seconds: time from kernel start to the last cell.
        results: what the notebook recorded with :func:`record_result`.
        profile: the profile the runner asked for.
    """

    chapter: str
    notebook: str
    executed: str
    status: str = "ok"
    error: str = ""
    wall_seconds: float = 0.0
    results: list[Result] = field(default_factory=list)
    profile: str = ""


def _pct(value: Any) -> str:
    return f"{100 * value:.2f} %" if isinstance(value, (int, float)) else "—"


def _num(value: Any, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, (int, float)) else "—"


def chapter_rows(runs: Iterable[NotebookRun]) -> list[dict[str, Any]]:
    """Build one table row (a dict, also saved as JSON) per chapter run; of a recipe recorded twice, the last counts."""
    rows = []
    for run in runs:
        by_recipe = {result.recipe: result for result in run.results}
        src, imp = by_recipe.get("source"), by_recipe.get("improved")
        first = src or imp or next(iter(by_recipe.values()), None)
        datas = sorted({r.data for r in (src, imp) if r})
        gain = None
        if src and imp and src.test_acc is not None and imp.test_acc is not None:
            gain = round(100 * (imp.test_acc - src.test_acc), 2)
        rows.append({
            "chapter": run.chapter,
            "status": run.status,
            "error": run.error,
            "profile": first.profile if first else run.profile,
            "data": " | ".join(datas),
            "device": "" if first is None else first.device + ("" if first.precision == "fp32"
                                                                else f" ({first.precision})"),
            "epochs": first.epochs if first else None,
            "stopped": "; ".join(f"{k} {r.stop_reason}" for k, r in by_recipe.items() if r.stop_reason),
            "source_acc": src.test_acc if src else None,
            "improved_acc": imp.test_acc if imp else None,
            "source_valid": src.valid_acc if src else None,
            "improved_valid": imp.valid_acc if imp else None,
            "gain": gain,
            "source_seconds": src.seconds if src else None,
            "improved_seconds": imp.seconds if imp else None,
            "source_img_per_sec": src.img_per_sec if src else None,
            "improved_img_per_sec": imp.img_per_sec if imp else None,
            "notebook_seconds": round(run.wall_seconds, 1),
            "other_recipes": {k: r.test_acc for k, r in by_recipe.items() if k not in ("source", "improved")},
        })
    return rows


def render_chapter_table(rows: Sequence[dict[str, Any]], profile: str = "") -> str:
    """Render rows from :func:`chapter_rows` as Markdown, with the full data lines below."""
    header = ["chapter", "status", "profile", "data", "epochs", "source valid / test", "improved valid / test",
              "test gain (points)",
              "train s (source / improved)", "img/s (source / improved)", "device", "notebook s"]
    cells = []
    for r in rows:
        # the data line up to its batch size: dataset, split, size and image size
        data = " / ".join(d.split(", batch ")[0] for d in r["data"].split(" | ")) if r["data"] else "—"
        cells.append([
            r["chapter"], f"{r['status']}: {r['error']}" if r["error"] else r["status"], r["profile"] or "—", data,
            _num(r["epochs"], "d") + (f" ({r['stopped']})" if r["stopped"] else ""),
            f"{_pct(r['source_valid'])} / {_pct(r['source_acc'])}",
            f"{_pct(r['improved_valid'])} / {_pct(r['improved_acc'])}",
            "—" if r["gain"] is None else f"{r['gain']:+.2f}",
            f"{_num(r['source_seconds'], '.1f')} / {_num(r['improved_seconds'], '.1f')}",
            f"{_num(r['source_img_per_sec'], ',.0f')} / {_num(r['improved_img_per_sec'], ',.0f')}",
            r["device"] or "—", _num(r["notebook_seconds"], ".1f"),
        ])
    title = f"# Chapter results ({profile} profile)" if profile else "# Chapter results"
    lines = [title, "", markdown_table(header, cells, align="llllrrrrrrlr")]
    details = [f"- {r['chapter']}: {d}" for r in rows for d in r["data"].split(" | ") if d]
    others = [f"- {r['chapter']}: " + ", ".join(f"{k} {_pct(v)}" for k, v in r["other_recipes"].items())
              for r in rows if r["other_recipes"]]
    if details:
        lines += ["", "Validation accuracy (what recipes are chosen by) is the last epoch's; test accuracy is "
                  "evaluated once, after training, in fp32. Test accuracy measured on:", *details]
    if others:
        lines += ["", "Other recipes:", *others]
    return "\n".join(lines) + "\n"
