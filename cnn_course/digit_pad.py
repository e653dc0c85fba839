"""Draw a digit with the mouse: MNIST-style preprocessing, a model's prediction and C1's maps, live.

The preprocessing and the prediction are plain functions (:func:`preprocess_digit`,
:func:`predict_digit`) that tests call directly; :class:`DigitPad` only wires a canvas to them.
The strokes the student draws are kept in Python and rasterised here, so the same code path runs
with or without a browser. ``ipycanvas`` is imported only when a pad is built: the functions work
without it. Like the explorers in :mod:`cnn_course.widgets`, the pad shows its result as an ordinary
notebook output (a picture) that it updates in place, so a saved notebook still shows the sample
digit where widgets cannot run (GitHub, nbviewer, nbval).
"""

from __future__ import annotations

import functools
import html
import io
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from .datasets import DATASETS

__all__ = [
    "SAMPLE_STROKES",
    "DigitPad",
    "DigitPrediction",
    "DigitSteps",
    "EmptyDrawingError",
    "digit_pad",
    "plot_digit_steps",
    "predict_digit",
    "preprocess_digit",
    "rasterize_strokes",
]

FIT_SIZE = 20  # MNIST: the digit's bounding box is scaled to fit a 20x20 box ...
FIELD_SIZE = 28  # ... and placed in a 28x28 field with its centre of mass at the centre
INK_THRESHOLD = 0.1  # a pixel counts as ink (for the bounding box) from this brightness on, in [0, 1]
CANVAS_SIZE = 280
LINE_WIDTH = 20  # on a 280-pixel canvas, a digit ~200 px tall gets strokes ~2 px wide at 20x20, as in MNIST

#: A handwritten-looking "2" in canvas coordinates (x, y), deliberately small and off-centre.
SAMPLE_STROKES: tuple[tuple[tuple[int, int], ...], ...] = (
    ((28, 44), (32, 36), (39, 30), (48, 26), (57, 24), (67, 25), (76, 28), (84, 34), (89, 42), (92, 50),
     (91, 59), (85, 71), (70, 88), (51, 106), (32, 124), (48, 123), (70, 122), (96, 123), (108, 124)),
)


class EmptyDrawingError(ValueError):
    """The drawing holds no ink to read a digit from; the message says what to do."""


# --------------------------------------------------------------------------- input checks


def _image_array(image: Any, name: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Check a grayscale image (integers 0..255 or floats 0..1) and return it as float64 in [0, 1]."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    if not isinstance(image, np.ndarray):
        raise ValueError(
            f"{name} must be a 2-D numpy array or torch tensor (uint8 0..255 or float 0..1), "
            f"got {type(image).__name__}"
        )
    if image.ndim != 2 or min(image.shape) < 1:
        raise ValueError(
            f"{name} must be one 2-D grayscale image (height, width), got shape {tuple(image.shape)}; "
            "for an RGBA canvas image take one channel, e.g. image[..., 3]"
        )
    if shape is not None and tuple(image.shape) != shape:
        raise ValueError(
            f"{name} must have shape {shape}, got {tuple(image.shape)}; "
            "preprocess a drawing with preprocess_digit(...).image first"
        )
    if image.dtype.kind in "iu":
        low, high = int(image.min()), int(image.max())
        if low < 0 or high > 255:
            raise ValueError(f"{name} holds integers from {low} to {high}; integer images must lie in 0..255")
        return image.astype(np.float64) / 255.0
    if image.dtype.kind != "f":
        raise ValueError(
            f"{name} must hold integers 0..255 (e.g. uint8) or floats 0..1, got dtype {image.dtype}"
        )
    values = image.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"{name} holds NaN or infinite values; use numbers from 0 to 1")
    low, high = float(values.min()), float(values.max())
    if low < -1e-6 or high > 1 + 1e-6:  # allow float32 rounding, e.g. after a resize
        raise ValueError(
            f"{name} holds float values from {low:.6g} to {high:.6g}; float images must lie in [0, 1] "
            "(divide 0..255 values by 255, or pass them as uint8)"
        )
    return np.clip(values, 0.0, 1.0)


# --------------------------------------------------------------------------- drawing


