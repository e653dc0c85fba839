"""Digits drawn by hand, made like MNIST's: check, rasterise, crop/scale/centre, predict; no widget here.

:mod:`cnn_course.digit_pad` wires a canvas to these functions and draws their results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .loaders import TensorLoader

__all__ = [
    "SAMPLE_STROKES",
    "DigitPrediction",
    "DigitSteps",
    "DrawingTooSmallError",
    "EmptyDrawingError",
    "predict_digit",
    "preprocess_digit",
    "rasterize_strokes",
]

FIT_SIZE = 20  # MNIST: the digit's bounding box is scaled to fit a 20x20 box ...
FIELD_SIZE = 28  # ... and placed in a 28x28 field with its centre of mass at the centre
INK_THRESHOLD = 0.1  # a pixel counts as ink (for the bounding box) from this brightness on, in [0, 1]
MIN_INK = 4  # an ink box under 4x4 pixels at 28x28 (40 px on the 280 px canvas) is a dot, not a digit
CANVAS_SIZE = 280
LINE_WIDTH = 20  # on a 280-pixel canvas, a digit ~200 px tall gets strokes ~2 px wide at 20x20, as in MNIST

#: A handwritten-looking "2" in canvas coordinates (x, y), deliberately small and off-centre.
SAMPLE_STROKES: tuple[tuple[tuple[int, int], ...], ...] = (
    ((28, 44), (32, 36), (39, 30), (48, 26), (57, 24), (67, 25), (76, 28), (84, 34), (89, 42), (92, 50),
     (91, 59), (85, 71), (70, 88), (51, 106), (32, 124), (48, 123), (70, 122), (96, 123), (108, 124)),
)


class EmptyDrawingError(ValueError):
    """The drawing holds no ink to read a digit from; the message says what to do."""


class DrawingTooSmallError(EmptyDrawingError):
    """The ink is a dot or a tiny scribble: scaled up to 20x20 it would be a blob, not a digit."""


def _image_array(image: Any, name: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Check a grayscale image (integers 0..255 or floats 0..1) and return it as float64 in [0, 1]."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    if not isinstance(image, np.ndarray):
        raise ValueError(
            f"{name} 必须是二维的 numpy 数组或 torch 张量（uint8 0..255 或 float 0..1），"
            f"传入的是 {type(image).__name__}"
        )
    if image.ndim != 2 or min(image.shape) < 1:
        raise ValueError(
            f"{name} 必须是一张二维灰度图像 (height, width)，传入的形状是 {tuple(image.shape)}；"
            "画布给出的 RGBA 图像请取一个通道，例如 image[..., 3]"
        )
    if shape is not None and tuple(image.shape) != shape:
        raise ValueError(
            f"{name} 的形状必须是 {shape}，传入的是 {tuple(image.shape)}；"
            "请先用 preprocess_digit(...).image 预处理手写的数字"
        )
    if image.dtype.kind in "iu":
        smallest, largest = int(image.min()), int(image.max())
        if smallest < 0 or largest > 255:
            raise ValueError(f"{name} 里的整数从 {smallest} 到 {largest}；整数图像的值必须在 0..255 之间")
        return image.astype(np.float64) / 255.0
    if image.dtype.kind != "f":
        raise ValueError(
            f"{name} 里必须是 0..255 的整数（例如 uint8）或 0..1 的浮点数，传入的 dtype 是 {image.dtype}"
        )
    values = image.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"{name} 里有 NaN 或无穷大的值；请用 0 到 1 之间的数")
    low, high = float(values.min()), float(values.max())
    if low < -1e-6 or high > 1 + 1e-6:  # allow float32 rounding, e.g. after a resize
        raise ValueError(
            f"{name} 里的浮点数从 {low:.6g} 到 {high:.6g}；浮点图像的值必须在 [0, 1] 之间"
            "（把 0..255 的值除以 255，或者以 uint8 传入）"
        )
    return np.clip(values, 0.0, 1.0)


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
        raise ValueError(f"size 必须是从 8 到 4096 的整数（像素），传入的是 {size!r}")
    if isinstance(line_width, bool) or not isinstance(line_width, (int, float)) or not 1 <= line_width <= size:
        raise ValueError(f"line_width 必须是从 1 到 size={size} 的数，传入的是 {line_width!r}")
    if isinstance(strokes, (str, bytes)) or not isinstance(strokes, Sequence):
        raise ValueError(f"strokes 必须是由笔画组成的列表，每一笔是由 (x, y) 点组成的列表，传入的是 {strokes!r:.80}")
    canvas = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(canvas)
    radius = line_width / 2
    for i, stroke in enumerate(strokes):
        try:
            points = [(float(x), float(y)) for x, y in stroke]
        except (TypeError, ValueError):
            raise ValueError(f"第 {i} 笔（stroke {i}）必须是由 (x, y) 数对组成的列表，"
                             f"传入的是 {stroke!r:.80}") from None
        if points and not np.isfinite(np.asarray(points)).all():
            raise ValueError(f"第 {i} 笔（stroke {i}）里有 NaN 或无穷大的坐标；请用有限的数")
        if len(points) > 1:
            pen.line(points, fill=255, width=max(1, round(line_width)), joint="curve")
        for x, y in points:  # round caps and joins, and single-point dots
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(canvas, dtype=np.uint8).copy()


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
        DrawingTooSmallError: when the ink's bounding box, at the scale of a 28x28 field, is under
            ``MIN_INK`` (4) pixels in both directions (a dot or a tiny scribble).
        ValueError: when ``drawing`` is not such an image, or looks like dark ink on a light background.
    """
    raw = _image_array(drawing, "drawing")
    ink = raw >= INK_THRESHOLD
    if not ink.any():
        raise EmptyDrawingError(
            f"画面是空的：没有哪个像素的亮度达到 {INK_THRESHOLD}（满分 1）；请在深色背景上用浅色笔画写一个数字"
        )
    if ink.mean() > 0.5:
        raise ValueError(
            f"画面有 {100 * ink.mean():.0f} % 是亮的：看起来是浅色背景上的深色笔画；MNIST 的数字是深色背景上的"
            "浅色笔画，所以请传入 255 - drawing（uint8）或 1 - drawing（float）"
        )
    rows, cols = np.nonzero(ink)
    top, bottom, left, right = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
    ink_h, ink_w = ((bottom - top) * FIELD_SIZE / max(raw.shape), (right - left) * FIELD_SIZE / max(raw.shape))
    if max(ink_h, ink_w) < MIN_INK:
        raise DrawingTooSmallError(
            f"写得太小，认不出来：缩到 28x28 时笔画只占 {ink_h:.1f} x {ink_w:.1f} 个像素，两个方向都不到 "
            f"{MIN_INK}，放大到 20x20 就成了一团；请把数字写大一点"
        )
    crop = raw[top:bottom, left:right]
    height, width = crop.shape
    scale = FIT_SIZE / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    # Bilinear with antialias, as TensorLoader resizes: when shrinking it averages the covered pixels.
    resized = F.interpolate(torch.from_numpy(crop)[None, None], size=(new_h, new_w), mode="bilinear",
                            align_corners=False, antialias=True)[0, 0].numpy()
    tight = np.rint(np.clip(resized, 0.0, 1.0) * 255).astype(np.uint8)
    if not tight.any():
        raise EmptyDrawingError("笔画太淡或太细，缩小到 20x20 后就看不见了；请写粗一点")
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
        model: a classifier with an ``nn.Conv2d`` layer (e.g. the trained LeNet) that takes the
            transformed image; it is put in ``eval()`` mode for the call and back afterwards, and its
            parameters are not changed.
        image: 28x28, light ink on dark, uint8 (0..255) or float (0..1), e.g. ``preprocess_digit(d).image``.
        data_iter: the iterator the model was trained or tested with (from ``load_data``): its
            ``transform`` normalises (and resizes) exactly as in training, and its ``classes``
            name the outputs. None uses MNIST's (28x28, its mean and std, the digits 0-9).

    Returns:
        A :class:`DigitPrediction`.

    Raises:
        ValueError: for a bad model, image or data_iter; a model built for other images (channels
            or size: the message names what it takes); a model that does not return one row of scores.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model 必须是 torch.nn.Module，例如训练好的 LeNet，传入的是 {type(model).__name__}")
    conv = next(((name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise ValueError("model 没有 nn.Conv2d 层，所以没有 C1 特征图可以显示；请传入卷积神经网络")
    pixels = _image_array(image, "image", (FIELD_SIZE, FIELD_SIZE))
    uint8 = torch.from_numpy(np.rint(pixels * 255).astype(np.uint8))[None]  # (1, 28, 28), as in the files
    if data_iter is None:  # the MNIST loader's own transform: one normalisation in the package
        data_iter = TensorLoader(uint8, torch.zeros(1, dtype=torch.long), batch_size=1, shuffle=False, info="MNIST")
    elif not callable(getattr(data_iter, "transform", None)) or not hasattr(data_iter, "classes"):
        raise ValueError(
            "data_iter 必须是 cnn_course.load_data 返回的迭代器（例如 test_iter）：它的 transform 会像训练数据那样"
            f"做标准化；传入的是 {type(data_iter).__name__}"
        )
    X = data_iter.transform(uint8.to(data_iter.device)).cpu()
    classes: tuple[str, ...] = tuple(data_iter.classes)
    if conv[1].in_channels != X.shape[1]:
        raise ValueError(
            f"model 接收 {conv[1].in_channels} 通道的图像（它的第一个卷积层 {conv[0]} 的 "
            f"in_channels={conv[1].in_channels}），但手写的数字只有 {X.shape[1]} 个灰度通道；"
            "请用在单通道 28x28 数字上训练的模型，例如本章的 LeNet"
        )
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    captured: list[torch.Tensor] = []
    hook = conv[1].register_forward_hook(lambda module, inputs, output: captured.append(output.detach().cpu()))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            scores = model(X.to(device))
    except RuntimeError as err:
        fits = _size_that_fits(model, X.shape[1], device)
        if fits is None:
            raise  # not a question of size: the model's own error says more
        raise ValueError(
            f"model 接收不了 {X.shape[1]}x{X.shape[2]}x{X.shape[3]} 的手写图像"
            f"（{str(err).splitlines()[0]}）；它运行在 {fits}x{fits} 的图像上：请把缩放到这个尺寸的 load_data "
            f"迭代器作为 data_iter 传入（load_data(..., resize={fits})），或者用为 28x28 数字设计的模型，"
            "例如本章的 LeNet"
        ) from None
    finally:
        hook.remove()
        model.train(was_training)
    if not isinstance(scores, torch.Tensor) or scores.ndim != 2 or scores.shape != (1, len(classes)):
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ValueError(f"对一张图像，model 必须返回形状为 (1, {len(classes)}) 的分数，它返回的是 {shape}")
    probabilities = torch.softmax(scores.double().cpu(), dim=1)[0].numpy()
    return DigitPrediction(probabilities=probabilities, label=int(probabilities.argmax()), classes=classes,
                           feature_maps=captured[-1][0].numpy())


def _size_that_fits(model: nn.Module, channels: int, device: torch.device) -> int | None:
    """The first of the usual square image sizes that ``model`` runs on, or None (called after a failure)."""
    for size in (32, 64, 96, 112, 128, 224, 227, 256, 299):
        try:
            with torch.no_grad():
                model(torch.zeros(1, channels, size, size, device=device))
            return size
        except RuntimeError:
            continue
    return None
