"""Plain computations behind the explorers: shape reports and sliding-window steps.

Everything a widget in :mod:`cnn_course.widgets` shows comes from a function here, so tests
can call it directly and notebooks can show the same numbers without a live kernel. The
pictures of these results are drawn in :mod:`cnn_course.conv_figures`; the output-size
formula itself lives in :mod:`cnn_course.shapes`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from numbers import Real
from typing import Any

import torch

from ._checks import check_bool, check_choice, check_int, describe
from .shapes import conv_output_size, pool_output_size, size_formula

__all__ = [
    "LAYER_NAMES",
    "MODES",
    "ShapeReport",
    "Step",
    "WindowWalk",
    "format_number",
    "shape_report",
    "window_steps",
]

MODES = ("conv", "max", "avg")
#: The ``torch.nn`` layer each mode stands for.
LAYER_NAMES = {"conv": "nn.Conv2d", "max": "nn.MaxPool2d", "avg": "nn.AvgPool2d"}


def format_number(value: float) -> str:
    """Short text for a number: integers without decimals, others with at most 2; NaN as ''."""
    if math.isinf(value):
        return "-inf" if value < 0 else "inf"
    if math.isnan(value):
        return ""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


# --------------------------------------------------------------------------------------------
# Shape report
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShapeReport:
    """What one conv/pooling setting does to a ``(C, H, W)`` input.

    Attributes:
        mode: ``"conv"``, ``"max"`` or ``"avg"``.
        input_shape: ``(C, H, W)``.
        output_shape: ``(C_out, OH, OW)``, or ``None`` when the setting is impossible.
        formula_height, formula_width: the output-size formula with the numbers filled in.
        params: number of learnable parameters (0 for pooling), ``None`` when impossible.
        params_formula: how ``params`` is counted.
        error: why the setting is impossible (which value to change), else ``None``.
    """

    mode: str
    height: int
    width: int
    kernel_size: int
    padding: int
    stride: int
    dilation: int
    in_channels: int
    out_channels: int
    ceil_mode: bool
    bias: bool
    input_shape: tuple[int, int, int]
    output_shape: tuple[int, int, int] | None
    formula_height: str
    formula_width: str
    params: int | None
    params_formula: str
    error: str | None

    @property
    def ok(self) -> bool:
        """True when the setting is possible."""
        return self.error is None

    @property
    def effective_kernel(self) -> int:
        """Span of the (dilated) kernel: ``dilation * (kernel_size - 1) + 1``."""
        return self.dilation * (self.kernel_size - 1) + 1

    def text(self) -> str:
        """The report as a few lines of plain text (Chinese labels, numbers and formulas)."""
        layer = LAYER_NAMES[self.mode]
        head = (
            f"{layer}: kernel_size={self.kernel_size}, padding={self.padding}, stride={self.stride}, "
            f"dilation={self.dilation}" + (f", ceil_mode={self.ceil_mode}" if self.mode != "conv" else "")
        )
        lines = [head, f"输入 (C, H, W) = {self.input_shape}"]
        if self.error is not None:
            lines.append(f"✘ 这组设置不可行：{self.error}")
            if self.formula_height:
                lines.append(self.formula_height)
            return "\n".join(lines)
        lines += [
            f"输出 (C, H, W) = {self.output_shape}",
            self.formula_height,
            self.formula_width,
            f"参数量 (parameters) = {self.params_formula}",
        ]
        if self.mode != "conv":
            lines.append("汇聚逐通道进行:输出通道数 = 输入通道数,没有可学习的参数。")
        return "\n".join(lines)

    __str__ = text


def _out_size(mode: str, height: int, width: int, k: int, p: int, s: int, d: int, ceil_mode: bool) -> tuple[int, int]:
    """(OH, OW) from the shapes module, one axis at a time so messages quote plain numbers."""
    if mode == "conv":
        return conv_output_size(height, k, p, s, d), conv_output_size(width, k, p, s, d)
    return pool_output_size(height, k, s, p, d, ceil_mode), pool_output_size(width, k, s, p, d, ceil_mode)


def shape_report(
    height: int,
    width: int,
    kernel_size: int,
    padding: int = 0,
    stride: int | None = None,
    dilation: int = 1,
    in_channels: int = 1,
    out_channels: int = 1,
    mode: str = "conv",
    ceil_mode: bool = False,
    bias: bool = True,
) -> ShapeReport:
    """Compute the output shape, the filled-in size formula and the parameter count of one layer.

    A setting that no layer accepts (kernel larger than the padded input, stride 0, negative
    padding, pooling padding above half the kernel...) does not raise: the report's ``error``
    says which value to change, so a widget can show it.

    Args:
        height, width: input height and width.
        kernel_size, padding, stride, dilation: square settings as in ``nn.Conv2d``/``nn.MaxPool2d``;
            ``stride=None`` means 1 for convolution and ``kernel_size`` for pooling (PyTorch's defaults).
        in_channels, out_channels: channels in and out; pooling keeps ``in_channels`` and ignores
            ``out_channels``.
        mode: ``"conv"``, ``"max"`` (max pooling) or ``"avg"`` (average pooling).
        ceil_mode: pooling only: round up instead of down.
        bias: convolution only: whether each output channel has a bias.

    Returns:
        A :class:`ShapeReport`.

    Raises:
        ValueError: when an argument has the wrong type, ``mode`` is unknown, or ``ceil_mode``
            is set for a convolution.
    """
    mode = check_choice(mode, "mode", MODES)
    if stride is None:
        stride = 1 if mode == "conv" else kernel_size
    values = {
        "height": height, "width": width, "kernel_size": kernel_size, "padding": padding,
        "stride": stride, "dilation": dilation, "in_channels": in_channels, "out_channels": out_channels,
    }
    # Types are checked here; impossible values (stride 0...) become the report's error below.
    v = {name: check_int(val, name) for name, val in values.items()}
    ceil_mode = check_bool(ceil_mode, "ceil_mode")
    bias = check_bool(bias, "bias")
    if ceil_mode and mode == "conv":
        raise ValueError("ceil_mode 只用于汇聚；请用 mode='max' 或 mode='avg'，或者 ceil_mode=False")

    k, p, s, d = v["kernel_size"], v["padding"], v["stride"], v["dilation"]
    c_in = v["in_channels"]
    c_out = v["out_channels"] if mode == "conv" else c_in
    input_shape = (c_in, v["height"], v["width"])
    error: str | None = None
    size: Any = None
    for name in ("in_channels", "out_channels") if mode == "conv" else ("in_channels",):
        if v[name] < 1:
            error = f"{name} 必须是至少为 1 的整数，传入的是 {v[name]}"
    if error is None and mode == "avg" and d != 1:
        error = f"nn.AvgPool2d 没有 dilation；请设 dilation=1（传入的是 {d}），或者用 mode='max'"
    if error is None:
        try:
            size = _out_size(mode, v["height"], v["width"], k, p, s, d, ceil_mode)
        except ValueError as err:
            error = str(err)

    can_fill = k >= 1 and s >= 1 and d >= 1 and p >= 0 and v["height"] >= 1 and v["width"] >= 1
    if error is not None:
        fh = size_formula(v["height"], k, p, s, d, ceil_mode).text("height") if can_fill else ""
        return ShapeReport(mode, v["height"], v["width"], k, p, s, d, c_in, c_out, ceil_mode, bias,
                           input_shape, None, fh, "", None, "", error)

    oh, ow = size
    if mode == "conv":
        per_filter = c_in * k * k
        params = c_out * per_filter + (c_out if bias else 0)
        params_formula = f"{c_out} * ({c_in}*{k}*{k})" + (f" + {c_out}" if bias else "") + f" = {params:,}"
    else:
        params, params_formula = 0, "0"
    return ShapeReport(
        mode, v["height"], v["width"], k, p, s, d, c_in, c_out, ceil_mode, bias, input_shape,
        (c_out, oh, ow),
        size_formula(v["height"], k, p, s, d, ceil_mode).text("height"),
        size_formula(v["width"], k, p, s, d, ceil_mode).text("width"),
        params, params_formula, None,
    )


# --------------------------------------------------------------------------------------------
# Sliding-window steps
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One position of the sliding window.

    Attributes:
        index: step number, row by row from 0.
        out_row, out_col: the output cell this step fills.
        top, left: the window's top-left cell in padded-input coordinates.
        taps: the padded-input cells the window reads, row by row.
        window: the values under the window, shape ``(K, K)``.
        products: ``window * kernel`` for convolution, ``None`` for pooling.
        result: the output value (sum of products plus bias, max, or mean).
    """

    index: int
    out_row: int
    out_col: int
    top: int
    left: int
    taps: tuple[tuple[int, int], ...]
    window: torch.Tensor
    products: torch.Tensor | None
    result: float
    mode: str
    bias: float = 0.0
    kernel: torch.Tensor | None = None

    def expression(self) -> str:
        """The computation as text, e.g. ``1×2 + 2×0 + ... = 15`` or ``max(1, 2, 0, 1) = 2``."""
        vals = [format_number(v) for v in self.window.flatten().tolist()]
        if self.mode == "conv":
            assert self.kernel is not None
            ks = [format_number(v) for v in self.kernel.flatten().tolist()]
            terms = [f"{_paren(a)}×{_paren(b)}" for a, b in zip(vals, ks, strict=True)]
            text = " + ".join(terms)
            if self.bias:
                text += f" + {_paren(format_number(self.bias))} (bias)"
            return f"{text} = {format_number(self.result)}"
        if self.mode == "max":
            return f"max({', '.join(vals)}) = {format_number(self.result)}"
        return f"({' + '.join(vals)}) / {len(vals)} = {format_number(self.result)}"


def _paren(text: str) -> str:
    return f"({text})" if text.startswith("-") else text


@dataclass(frozen=True)
class WindowWalk:
    """Every step of a window sliding over one 2-D input; iterate over it or index it like a list.

    Attributes:
        mode: ``"conv"``, ``"max"`` or ``"avg"``.
        padded: the input after padding (zeros; ``-inf`` for max pooling), float64.
        kernel: the kernel for convolution, else ``None``.
        kernel_size, padding, stride, dilation, bias: the settings.
        steps: the :class:`Step` objects in order.
        out_shape: ``(OH, OW)``.
    """

    mode: str
    padded: torch.Tensor
    kernel: torch.Tensor | None
    kernel_size: int
    padding: int
    stride: int
    dilation: int
    bias: float
    steps: tuple[Step, ...]
    out_shape: tuple[int, int]

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, index: int) -> Step:
        return self.steps[index]

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def output(self, upto: int | None = None) -> torch.Tensor:
        """The output tensor ``(OH, OW)`` after steps ``0..upto`` (all by default); later cells are NaN."""
        last = len(self.steps) - 1 if upto is None else check_int(upto, "upto", 0, len(self.steps) - 1)
        out = torch.full(self.out_shape, float("nan"), dtype=torch.float64)
        for step in self.steps[: last + 1]:
            out[step.out_row, step.out_col] = step.result
        return out