def rasterize_strokes(
    strokes: Sequence[Sequence[tuple[float, float]]],
    size: int = CANVAS_SIZE,
    line_width: float = LINE_WIDTH,
) -> np.ndarray:
    """Draw strokes (lists of ``(x, y)`` points) as white lines with round ends on a black square.

    Args:
        strokes: one list of points per stroke, in canvas pixels; a single point draws a dot.
        size: width and height of the square canvas, in pixels.
        line_width: stroke width, in pixels.

    Returns:
        A ``(size, size)`` uint8 array, 0 = background, 255 = ink.

    Raises:
        ValueError: for a bad size, width or point.
    """
    from PIL import Image, ImageDraw

    if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 4096:
        raise ValueError(f"size must be an int from 8 to 4096 pixels, got {size!r}")
    if isinstance(line_width, bool) or not isinstance(line_width, (int, float)) or not 1 <= line_width <= size:
        raise ValueError(f"line_width must be a number from 1 to size={size}, got {line_width!r}")
    if isinstance(strokes, (str, bytes)) or not isinstance(strokes, Sequence):
        raise ValueError(f"strokes must be a list of strokes, each a list of (x, y) points, got {strokes!r:.80}")
    canvas = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(canvas)
    radius = line_width / 2
    for i, stroke in enumerate(strokes):
        try:
            points = [(float(x), float(y)) for x, y in stroke]
        except (TypeError, ValueError):
            raise ValueError(f"stroke {i} must be a list of (x, y) number pairs, got {stroke!r:.80}") from None
        if points and not np.isfinite(np.asarray(points)).all():
            raise ValueError(f"stroke {i} holds NaN or infinite coordinates; use numbers")
        if len(points) > 1:
            pen.line(points, fill=255, width=max(1, round(line_width)), joint="curve")
        for x, y in points:  # round caps and joins, and single-point dots
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(canvas, dtype=np.uint8).copy()


# --------------------------------------------------------------------------- preprocessing


@dataclass(frozen=True)
class DigitSteps:
    """The stages of :func:`preprocess_digit`, kept for display.

    Attributes:
        raw: the drawing as given, float in [0, 1], ``(H, W)``.
        box: the ink's bounding box in ``raw``: ``(top, left, bottom, right)``, bottom/right exclusive.
        fitted: the box scaled (anti-aliased, aspect ratio kept) so that its longer side is 20
            pixels, centred in a 20x20 uint8 square.
        image: the 28x28 uint8 result, as in the MNIST files (0 = background, 255 = ink).
        center_of_mass: ``(row, col)`` of the brightness-weighted centre of ``image``; the field's
            centre is (13.5, 13.5).
    """

    raw: np.ndarray
    box: tuple[int, int, int, int]
    fitted: np.ndarray
    image: np.ndarray
    center_of_mass: tuple[float, float]

    def describe(self) -> str:
        """A few lines of text: sizes, bounding box and centre of mass."""
        top, left, bottom, right = self.box
        rows, cols = np.nonzero(self.image)
        row, col = self.center_of_mass
        return "\n".join([
            f"raw drawing:        {self.raw.shape[0]} x {self.raw.shape[1]} pixels",
            f"ink bounding box:   rows {top}..{bottom - 1}, columns {left}..{right - 1} "
            f"({bottom - top} x {right - left})",
            f"fitted into 20x20:  ink {rows.max() - rows.min() + 1} x {cols.max() - cols.min() + 1} pixels",
            f"centre of mass:     ({row:.2f}, {col:.2f}) in the 28x28 field, whose centre is (13.5, 13.5)",
        ])


def _center_of_mass(image: np.ndarray) -> tuple[float, float]:
    total = image.sum()
    rows = np.arange(image.shape[0], dtype=np.float64)
    cols = np.arange(image.shape[1], dtype=np.float64)
    return float(image.sum(axis=1) @ rows / total), float(image.sum(axis=0) @ cols / total)


