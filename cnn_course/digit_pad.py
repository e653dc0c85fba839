"""Draw a digit with the mouse: the drawing, its MNIST-style preprocessing, a model's prediction and C1's maps.

The numbers come from :mod:`cnn_course.digits` (re-exported here); this module draws them
(:func:`plot_digit_steps`, the pad's picture) and wires an ``ipycanvas`` canvas to them
(:class:`DigitPad`, imported only when a pad is built). The strokes are kept in Python and
rasterised there, so the same code path runs with or without a browser. Like the explorers in
:mod:`cnn_course.widgets`, the pad shows its result as an ordinary notebook output (a picture)
that it updates in place, so a saved notebook still shows the sample digit where widgets cannot
run (GitHub, nbviewer, nbval).
"""

from __future__ import annotations

import functools
import html
import io
import time
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from .digits import (
    CANVAS_SIZE,
    FIELD_SIZE,
    LINE_WIDTH,
    SAMPLE_STROKES,
    DigitPrediction,
    DigitSteps,
    DrawingTooSmallError,
    EmptyDrawingError,
    predict_digit,
    preprocess_digit,
    rasterize_strokes,
)
from .display import LiveOutput, png

__all__ = [
    "SAMPLE_STROKES",
    "DigitPad",
    "DigitPrediction",
    "DigitSteps",
    "DrawingTooSmallError",
    "EmptyDrawingError",
    "digit_pad",
    "plot_digit_steps",
    "predict_digit",
    "preprocess_digit",
    "rasterize_strokes",
]


def plot_digit_steps(steps: DigitSteps) -> Figure:
    """Show the preprocessing side by side: the raw drawing, the 20x20 fit and the centred 28x28 image."""
    if not isinstance(steps, DigitSteps):
        raise ValueError(f"steps 必须是 preprocess_digit 返回的 DigitSteps，传入的是 {type(steps).__name__}")
    fig, (ax_raw, ax_fit, ax_img) = plt.subplots(1, 3, figsize=(7.5, 2.9))
    h, w = steps.raw.shape
    ax_raw.imshow(steps.raw, cmap="gray", vmin=0, vmax=1)
    top, left, bottom, right = steps.box
    ax_raw.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False,
                               edgecolor="tab:red", linewidth=1.2))
    ax_raw.set_title(f"drawing {h}x{w}\nink box {bottom - top}x{right - left}", fontsize=8)
    ax_fit.imshow(steps.fitted, cmap="gray", vmin=0, vmax=255)
    ax_fit.set_title("fitted into 20x20\n(anti-aliased)", fontsize=8)
    ax_img.imshow(steps.image, cmap="gray", vmin=0, vmax=255)
    centre = (FIELD_SIZE - 1) / 2
    ax_img.axhline(centre, color="tab:blue", linewidth=0.6)
    ax_img.axvline(centre, color="tab:blue", linewidth=0.6)
    row, col = steps.center_of_mass
    ax_img.plot(col, row, "+", color="tab:red", markersize=14, markeredgewidth=2)
    ax_img.set_title("28x28, centre of mass (+)\nat the centre", fontsize=8)
    for ax in fig.axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


# The pad's picture is composed with PIL rather than matplotlib: about a hundred times faster, so
# redrawing while the student draws does not hold up the mouse events queued behind it.
_PICTURE_SIZE = (800, 330)
_RED, _BLUE, _GREY = (214, 39, 40), (31, 119, 180), (120, 120, 120)