def as_2d(value: Any, name: str) -> torch.Tensor:
    """``value`` (a tensor, array or nested list; leading dimensions of 1 dropped) as a 2-D float64 tensor."""
    try:
        tensor = torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(
            f"{name} 必须是二维张量或由数字组成的嵌套列表，例如 [[1, 2], [3, 4]]，传入的是 {describe(value)}"
        ) from None
    while tensor.dim() > 2 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.dim() != 2 or tensor.numel() == 0:
        raise ValueError(
            f"{name} 必须是二维的 (height, width)，传入的形状是 {tuple(tensor.shape)}；"
            f"要取一个小批量里第一张图像的第一个通道，请用 {name}[0, 0]"
        )
    return tensor


def _check_bias(bias: Any) -> float:
    """A finite real number (a one-element tensor is fine); text, True/False and NaN are refused."""
    if isinstance(bias, torch.Tensor) and bias.numel() == 1 and not bias.is_complex() and bias.dtype != torch.bool:
        bias = bias.item()
    if isinstance(bias, (bool, str)) or not isinstance(bias, Real) or not math.isfinite(bias):
        raise ValueError(f"bias 必须是有限的数，例如 0.5，传入的是 {describe(bias)}")
    return float(bias)


def window_steps(
    X: Any,
    kernel: Any = None,
    mode: str = "conv",
    padding: int = 0,
    stride: int | None = None,
    dilation: int = 1,
    kernel_size: int | None = None,
    bias: float = 0.0,
) -> WindowWalk:
    """List every window position of a convolution or pooling over a 2-D input, with its arithmetic.

    The results equal ``F.conv2d`` (cross-correlation, no kernel flip), ``F.max_pool2d`` and
    ``F.avg_pool2d`` (zeros in the padding are counted, PyTorch's default).

    Args:
        X: the input, shape ``(H, W)`` (``(1, H, W)`` and ``(1, 1, H, W)`` are accepted).
        kernel: convolution only: the kernel, shape ``(K, K)``.
        mode: ``"conv"``, ``"max"`` or ``"avg"``.
        padding: cells added on every side (zeros; ``-inf`` for max pooling).
        stride: step between windows; ``None`` means 1 for convolution, ``kernel_size`` for pooling.
        dilation: gap between the cells a window reads (conv and max pooling).
        kernel_size: pooling only: window size (default 2).
        bias: convolution only: added to every output value.

    Returns:
        A :class:`WindowWalk` (a sequence of :class:`Step`).

    Raises:
        ValueError: naming the argument, for a missing or non-square kernel, a bad mode, or a
            setting the output-size formula rejects (kernel larger than the padded input...).
    """
    mode = check_choice(mode, "mode", MODES)
    X = as_2d(X, "X")
    padding = check_int(padding, "padding")
    dilation = check_int(dilation, "dilation")
    if mode == "conv":
        if kernel is None:
            raise ValueError("mode='conv' 需要 kernel：请传入一个 (K, K) 张量，例如 torch.ones(3, 3)")
        if kernel_size is not None:
            raise ValueError("kernel_size 是给汇聚用的；mode='conv' 时用 kernel 自己的大小")
        K = as_2d(kernel, "kernel")
        if K.shape[0] != K.shape[1]:
            raise ValueError(f"kernel 必须是方的 (K, K)，传入的形状是 {tuple(K.shape)}")
        k = K.shape[0]
        stride = 1 if stride is None else check_int(stride, "stride")
        bias = _check_bias(bias)
        oh, ow = _out_size(mode, X.shape[0], X.shape[1], k, padding, stride, dilation, False)
        fill = 0.0
    else:
        if kernel is not None:
            raise ValueError(
                f"kernel 是给 mode='conv' 用的；汇聚没有卷积核权重，mode={mode!r} 时请用 kernel_size="
            )
        if bias:
            raise ValueError(f"bias 是给 mode='conv' 用的；汇聚不加偏置（传入的是 bias={bias!r}）")
        K = None
        k = 2 if kernel_size is None else check_int(kernel_size, "kernel_size")
        stride = k if stride is None else check_int(stride, "stride")
        if mode == "avg" and dilation != 1:
            raise ValueError(f"mode='avg' 时 dilation 必须是 1（nn.AvgPool2d 没有 dilation），传入的是 {dilation}")
        oh, ow = _out_size(mode, X.shape[0], X.shape[1], k, padding, stride, dilation, False)
        fill = float("-inf") if mode == "max" else 0.0
        bias = 0.0

    h, w = X.shape
    padded = torch.full((h + 2 * padding, w + 2 * padding), fill, dtype=torch.float64)
    padded[padding:padding + h, padding:padding + w] = X
    span = dilation * (k - 1) + 1
    steps: list[Step] = []
    for i in range(oh):
        for j in range(ow):
            top, left = i * stride, j * stride
            window = padded[top:top + span:dilation, left:left + span:dilation].clone()
            taps = tuple((top + a * dilation, left + b * dilation) for a in range(k) for b in range(k))
            if K is not None:  # mode "conv"
                products = window * K
                result = float(products.sum()) + bias
            elif mode == "max":
                products, result = None, float(window.max())
            else:
                products, result = None, float(window.mean())
            steps.append(Step(len(steps), i, j, top, left, taps, window, products, result, mode, bias, K))
    return WindowWalk(mode, padded, K, k, padding, stride, dilation, bias, tuple(steps), (oh, ow))