def preprocess_digit(drawing: Any) -> DigitSteps:
    """Turn a drawing into a 28x28 digit the way MNIST was made.

    The ink's bounding box is scaled (aspect ratio kept, anti-aliased) to fit a 20x20 box, then
    placed in a 28x28 field so that its centre of mass is at the centre, to within half a pixel
    (the shift is a whole number of pixels). Should centring push ink out of the field, the digit
    is moved only as far as the field allows.

    Args:
        drawing: a 2-D grayscale image, light ink on a dark background, uint8 (0..255) or float
            (0..1), any size, e.g. from :func:`rasterize_strokes`.

    Returns:
        A :class:`DigitSteps` with the raw drawing, the 20x20 fit and the 28x28 ``image``.

    Raises:
        EmptyDrawingError: when there is no ink, or the strokes are too faint or thin to survive scaling.
        ValueError: when ``drawing`` is not such an image, or looks like dark ink on a light background.
    """
    raw = _image_array(drawing, "drawing")
    ink = raw >= INK_THRESHOLD
    if not ink.any():
        raise EmptyDrawingError(
            f"the drawing is empty: no pixel reaches brightness {INK_THRESHOLD} (of 1); draw a digit "
            "in light ink on the dark background"
        )
    if ink.mean() > 0.5:
        raise ValueError(
            f"{100 * ink.mean():.0f} % of the drawing is bright: it looks like dark ink on a light background; "
            "MNIST digits are light on dark, so pass 255 - drawing (uint8) or 1 - drawing (float)"
        )
    rows, cols = np.nonzero(ink)
    top, bottom, left, right = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
    crop = raw[top:bottom, left:right]
    height, width = crop.shape
    scale = FIT_SIZE / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    # Bilinear with antialias, as TensorLoader resizes: when shrinking it averages the covered pixels.
    resized = F.interpolate(torch.from_numpy(crop)[None, None], size=(new_h, new_w), mode="bilinear",
                            align_corners=False, antialias=True)[0, 0].numpy()
    tight = np.rint(np.clip(resized, 0.0, 1.0) * 255).astype(np.uint8)
    if not tight.any():
        raise EmptyDrawingError("the strokes are too faint or thin to survive scaling to 20x20; draw thicker lines")
    fitted = np.zeros((FIT_SIZE, FIT_SIZE), dtype=np.uint8)
    fy, fx = (FIT_SIZE - new_h) // 2, (FIT_SIZE - new_w) // 2
    fitted[fy:fy + new_h, fx:fx + new_w] = tight
    # Centre of mass of the quantised pixels: a whole-pixel shift then moves it exactly.
    com_r, com_c = _center_of_mass(tight.astype(np.float64))
    centre = (FIELD_SIZE - 1) / 2
    oy = min(max(int(np.floor(centre - com_r + 0.5)), 0), FIELD_SIZE - new_h)
    ox = min(max(int(np.floor(centre - com_c + 0.5)), 0), FIELD_SIZE - new_w)
    image = np.zeros((FIELD_SIZE, FIELD_SIZE), dtype=np.uint8)
    image[oy:oy + new_h, ox:ox + new_w] = tight
    return DigitSteps(raw=raw, box=(top, left, bottom, right), fitted=fitted, image=image,
                      center_of_mass=(com_r + oy, com_c + ox))


# --------------------------------------------------------------------------- prediction


@dataclass(frozen=True)
class DigitPrediction:
    """What a model makes of one image.

    Attributes:
        probabilities: softmax of the model's scores, one per class, summing to 1.
        label: index of the most probable class.
        classes: class names, indexed by label.
        feature_maps: the first convolution layer's output channels (C1 for LeNet), ``(C, H, W)``,
            before the activation.
    """

    probabilities: np.ndarray
    label: int
    classes: tuple[str, ...]
    feature_maps: np.ndarray

    @property
    def name(self) -> str:
        """Name of the predicted class."""
        return self.classes[self.label]

    @property
    def confidence(self) -> float:
        """Probability of the predicted class."""
        return float(self.probabilities[self.label])