@functools.lru_cache(maxsize=4)
def _font(size: int) -> Any:
    from matplotlib import font_manager
    from PIL import ImageFont

    return ImageFont.truetype(font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans")), size)


def _gray(values: np.ndarray, scale: int, low: float | None = None, high: float | None = None) -> Any:
    """A grayscale PIL image of ``values`` (min..max, or low..high), each pixel a ``scale`` x ``scale`` block."""
    from PIL import Image

    low = float(values.min()) if low is None else low
    high = float(values.max()) if high is None else high
    span = high - low if high > low else 1.0
    pixels = np.clip((values.astype(np.float64) - low) / span * 255, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels.repeat(scale, 0).repeat(scale, 1)).convert("RGB")


def _pad_picture(steps: DigitSteps | None, prediction: DigitPrediction | None, note: str = "") -> bytes:
    """The pad's picture as PNG bytes: the three preprocessing stages, the probability bars and the C1 maps."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", _PICTURE_SIZE, "white")
    pen = ImageDraw.Draw(picture)
    small, title = _font(11), _font(13)
    if steps is None or prediction is None:
        pen.text((_PICTURE_SIZE[0] // 2, _PICTURE_SIZE[1] // 2), note, fill=_GREY, font=title, anchor="mm")
    else:
        side = 140
        raw = steps.raw
        factor = max(1, -(-max(raw.shape) // side))  # shrink the drawing by a whole factor to fit
        h, w = raw.shape[0] // factor * factor, raw.shape[1] // factor * factor
        shrunk = raw[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))
        panels = [
            (_gray(shrunk, 1, 0.0, 1.0), f"drawing {raw.shape[0]}x{raw.shape[1]}"),
            (_gray(steps.fitted, 7, 0, 255), "fitted into 20x20"),
            (_gray(steps.image, 5, 0, 255), "28x28, centre of mass +"),
        ]
        for i, (image, text) in enumerate(panels):
            x = 10 + 160 * i
            pen.text((x + side // 2, 18), text, fill="black", font=small, anchor="mm")
            picture.paste(image, (x, 30))
        top, left, bottom, right = steps.box
        pen.rectangle((10 + left / factor, 30 + top / factor, 10 + right / factor, 30 + bottom / factor),
                      outline=_RED, width=2)
        centre = 330 + 14 * 5  # the 28x28 panel starts at x=330, y=30; its centre is 14 pixels x 5 in
        pen.line((330, 30 + 70, 330 + side, 30 + 70), fill=_BLUE)
        pen.line((centre, 30, centre, 30 + side), fill=_BLUE)
        row, col = steps.center_of_mass
        cx, cy = 330 + (col + 0.5) * 5, 30 + (row + 0.5) * 5
        pen.line((cx - 7, cy, cx + 7, cy), fill=_RED, width=3)
        pen.line((cx, cy - 7, cx, cy + 7), fill=_RED, width=3)
        # probability bars: 0..100 % over 130 pixels
        n, base, x0 = len(prediction.probabilities), 160, 540
        step = min(24, 240 // max(n, 1))
        pen.text((x0 + n * step // 2, 18), f"prediction: {prediction.name} ({100 * prediction.confidence:.1f} %)",
                 fill="black", font=title, anchor="mm")
        for level in (0, 50, 100):
            y = base - 1.3 * level
            pen.line((x0 - 4, y, x0 + n * step, y), fill=(225, 225, 225) if level else _GREY)
            pen.text((x0 - 8, y), f"{level}%", fill=_GREY, font=small, anchor="rm")
        for k, probability in enumerate(prediction.probabilities):
            color = _RED if k == prediction.label else _BLUE
            height = round(130 * float(probability))
            if height:
                pen.rectangle((x0 + k * step + 3, base - height, x0 + (k + 1) * step - 3, base), fill=color)
            label = prediction.classes[k] if n <= 10 and len(prediction.classes[k]) <= 3 else str(k)
            pen.text((x0 + k * step + step // 2, base + 9), label, fill="black", font=small, anchor="mm")
        # the first convolution layer's maps, each scaled to its own min..max as imshow does
        maps = prediction.feature_maps[:6]
        scale = max(1, 112 // max(maps.shape[-2:]))
        for i, fmap in enumerate(maps):
            x = 10 + 132 * i
            pen.text((x + 56, 198), f"C1 channel {i}", fill="black", font=small, anchor="mm")
            picture.paste(_gray(fmap, scale), (x, 210))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)  # fast: it is redrawn while the student draws
    return buffer.getvalue()


_STATIC_NOTE = "(交互控件:在运行中的 Jupyter 里用鼠标在画布上写一个数字;下方是示例数字的结果)"


class DigitPad:
    """A canvas to draw a digit on, a clear button and a status line; the picture below updates live.

    While the student draws, the picture (preprocessing, probabilities, C1's maps) is redrawn at
    most every ``interval`` seconds (longer when redrawing is slow), and always when the mouse is
    released. Errors in the callbacks appear in the status line. Use :func:`digit_pad` in a
    notebook; build this class directly to drive it from code (:meth:`stroke`, :meth:`clear`).

    Args:
        model, data_iter, size, line_width, interval: as in :func:`digit_pad`.
        sample: start with :data:`SAMPLE_STROKES` drawn (False: start empty).
        clock: the time function that paces the live updates (tests pass a fake one).

    Attributes:
        strokes: the strokes drawn so far, each a list of ``(x, y)`` canvas pixels.
        steps, prediction: the current :class:`DigitSteps` and :class:`DigitPrediction` (None when empty).
        message: the status line's text; png: the picture last drawn (PNG bytes).
        canvas, clear_button, status: the widgets (an ``ipycanvas.MultiCanvas``, a button, an HTML line).

    Raises:
        ImportError: when ipycanvas is not installed.
        ValueError: for a bad argument (the message names it).
    """

    def __init__(
        self,
        model: nn.Module,
        data_iter: Any = None,
        *,
        size: int = CANVAS_SIZE,
        line_width: float = LINE_WIDTH,
        interval: float = 0.25,
        sample: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        try:
            import ipycanvas
        except ImportError:
            raise ImportError("画板需要 ipycanvas 包：请运行  pip install ipycanvas  然后重启内核（kernel）") from None
        import ipywidgets as widgets

        from .widgets import Controls

        if not isinstance(model, nn.Module):
            raise ValueError(f"model 必须是 torch.nn.Module，例如训练好的 LeNet，传入的是 {type(model).__name__}")
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0 <= interval <= 10:
            raise ValueError(f"interval 必须是 0 到 10 之间的秒数，传入的是 {interval!r}")
        if not isinstance(sample, bool):
            raise ValueError(f"sample 必须是 True 或 False，传入的是 {sample!r}")
        rasterize_strokes([], size, line_width)  # checks size and line_width
        self.model, self.data_iter = model, data_iter
        self.size, self.line_width, self.interval = size, line_width, float(interval)
        self.strokes: list[list[tuple[float, float]]] = []
        self.steps: DigitSteps | None = None
        self.prediction: DigitPrediction | None = None
        self.message = ""
        self._clock = clock
        self._pen_down = False
        self._last_update = -float("inf")
        self._render_seconds = 0.0
        self.output = LiveOutput()
        self.png = b""  # the picture last drawn
        self._hold = ipycanvas.hold_canvas

        self.canvas = ipycanvas.MultiCanvas(2, width=size, height=size)  # 0: background, 1: ink
        self.canvas.layout.width = f"{size}px"
        self.canvas.layout.height = f"{size}px"
        self.canvas.layout.border = "1px solid #888"
        self.clear_button = widgets.Button(description="清除 (clear)", icon="eraser", tooltip="擦掉画布,重新写")
        self.status = widgets.HTML()
        self.controls = Controls(
            [widgets.HBox([self.canvas, widgets.VBox([self.clear_button, self.status],
                                                    layout=widgets.Layout(width="300px", margin="0 0 0 12px"))])],
            note=_STATIC_NOTE,
        )
        self.clear_button.on_click(self._reporting(lambda _button: self.clear()))
        self.canvas.on_mouse_down(self._reporting(self._pen_at))
        self.canvas.on_mouse_move(self._reporting(self._move_to))
        self.canvas.on_mouse_up(self._reporting(self._lift))
        self.canvas.on_mouse_out(self._reporting(self._lift))
        self.canvas.on_touch_start(self._reporting(lambda touches: self._pen_at(*touches[0])))
        self.canvas.on_touch_move(self._reporting(lambda touches: self._move_to(*touches[0])))
        self.canvas.on_touch_end(self._reporting(lambda touches: self._lift()))
        self.canvas.on_client_ready(self._reporting(self._redraw))  # a reopened page starts blank
        self._redraw()
        if sample:
            for points in SAMPLE_STROKES:
                self.stroke(points, update=False)
        self.update()

    def __repr__(self) -> str:
        return f"DigitPad({len(self.strokes)} stroke(s)): {self.message}"

    # -- driving it from code
    def stroke(self, points: Sequence[tuple[float, float]], update: bool = True) -> None:
        """Draw one stroke through ``points`` (canvas pixels), as if drawn with the mouse."""
        points = [(float(x), float(y)) for x, y in points]
        rasterize_strokes([points], self.size, self.line_width)  # checks the points
        self.strokes.append(points)
        self._draw_stroke(points)
        if update:
            self.update()

    def clear(self) -> None:
        """Erase the drawing and the prediction."""
        self.strokes = []
        self._pen_down = False
        self.canvas[1].clear()
        self.update()

    def drawing(self) -> np.ndarray:
        """The current drawing as a ``(size, size)`` uint8 image (0 = background, 255 = ink)."""
        return rasterize_strokes(self.strokes, self.size, self.line_width)

    def update(self) -> None:
        """Preprocess the drawing, predict, and redraw the status line and the picture."""
        start = self._clock()
        self._last_update = start
        self.steps, self.prediction = None, None
        try:
            self.steps = preprocess_digit(self.drawing())
        except EmptyDrawingError as err:
            too_small = isinstance(err, DrawingTooSmallError)
            self.message = ("画布是空的：按住鼠标左键，在黑色画布上写一个 0–9 的数字。" if not self.strokes
                            else "字太小了，看不清：把数字写大一点（至少占画布的七分之一）。" if too_small
                            else "笔画太细或太淡，缩小到 20×20 后就看不见了：写粗一点、大一点。")
            self.status.value = f"<p style='color:#555'>{self.message}</p>"
            self._show(_pad_picture(None, None, "too small to read: draw the digit larger" if too_small
                                    else "draw a digit on the canvas"))
            return
        self.prediction = predict_digit(self.model, self.steps.image, self.data_iter)
        p = self.prediction
        self.message = f"模型的预测:{p.name}(概率 {100 * p.confidence:.1f} %)"
        top3 = np.argsort(p.probabilities)[::-1][:3]
        others = ",".join(f"{p.classes[i]}: {100 * p.probabilities[i]:.1f} %" for i in top3)
        self.status.value = (f"<p style='font-size:1.3em'><b>{html.escape(self.message)}</b></p>"
                             f"<p style='color:#555'>前三名:{html.escape(others)}</p>")
        self._show(_pad_picture(self.steps, self.prediction))
        self._render_seconds = self._clock() - start

    def show(self) -> None:
        """Display the controls, then the picture they update."""
        from IPython.display import display

        display(self.controls)
        self.output.show(png(self.png))

    # -- callbacks
    def _reporting(self, callback: Callable[..., None]) -> Callable[..., None]:
        """Wrap a callback so that an error shows in the status line instead of vanishing in the log."""

        def wrapped(*args: Any) -> None:
            try:
                callback(*args)
            except Exception as err:  # a widget callback has nobody to raise to
                self.message = f"出错了：{type(err).__name__}: {err}"
                self.status.value = f"<p style='color:#b00'>{html.escape(self.message)}</p>"

        return wrapped

    def _pen_at(self, x: float, y: float) -> None:
        self._pen_down = True
        self.strokes.append([(float(x), float(y))])
        self._draw_stroke(self.strokes[-1])

    def _move_to(self, x: float, y: float) -> None:
        if not self._pen_down:
            return
        points = self.strokes[-1]
        x0, y0 = points[-1]
        points.append((float(x), float(y)))
        layer = self.canvas[1]
        layer.stroke_line(x0, y0, float(x), float(y))
        # Predicting and drawing the picture is slow next to a mouse move: do it now and then.
        wait = max(self.interval, 3 * self._render_seconds)
        if self._clock() - self._last_update >= wait:
            self.update()

    def _lift(self, *_xy: float) -> None:
        if self._pen_down:
            self._pen_down = False
            self.update()

    # -- drawing
    def _redraw(self) -> None:
        with self._hold():
            background = self.canvas[0]
            background.fill_style = "black"
            background.fill_rect(0, 0, self.size, self.size)
            ink = self.canvas[1]
            ink.clear()
            ink.stroke_style = "white"
            ink.fill_style = "white"
            ink.line_width = self.line_width
            ink.line_cap = "round"
            ink.line_join = "round"
            for points in self.strokes:
                self._draw_stroke(points)

    def _draw_stroke(self, points: Sequence[tuple[float, float]]) -> None:
        ink = self.canvas[1]
        with self._hold():
            if len(points) == 1:
                ink.fill_circle(points[0][0], points[0][1], self.line_width / 2)
            else:
                ink.stroke_lines(points)

    def _show(self, picture: bytes) -> None:
        self.png = picture
        self.output.update(png(picture))


def digit_pad(
    model: nn.Module,
    data_iter: Any = None,
    *,
    size: int = CANVAS_SIZE,
    line_width: float = LINE_WIDTH,
    interval: float = 0.25,
) -> DigitPad:
    """Show a canvas to draw a digit on; the model's prediction, probabilities and C1 maps follow live.

    It starts with a sample digit, which is also what a saved notebook shows where widgets cannot run.

    Args:
        model: the trained classifier, e.g. LeNet.
        data_iter: the ``load_data`` iterator whose ``transform`` normalised the training data
            (None: MNIST's mean and std).
        size: canvas width and height in pixels.
        line_width: pen width in pixels.
        interval: least seconds between live updates while drawing.

    Returns:
        The :class:`DigitPad`, to drive from code (``pad.stroke(points)``, ``pad.clear()``) or to
        read (``pad.steps``, ``pad.prediction``); assign it (``pad = digit_pad(...)``) to show nothing more.

    Raises:
        ImportError: when ipycanvas is not installed.
        ValueError: for a bad argument (the message names it).
    """
    pad = DigitPad(model, data_iter, size=size, line_width=line_width, interval=interval)
    pad.show()
    return pad
