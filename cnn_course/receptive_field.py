"""Receptive fields of stacked convolutions and pooling: the formula, the input region, and a measurement.

For a stack of layers with kernel ``k``, stride ``s``, padding ``p`` and dilation ``d`` (per axis),
starting from the input with ``r = 1``, ``j = 1`` and ``start = 0``::

    r_l     = r_{l-1} + (k_l - 1) * d_l * j_{l-1}    # field size, in input pixels
    j_l     = j_{l-1} * s_l                          # jump: input pixels between neighbouring outputs
    start_l = start_{l-1} - p_l * j_{l-1}            # first input pixel of output 0 (negative: padding)

Output position ``i`` of layer ``l`` then looks at input pixels ``start_l + i * j_l`` to
``start_l + i * j_l + r_l - 1``. Near the border part of that box lies in the zero padding, and a
position that reads only padding depends on no input pixel at all, so :func:`input_region`
follows the layers back one by one and keeps only real pixels. :func:`measure_input_region`
finds the same pixels independently, from the gradient of the output with respect to the input.

Layers handled: ``nn.Conv2d`` (zero padding), ``nn.MaxPool2d``, ``nn.AvgPool2d``, and layers that
work pixel by pixel (activations, dropout, batch norm...). A table ends at the first layer that
mixes all positions (``nn.Flatten``, ``nn.Linear``, adaptive pooling): from there on every output
depends on the whole image.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_int, check_model, check_pair, describe
from .shapes import RowTable, ShapeError, size_formula, text_table

__all__ = [
    "FieldRow",
    "FieldTable",
    "Region",
    "input_region",
    "measure_input_region",
    "receptive_fields",
]

#: Layers that work pixel by pixel: they leave the receptive field unchanged.
POINTWISE = (
    nn.Identity, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU,
    nn.SiLU, nn.Mish, nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus,
    nn.Softsign, nn.Tanhshrink, nn.Softmax2d, nn.Dropout, nn.Dropout2d, nn.AlphaDropout,
    nn.FeatureAlphaDropout, nn.BatchNorm2d, nn.LocalResponseNorm,
)
#: Layers that slide a window: they grow the receptive field.
WINDOWED = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)
#: Layers after which every output depends on the whole image: a table stops there.
GLOBAL = (nn.Flatten, nn.Linear, nn.LazyLinear, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)

Pair = tuple[int, int]


@dataclass(frozen=True)
class _Window:
    """One windowed layer's settings per axis; ``padding`` is the top/left padding."""

    kernel_size: Pair
    stride: Pair
    padding: Pair
    dilation: Pair
    ceil_mode: bool
    same: bool  # Conv2d(padding="same"): output size = input size, PyTorch pads the rest on the right


@dataclass(frozen=True)
class FieldRow:
    """The receptive field of one windowed layer's outputs, per axis ``(height, width)``.

    Attributes:
        index: position of the layer in the network's ``nn.Sequential``.
        name: the layer's name, e.g. ``"net.3"`` (as in :func:`cnn_course.layer_shapes`).
        type: the layer's class name.
        kernel_size, stride, padding, dilation: the layer's settings.
        size: ``r``, the field's height and width in input pixels (before clipping to the image).
        jump: ``j``, input pixels between neighbouring outputs of this layer.
        start: top-left input pixel of output ``(0, 0)``'s field; negative values lie in the padding.
        output_size: the layer's output height and width, ``None`` when no input size was given.
    """

    index: int
    name: str
    type: str
    kernel_size: Pair
    stride: Pair
    padding: Pair
    dilation: Pair
    size: Pair
    jump: Pair
    start: Pair
    output_size: Pair | None