def predict_digit(model: nn.Module, image: Any, data_iter: Any = None) -> DigitPrediction:
    """Run ``model`` on one 28x28 image, normalised as the training data was.

    Args:
        model: a classifier with an ``nn.Conv2d`` layer (e.g. the trained LeNet); it is put in
            ``eval()`` mode for the call and back afterwards, and its parameters are not changed.
        image: 28x28, light ink on dark, uint8 (0..255) or float (0..1), e.g. ``preprocess_digit(d).image``.
        data_iter: the iterator the model was trained or tested with (from ``load_data``): its
            ``transform`` normalises (and resizes) exactly as in training, and its ``classes``
            name the outputs. None uses MNIST's mean and std (0.1307, 0.3081) and the digits 0-9.

    Returns:
        A :class:`DigitPrediction`.

    Raises:
        ValueError: for a bad model, image or data_iter, or a model that does not return one row of scores.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module such as the trained LeNet, got {type(model).__name__}")
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise ValueError("model has no nn.Conv2d layer, so there are no C1 feature maps to show; pass a CNN")
    pixels = _image_array(image, "image", (FIELD_SIZE, FIELD_SIZE))
    uint8 = torch.from_numpy(np.rint(pixels * 255).astype(np.uint8))[None]  # (1, 28, 28), as in the files
    if data_iter is None:
        info = DATASETS["MNIST"]
        X = uint8.unsqueeze(1).float().div(255.0).sub(info.mean).div(info.std)
        classes: tuple[str, ...] = info.classes
    else:
        if not callable(getattr(data_iter, "transform", None)) or not hasattr(data_iter, "classes"):
            raise ValueError(
                "data_iter must be an iterator from cnn_course.load_data (e.g. test_iter): its transform "
                f"normalises like the training data; got {type(data_iter).__name__}"
            )
        X = data_iter.transform(uint8.to(data_iter.device)).cpu()
        classes = tuple(data_iter.classes)
    param = next(model.parameters(), None)
    captured: list[torch.Tensor] = []
    hook = conv.register_forward_hook(lambda module, inputs, output: captured.append(output.detach().cpu()))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            scores = model(X.to(param.device if param is not None else "cpu"))
    finally:
        hook.remove()
        model.train(was_training)
    if not isinstance(scores, torch.Tensor) or scores.ndim != 2 or scores.shape != (1, len(classes)):
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ValueError(f"model must return scores of shape (1, {len(classes)}) for one image, got {shape}")
    probabilities = torch.softmax(scores.double().cpu(), dim=1)[0].numpy()
    return DigitPrediction(probabilities=probabilities, label=int(probabilities.argmax()), classes=classes,
                           feature_maps=captured[0][0].numpy())


# --------------------------------------------------------------------------- pictures


def _draw_steps(axes: Sequence[Any], steps: DigitSteps) -> None:
    ax_raw, ax_fit, ax_img = axes
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
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])


def plot_digit_steps(steps: DigitSteps) -> Figure:
    """Show the preprocessing side by side: the raw drawing, the 20x20 fit and the centred 28x28 image."""
    if not isinstance(steps, DigitSteps):
        raise ValueError(f"steps must be the DigitSteps returned by preprocess_digit, got {type(steps).__name__}")
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.9))
    _draw_steps(axes, steps)
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


# --------------------------------------------------------------------------- the widget

_STATIC_NOTE = "(交互控件:在运行中的 Jupyter 里用鼠标在画布上写一个数字;下方是示例数字的结果)"


def _controls_class() -> type:
    import ipywidgets as widgets

    class DrawControls(widgets.VBox):
        """A ``VBox`` whose plain-text form says what it is, for viewers that cannot show widgets."""

        def __repr__(self) -> str:
            return _STATIC_NOTE

    return DrawControls


def _require_ipycanvas() -> Any:
    try:
        import ipycanvas
    except ImportError:
        raise ImportError(
            "the drawing pad needs the ipycanvas package: run  pip install ipycanvas  and restart the kernel"
        ) from None
    return ipycanvas


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
        ipycanvas = _require_ipycanvas()
        import ipywidgets as widgets

        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module such as the trained LeNet, got {type(model).__name__}")
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0 <= interval <= 10:
            raise ValueError(f"interval must be a number of seconds from 0 to 10, got {interval!r}")
        if not isinstance(sample, bool):
            raise ValueError(f"sample must be True or False, got {sample!r}")
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
        self._handle: Any = None
        self.png = b""  # the picture last drawn
        self._hold = ipycanvas.hold_canvas

        self.canvas = ipycanvas.MultiCanvas(2, width=size, height=size)  # 0: background, 1: ink
        self.canvas.layout.width = f"{size}px"
        self.canvas.layout.height = f"{size}px"
        self.canvas.layout.border = "1px solid #888"
        self.clear_button = widgets.Button(description="清除 (clear)", icon="eraser", tooltip="擦掉画布,重新写")
        self.status = widgets.HTML()
        self.controls = _controls_class()(
            [widgets.HBox([self.canvas, widgets.VBox([self.clear_button, self.status],
                                                    layout=widgets.Layout(width="300px", margin="0 0 0 12px"))])]
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
        except EmptyDrawingError:
            self.message = ("画布是空的:按住鼠标左键,在黑色画布上写一个 0–9 的数字。" if not self.strokes
                            else "笔画太细或太淡,缩小到 20×20 后就看不见了:写粗一点、大一点。")
            self.status.value = f"<p style='color:#555'>{self.message}</p>"
            self._show(_pad_picture(None, None, "draw a digit on the canvas"))
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
        from IPython.display import Image, display

        display(self.controls)
        self._handle = display(Image(data=self.png, format="png"), display_id=True)

    # -- callbacks
    def _reporting(self, callback: Callable[..., None]) -> Callable[..., None]:
        """Wrap a callback so that an error shows in the status line instead of vanishing in the log."""

        def wrapped(*args: Any) -> None:
            try:
                callback(*args)
            except Exception as err:  # noqa: BLE001 - a widget callback has nobody to raise to
                self.message = f"出错了:{type(err).__name__}: {err}"
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

    def _show(self, png: bytes) -> None:
        self.png = png
        if self._handle is not None:
            from IPython.display import Image

            self._handle.update(Image(data=png, format="png"))


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
