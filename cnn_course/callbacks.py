"""What :func:`cnn_course.train` shows while it runs: a progress bar, a live plot and one line per epoch.

Each is a :class:`Callback`; ``train`` picks the ones that can be seen (a notebook shows all
three, a terminal gets a text progress bar on stderr and the epoch lines, a log only the
lines), and you may pass your own.
"""

from __future__ import annotations

import html
import sys
import time
from typing import Any

from matplotlib import rcParams
from matplotlib.figure import Figure

from .display import LiveOutput, png
from .history import History
from .plotting import HISTORY_FIGSIZE, draw_history
from .runtime import in_notebook

__all__ = ["Callback", "EpochPrinter", "LivePlot", "ProgressBar"]


class Callback:
    """Hooks that :func:`cnn_course.train` calls while it runs; override the ones you need.

    Every hook receives the :class:`History` being recorded: read it, do not change it.
    ``on_train_end`` is always called, also after Ctrl-C or a divergence.
    """

    def on_train_begin(self, history: History) -> None:
        """Training starts; ``history.epochs_planned`` and ``steps_per_epoch`` are set."""

    def on_step(self, history: History, epoch: int, step: int, images: int) -> None:
        """New losses were read: ``step`` steps and ``images`` images done so far in ``epoch`` (from 1)."""

    def on_epoch_end(self, history: History) -> None:
        """An epoch completed (training and evaluation); it is the last entry of the per-epoch lists."""

    def on_train_end(self, history: History) -> None:
        """Training ended, completed or not (see ``history.stop_reason``)."""


def _bar_text(epoch: int, epochs: int, step: int, total: int, loss: float | None, rate: float, seconds: float) -> str:
    of_total = f"/{total}" if total else ""
    bar = ""
    if total:
        filled = round(20 * min(step / total, 1.0))
        bar = "[" + "#" * filled + "." * (20 - filled) + "] "
    loss_text = f"，损失 {loss:.4f}" if loss is not None else ""
    return f"第 {epoch}/{epochs} 轮 {bar}{step}{of_total} 步{loss_text}，{rate:,.0f} 张/秒，{seconds:.0f} s"


class ProgressBar(Callback):
    """The current epoch's progress: steps done, last loss, images per second, elapsed time.

    In a notebook it is a single display that updates in place and is emptied when training
    ends, so a saved notebook keeps only the per-epoch lines and the plot (never a stale
    "0%" bar). Elsewhere it is a ``tqdm`` bar on stderr that disappears when the epoch ends.

    Args:
        every_seconds: shortest time between two redraws in a notebook.
    """

    def __init__(self, every_seconds: float = 0.25) -> None:
        self.every_seconds = every_seconds
        self.notebook = in_notebook()
        self._output = LiveOutput()
        self._bar: Any = None
        self._epoch = 0
        self._epoch_start = 0.0
        self._last_draw = 0.0

    def on_train_begin(self, history: History) -> None:
        self._epoch_start = time.perf_counter()
        if self.notebook:
            self._output.show(self._bundle(f"第 1/{history.epochs_planned} 轮：开始", 0, 0), raw=True)

    def _bundle(self, text: str, step: int, total: int) -> dict[str, str]:
        meter = f"<progress value='{step}' max='{total}' style='width:30%'></progress> " if total else ""
        return {"text/plain": text, "text/html": f"<div style='font-family:monospace'>{meter}{html.escape(text)}</div>"}

    def on_step(self, history: History, epoch: int, step: int, images: int) -> None:
        now = time.perf_counter()
        if epoch != self._epoch:
            self._close_bar()
            self._epoch = epoch
        total = history.steps_per_epoch
        seconds = now - self._epoch_start
        rate = images / seconds if seconds > 0 else 0.0
        loss = history.step_losses[-1] if history.step_losses else None
        if not self.notebook:
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=total or None, desc=f"第 {epoch}/{history.epochs_planned} 轮", leave=False,
                                 file=sys.stderr, unit="step")
            if loss is not None:
                self._bar.set_postfix_str(f"损失 {loss:.4f}，{rate:,.0f} 张/秒", refresh=False)
            self._bar.update(step - self._bar.n)  # redraws at most every tqdm's mininterval
            return
        if now - self._last_draw < self.every_seconds and step != total:
            return
        text = _bar_text(epoch, history.epochs_planned, step, total, loss, rate, seconds)
        self._output.update(self._bundle(text, step, total), raw=True)
        self._last_draw = now

    def on_epoch_end(self, history: History) -> None:
        self._close_bar()
        self._epoch_start = time.perf_counter()

    def on_train_end(self, history: History) -> None:
        self._close_bar()
        self._output.clear()  # nothing stale is left in the saved notebook
        self._output = LiveOutput()

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class LivePlot(Callback):
    """The loss and accuracy curves, redrawn in place in a notebook while training runs.

    It draws with :func:`cnn_course.plotting.draw_history`, as :func:`cnn_course.plot_losses`
    does, and its last picture is the finished history. It redraws at most every
    ``every_seconds`` and spends at most about a tenth of the time drawing; :func:`cnn_course.train`
    leaves drawing time out of the measured speed.

    Args:
        every_seconds: shortest time between two redraws.

    Raises:
        RuntimeError: when started outside a notebook (it would have nowhere to draw).
    """

    def __init__(self, every_seconds: float = 1.0) -> None:
        self.every_seconds = every_seconds
        self.fig = Figure(figsize=HISTORY_FIGSIZE)  # not a pyplot figure: nothing is shown twice
        self._output = LiveOutput()
        self._last = 0.0
        self._draw_seconds = 0.0

    def _image(self) -> Any:
        # The inline backend's dpi, so that the picture matches plot_losses in the same notebook.
        return png(self.fig, dpi=rcParams["figure.dpi"])

    def _draw(self, history: History) -> None:
        start = time.perf_counter()
        draw_history(self.fig, history)
        if self._output.active:
            self._output.update(self._image())
        self._last = time.perf_counter()
        self._draw_seconds = self._last - start

    def on_train_begin(self, history: History) -> None:
        if not in_notebook():
            raise RuntimeError("LivePlot 只能在笔记本里绘图；在笔记本之外请用 cnn_course.plot_losses(history)")
        draw_history(self.fig, history)
        self._output.show(self._image())
        self._last = time.perf_counter()

    def on_step(self, history: History, epoch: int, step: int, images: int) -> None:
        if time.perf_counter() - self._last >= max(self.every_seconds, 10 * self._draw_seconds):
            self._draw(history)

    def on_epoch_end(self, history: History) -> None:
        self._draw(history)

    def on_train_end(self, history: History) -> None:
        if not history.step_losses:
            self._output.clear()  # stopped before any step: no empty axes left
            return
        self._draw(history)


class EpochPrinter(Callback):
    """Print one line per completed epoch to stdout: losses, accuracies and speed."""

    def on_epoch_end(self, history: History) -> None:
        valid = f"，验证准确率 {100 * history.valid_acc[-1]:.2f} %" if history.valid_acc else ""
        print(
            f"第 {history.epochs}/{history.epochs_planned} 轮：训练损失 {history.train_loss[-1]:.4f}，"
            f"训练准确率 {100 * history.train_acc[-1]:.2f} %{valid}，{history.img_per_sec[-1]:,.0f} 张/秒",
            flush=True,
        )