def _show(pair: Pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


class FieldTable(RowTable[FieldRow]):
    """Receptive-field size ``r``, jump ``j`` and start of every windowed layer; prints as a text table."""

    def __init__(self, rows: list[FieldRow], input_size: Pair | None) -> None:
        self.rows = rows
        self.input_size = input_size

    def __str__(self) -> str:
        dilated = any(r.dilation != (1, 1) for r in self.rows)
        header = ["layer", "type", "kernel", "stride", "padding"] + (["dilation"] if dilated else [])
        header += (["output"] if self.input_size else []) + ["r", "j", "start"]
        first = ["input", "", "", "", ""] + ([""] if dilated else [])
        first += ([f"{self.input_size[0]}x{self.input_size[1]}"] if self.input_size else []) + ["1", "1", "0"]
        cells = [header, first]
        for r in self.rows:
            row = [r.name, r.type, _show(r.kernel_size), _show(r.stride), _show(r.padding)]
            row += [_show(r.dilation)] if dilated else []
            row += [f"{r.output_size[0]}x{r.output_size[1]}"] if r.output_size else []
            row += [_show(r.size), _show(r.jump), _show(r.start)]
            cells.append(row)
        return "\n".join(text_table(cells, right={len(header) - 3, len(header) - 2, len(header) - 1}))


def _sequential(model: Any) -> tuple[list[nn.Module], str]:
    """The layers of ``model`` (an ``nn.Sequential`` or a model whose ``.net`` is one) and their name prefix."""
    model = check_model(model)
    if isinstance(model, nn.Sequential):
        return list(model), ""
    net = getattr(model, "net", None)
    if isinstance(net, nn.Sequential):
        return list(net), "net."
    raise ValueError(
        f"model 必须是 nn.Sequential，或者 .net 是 nn.Sequential 的网络（例如本课程的 LeNet 和 AlexNet），"
        f"传入的是 {type(model).__name__}，它没有 nn.Sequential 类型的 .net"
    )


def _window(layer: nn.Module, name: str) -> _Window:
    """The sliding-window settings of a Conv2d/MaxPool2d/AvgPool2d, per axis, checked."""

    def pair(value: Any) -> Pair:
        return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))

    kind = type(layer).__name__
    if isinstance(layer, nn.Conv2d):
        if layer.padding_mode != "zeros":
            raise ValueError(
                f"层 {name}（Conv2d）用 padding_mode={layer.padding_mode!r} 填充；感受野公式假定用 0 填充"
                "（padding_mode='zeros'，默认值）"
            )
        k, d, s = pair(layer.kernel_size), pair(layer.dilation), pair(layer.stride)
        same = layer.padding == "same"
        # PyTorch's "same": total padding d*(k-1) per axis, the smaller half on the top/left; "valid": none.
        p: Pair = ((d[0] * (k[0] - 1) // 2, d[1] * (k[1] - 1) // 2) if same else
                   (0, 0) if isinstance(layer.padding, str) else pair(layer.padding))
        window = _Window(k, s, p, d, False, same)
    else:
        k = pair(layer.kernel_size)
        s = pair(layer.stride if layer.stride is not None else layer.kernel_size)
        d = pair(layer.dilation) if isinstance(layer, nn.MaxPool2d) else (1, 1)
        window = _Window(k, s, pair(layer.padding), d, bool(layer.ceil_mode), False)
    for setting, values, low in (("kernel_size", window.kernel_size, 1), ("stride", window.stride, 1),
                                 ("dilation", window.dilation, 1), ("padding", window.padding, 0)):
        if min(values) < low:
            raise ValueError(
                f"层 {name}（{kind}）的 {setting}={_show(values)}；滑动窗口要求 {setting} 至少为 {low}"
                f"（PyTorch 也运行不了这一层）：请用 {setting}={low} 或更大的值构建它"
            )
    if not isinstance(layer, nn.Conv2d) and (window.padding[0] > k[0] // 2 or window.padding[1] > k[1] // 2):
        raise ValueError(
            f"层 {name}（{kind}）的 padding={layer.padding}，但汇聚时 PyTorch 最多只允许窗口大小的一半"
            f"（{k[0] // 2}），所以这个网络运行不了；请减小 padding"
        )
    return window


def _plan(model: Any) -> tuple[list[tuple[int, str, nn.Module, _Window | None]], str]:
    """The layers up to the first global one: (index, name, layer, window or None for pixel-wise layers)."""
    layers, prefix = _sequential(model)
    plan: list[tuple[int, str, nn.Module, _Window | None]] = []
    for index, layer in enumerate(layers):
        name = f"{prefix}{index}"
        if isinstance(layer, GLOBAL):
            break
        if isinstance(layer, WINDOWED):
            plan.append((index, name, layer, _window(layer, name)))
        elif isinstance(layer, POINTWISE):
            plan.append((index, name, layer, None))
        else:
            raise ValueError(
                f"层 {name}（{type(layer).__name__}）不是 Conv2d、MaxPool2d、AvgPool2d，也不是逐像素的层"
                "（激活函数、丢弃法、批量规范化）；感受野公式只处理由这些层简单堆叠起来的网络，"
                "例如 LeNet 和 AlexNet"
            )
    if not any(window for *_, window in plan):
        end = len(plan)  # the first layer that mixes all positions, if any
        stop = f"在层 {prefix}{end}（{type(layers[end]).__name__}）之前" if end < len(layers) else ""
        raise ValueError(
            f"model {stop}没有 Conv2d、MaxPool2d 或 AvgPool2d 层：没有滑动窗口，每个输出都依赖整张图像，"
            "也就没有感受野可算；请传入卷积网络，例如 LeNet 或 AlexNet"
        )
    return plan, prefix


def _output_length(window: _Window, axis: int, size: int) -> int:
    """One layer's output length along ``axis`` (0 rows, 1 columns), from the package's one size formula."""
    k, s, p, d = window.kernel_size[axis], window.stride[axis], window.padding[axis], window.dilation[axis]
    if window.same:
        return size
    return size_formula(size, k, p, s, d, window.ceil_mode).output


def _sizes(plan: list, input_size: Pair) -> list[Pair]:
    """Output (height, width) of every layer in ``plan`` for an input of ``input_size``."""
    sizes, current = [], input_size
    for _, name, layer, window in plan:
        if window is not None:
            new = (_output_length(window, 0, current[0]), _output_length(window, 1, current[1]))
            if min(new) < 1:
                raise ShapeError(
                    f"层 {name}（{type(layer).__name__}）得到的输入是 {current[0]}x{current[1]}，放不下它 "
                    f"{window.kernel_size[0]}x{window.kernel_size[1]} 的窗口：对这个网络来说 input_size={input_size} "
                    "太小了；请用它设计时的图像尺寸（LeNet 是 28，AlexNet 是 224）"
                )
            current = new
        sizes.append(current)
    return sizes


def receptive_fields(model: nn.Module, input_size: int | Sequence[int] | None = None) -> FieldTable:
    """Compute the receptive-field size ``r``, jump ``j`` and start of each convolution and pooling layer.

    Args:
        model: an ``nn.Sequential`` or a network whose ``.net`` is one (LeNet, AlexNet).
        input_size: optional image height and width (an int or a pair); adds each layer's output size.

    Returns:
        A :class:`FieldTable` with one :class:`FieldRow` per windowed layer, up to the first layer
        that mixes all positions (``Flatten``, ``Linear``...).

    Raises:
        ValueError: ``model`` is not such a network, holds a layer the formula does not know, or
            ``input_size`` is not a whole number (or pair) of at least 1.
        ShapeError: the network cannot take an image of ``input_size``.
    """
    plan, _ = _plan(model)
    size = check_pair(input_size, "input_size", 1) if input_size is not None else None
    sizes = _sizes(plan, size) if size is not None else [None] * len(plan)
    r, j, start = [1, 1], [1, 1], [0, 0]
    rows = []
    for (index, name, layer, window), out in zip(plan, sizes, strict=True):
        if window is None:
            continue
        for a in (0, 1):
            k, s, p, d = window.kernel_size[a], window.stride[a], window.padding[a], window.dilation[a]
            start[a] -= p * j[a]
            r[a] += (k - 1) * d * j[a]
            j[a] *= s
        rows.append(FieldRow(index, name, type(layer).__name__, window.kernel_size, window.stride, window.padding,
                             window.dilation, (r[0], r[1]), (j[0], j[1]), (start[0], start[1]), out))
    return FieldTable(rows, size)


@dataclass(frozen=True)
class Region:
    """The input pixels that one output position of one layer depends on.

    Attributes:
        layer: the layer's index in the network's ``nn.Sequential``.
        name, type: the layer's name (``"net.3"``) and class name.
        row, col: the output position.
        input_size: the image's height and width.
        output_size: the layer's output height and width.
        size, jump: the formula's ``r`` and ``j`` for this layer.
        field_top, field_left: top-left corner of the formula's box for this position,
            ``start + row * j``; negative or beyond the image where the box reaches into the padding.
        rows, cols: the input rows and columns the output really depends on, in order (the box
            clipped to the image; with dilation, or pooling that skips pixels, not every row in between).
            Empty when the output's window covers only padding.
    """

    layer: int
    name: str
    type: str
    row: int
    col: int
    input_size: Pair
    output_size: Pair
    size: Pair
    jump: Pair
    field_top: int
    field_left: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]

    @property
    def field_bottom(self) -> int:
        """Last row of the formula's box (may lie beyond the image)."""
        return self.field_top + self.size[0] - 1

    @property
    def field_right(self) -> int:
        """Last column of the formula's box (may lie beyond the image)."""
        return self.field_left + self.size[1] - 1

    @property
    def top(self) -> int | None:
        """First input row the output depends on; ``None`` when it reads only padding."""
        return self.rows[0] if self.rows else None

    @property
    def bottom(self) -> int | None:
        """Last input row the output depends on; ``None`` when it reads only padding."""
        return self.rows[-1] if self.rows else None

    @property
    def left(self) -> int | None:
        """First input column the output depends on; ``None`` when it reads only padding."""
        return self.cols[0] if self.cols else None

    @property
    def right(self) -> int | None:
        """Last input column the output depends on; ``None`` when it reads only padding."""
        return self.cols[-1] if self.cols else None

    @property
    def empty(self) -> bool:
        """True when the output reads only padding (possible when padding exceeds the kernel's reach)."""
        return not self.rows or not self.cols

    @property
    def clipped(self) -> bool:
        """True when the formula's box reaches beyond the image (into the padding)."""
        h, w = self.input_size
        return self.field_top < 0 or self.field_left < 0 or self.field_bottom >= h or self.field_right >= w

    def mask(self) -> torch.Tensor:
        """A ``(H, W)`` bool tensor, True at every input pixel the output depends on."""
        out = torch.zeros(self.input_size, dtype=torch.bool)
        if not self.empty:
            out[torch.tensor(self.rows)[:, None], torch.tensor(self.cols)[None, :]] = True
        return out

    def text(self) -> str:
        """The numbers as a few lines for students (Chinese labels, numbers and formulas)."""
        h, w = self.input_size
        lines = [
            f"{self.name} ({self.type}) 的输出 {self.output_size[0]}x{self.output_size[1]},"
            f"位置 (row, col) = ({self.row}, {self.col})",
            f"感受野 r = {_show(self.size)},跳步 j = {_show(self.jump)}",
            f"公式给出的方框:行 {self.field_top}..{self.field_bottom},列 {self.field_left}..{self.field_right}"
            f"(top = start + row*j = {self.field_top})",
        ]
        if self.empty:
            lines.append("这个位置的窗口只盖住填充的 0:它不依赖任何输入像素。")
            return "\n".join(lines)
        assert self.top is not None and self.bottom is not None and self.left is not None and self.right is not None
        gaps = len(self.rows) != self.bottom - self.top + 1 or len(self.cols) != self.right - self.left + 1
        pixels = f"{len(self.rows)} x {len(self.cols)} = {len(self.rows) * len(self.cols)} 个像素"
        lines.append(f"依赖的输入像素:行 {self.top}..{self.bottom},列 {self.left}..{self.right},共 {pixels}"
                     + (",中间有跳过的行或列" if gaps else ""))
        if self.clipped:
            lines.append(f"方框有一部分超出了 {h}x{w} 的图像,落在填充的 0 上;这些位置不依赖任何输入像素,已裁掉。")
        return "\n".join(lines)

    __str__ = text


def _locate(model: Any, layer: Any, row: Any, col: Any, input_size: Any) -> tuple[list, Pair, list[Pair], int]:
    """Check the arguments of :func:`input_region`; return the plan, input size, layer sizes and plan index."""
    plan, prefix = _plan(model)
    size = check_pair(input_size, "input_size", 1)
    sizes = _sizes(plan, size)
    layers, _ = _sequential(model)
    windowed = [index for index, _, _, window in plan if window is not None]
    choices = ", ".join(str(i) for i in windowed)
    wanted = f"layer 必须是网络里某一层的编号（它的卷积层和汇聚层是 {choices}）"
    if not (isinstance(layer, (int, np.integer)) and not isinstance(layer, (bool, np.bool_))):
        raise ValueError(f"{wanted}，传入的是 {describe(layer)}")
    layer = int(layer)
    if not 0 <= layer < len(layers):
        raise ValueError(f"{wanted}，传入的是 {layer}；这个网络有 {len(layers)} 层，从 0 开始编号")
    position = next((i for i, (index, *_rest) in enumerate(plan) if index == layer), None)
    if position is None:
        raise ValueError(
            f"层 {prefix}{layer}（{type(layers[layer]).__name__}）把所有位置混在了一起：它的每个输出都依赖整张图像；"
            f"请选它之前的卷积层或汇聚层：{choices}"
        )
    oh, ow = sizes[position]
    for name, value, high in (("row", row, oh - 1), ("col", col, ow - 1)):
        try:
            check_int(value, name, 0, high)
        except ValueError as err:
            raise ValueError(f"{err}（层 {prefix}{layer} 的输出是 {oh}x{ow}）") from None
    return plan, size, sizes, position


def input_region(
    model: nn.Module, layer: int, row: int, col: int, input_size: int | Sequence[int]
) -> Region:
    """Find the input pixels that output ``(row, col)`` of ``model``'s layer ``layer`` depends on.

    The formula's box is followed back layer by layer; at each layer only positions inside that
    layer's output are kept, since padding carries no input.

    Args:
        model: an ``nn.Sequential`` or a network whose ``.net`` is one (LeNet, AlexNet).
        layer: index of the layer in the ``nn.Sequential`` (``3`` for ``net.3``); a pixel-wise
            layer has the field of the layer before it.
        row, col: the output position, from 0 to the layer's output height/width minus 1.
        input_size: the image's height and width (an int or a pair): 28 for LeNet, 224 for AlexNet.

    Returns:
        A :class:`Region`.

    Raises:
        ValueError: a bad model, a layer index that is not a convolution, pooling or pixel-wise
            layer before the first fully connected one, or a position outside the layer's output.
        ShapeError: the network cannot take an image of ``input_size``.
    """
    plan, size, sizes, position = _locate(model, layer, row, col, input_size)
    out_size = sizes[position]
    table = receptive_fields(model)
    field = next((r for r in reversed(table.rows) if r.index <= plan[position][0]), None)
    r, j, start = (field.size, field.jump, field.start) if field else ((1, 1), (1, 1), (0, 0))

    # Walk back from the chosen position, one axis at a time: the field is a product of rows and columns.
    masks = []
    for axis, index in ((0, row), (1, col)):
        keep = np.zeros(out_size[axis], dtype=bool)
        keep[index] = True
        for i in range(position, -1, -1):
            window = plan[i][3]
            if window is None:
                continue
            before = size[axis] if i == 0 else sizes[i - 1][axis]
            k, s, p, d = window.kernel_size[axis], window.stride[axis], window.padding[axis], window.dilation[axis]
            taps = (np.flatnonzero(keep)[:, None] * s - p + np.arange(k)[None, :] * d).ravel()
            keep = np.zeros(before, dtype=bool)
            keep[taps[(taps >= 0) & (taps < before)]] = True
        masks.append(tuple(int(v) for v in np.flatnonzero(keep)))
    index, name, module, _ = plan[position]
    return Region(
        index, name, type(module).__name__, row, col, size, out_size, r, j,
        start[0] + row * j[0], start[1] + col * j[1], masks[0], masks[1],
    )


def _window_sum(x: torch.Tensor, layer: nn.Module, window: _Window) -> torch.Tensor:
    """Sum over each pooling window, with the pooling layer's own geometry, so every pixel passes gradient.

    Max pooling sends the gradient to one pixel per window (the largest), which would hide the
    others; the windows themselves are what the output depends on.
    """
    if window.dilation == (1, 1):
        # Same windows as the max pooling (PyTorch sizes both with one rule), every pixel weighted.
        return F.avg_pool2d(x, window.kernel_size, window.stride, window.padding, window.ceil_mode, True)
    with torch.no_grad():  # the output size PyTorch gives, ceil_mode included
        out_h, out_w = layer(x.detach()).shape[-2:]
    pads = []
    for axis, out in ((1, out_w), (0, out_h)):  # F.pad wants (left, right, top, bottom)
        k, s, p, d = window.kernel_size[axis], window.stride[axis], window.padding[axis], window.dilation[axis]
        need = (out - 1) * s + d * (k - 1) + 1 - (x.shape[2 + axis] + 2 * p)
        pads += [p, p + max(need, 0)]
    kernel = torch.ones(1, 1, *window.kernel_size, dtype=x.dtype)
    y = F.conv2d(F.pad(x, pads), kernel, stride=window.stride, dilation=window.dilation)
    return y[..., :out_h, :out_w]


def measure_input_region(
    model: nn.Module, layer: int, row: int, col: int, input_size: int | Sequence[int]
) -> torch.Tensor:
    """Measure which input pixels output ``(row, col)`` of layer ``layer`` depends on, from the gradient.

    The measurement runs one image through copies of the layers' sliding windows and back-propagates
    from the chosen output: input pixels with a non-zero gradient are the ones it depends on. So that
    no pixel is hidden, it works in float64 with all-positive weights (a kernel of ones for every
    convolution, one channel), leaves out the pixel-wise layers (a ReLU's or a saturated tanh's zero
    slope says nothing about the field), and replaces max pooling by a sum over the same windows (max
    pooling passes the gradient to one pixel per window only). Every path from a pixel to the output
    then carries a positive number, and no sum can cancel.

    Args:
        model, layer, row, col, input_size: as in :func:`input_region`.

    Returns:
        A ``(H, W)`` bool tensor, True where the gradient is non-zero.

    Raises:
        ValueError, ShapeError: as :func:`input_region`.
    """
    plan, size, sizes, position = _locate(model, layer, row, col, input_size)
    x = torch.ones(1, 1, *size, dtype=torch.float64, requires_grad=True)
    y = x
    for _, _, module, window in plan[: position + 1]:
        if window is None:
            continue
        if isinstance(module, nn.Conv2d):
            kernel = torch.ones(1, 1, *window.kernel_size, dtype=torch.float64)
            with warnings.catch_warnings():  # padding="same" with an even kernel: a speed note, not a problem here
                warnings.simplefilter("ignore", UserWarning)
                y = F.conv2d(y, kernel, stride=module.stride, padding=module.padding, dilation=module.dilation)
        elif isinstance(module, nn.AvgPool2d):
            y = F.avg_pool2d(y, module.kernel_size, module.stride, module.padding, module.ceil_mode, True)
        else:
            y = _window_sum(y, module, window)
    y[0, 0, row, col].backward()
    assert x.grad is not None
    return x.grad[0, 0] > 0
