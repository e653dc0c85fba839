"""Plain computations behind the explorers: shape reports, sliding-window steps, and their figures.

Everything a widget in :mod:`cnn_course.widgets` shows comes from a function here, so tests
can call it directly and notebooks can show the same numbers without a live kernel. Figures
are built as :class:`matplotlib.figure.Figure` objects (not through ``pyplot``), so nothing is
drawn twice; their text is English and numbers only (matplotlib's default font has no CJK).
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .shapes import conv_output_size, pool_output_size

__all__ = [
    "MODES",
    "ShapeReport",
    "Step",
    "WindowWalk",
    "draw_shape_grid",
    "draw_step",
    "shape_report",
    "window_steps",
]

MODES = ("conv", "max", "avg")
_MODE_LAYER = {"conv": "nn.Conv2d", "max": "nn.MaxPool2d", "avg": "nn.AvgPool2d"}


def _check_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int, got {value!r}")
    return int(value)


def _check_mode(mode: Any) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(repr(m) for m in MODES)}, got {mode!r}")
    return mode


def _fmt(value: float) -> str:
    """Short text for a number: integers without decimals, others with at most 2."""
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
        layer = _MODE_LAYER[self.mode]
        head = (
            f"{layer}: kernel_size={self.kernel_size}, padding={self.padding}, stride={self.stride}, "
            f"dilation={self.dilation}" + (f", ceil_mode={self.ceil_mode}" if self.mode != "conv" else "")
        )
        lines = [head, f"输入 (C, H, W) = {self.input_shape}"]
        if self.error is not None:
            lines.append(f"✘ 这组设置不可行:{self.error}")
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
        return conv_output_size(int(height), k, p, s, d), conv_output_size(int(width), k, p, s, d)  # type: ignore[return-value]
    return (pool_output_size(int(height), k, s, p, d, ceil_mode),  # type: ignore[return-value]
            pool_output_size(int(width), k, s, p, d, ceil_mode))


def _formula(axis: str, size: int, k: int, p: int, s: int, d: int, ceil_mode: bool, actual: int | None) -> str:
    """``OH = floor((H + 2P - K) / S) + 1 = ...`` with the numbers of one axis filled in."""
    out, name = ("OH", "H") if axis == "height" else ("OW", "W")
    rnd = "ceil" if ceil_mode else "floor"
    if d == 1:
        general = f"{out} = {rnd}(({name} + 2P - K) / S) + 1"
        filled = f"{rnd}(({size} + 2*{p} - {k}) / {s}) + 1"
    else:
        general = f"{out} = {rnd}(({name} + 2P - D*(K-1) - 1) / S) + 1"
        filled = f"{rnd}(({size} + 2*{p} - {d}*({k}-1) - 1) / {s}) + 1"
    num = size + 2 * p - d * (k - 1) - 1
    value = (math.ceil(num / s) if ceil_mode else math.floor(num / s)) + 1
    text = f"{general} = {filled} = {rnd}({num} / {s}) + 1 = {value}"
    if value < 1:
        text += "  (< 1: no window fits)"
    elif actual is not None and actual != value:
        text += f" -> {actual} (PyTorch drops a last window that would start in the right padding)"
    return text


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
    mode = _check_mode(mode)
    if stride is None:
        stride = 1 if mode == "conv" else kernel_size
    values = {
        "height": height, "width": width, "kernel_size": kernel_size, "padding": padding,
        "stride": stride, "dilation": dilation, "in_channels": in_channels, "out_channels": out_channels,
    }
    v = {name: _check_int(val, name) for name, val in values.items()}
    if not isinstance(ceil_mode, bool):
        raise ValueError(f"ceil_mode must be True or False, got {ceil_mode!r}")
    if not isinstance(bias, bool):
        raise ValueError(f"bias must be True or False, got {bias!r}")
    if ceil_mode and mode == "conv":
        raise ValueError("ceil_mode applies to pooling only; use mode='max' or mode='avg', or ceil_mode=False")

    k, p, s, d = v["kernel_size"], v["padding"], v["stride"], v["dilation"]
    c_in = v["in_channels"]
    c_out = v["out_channels"] if mode == "conv" else c_in
    input_shape = (c_in, v["height"], v["width"])
    error: str | None = None
    size: Any = None
    for name in ("in_channels", "out_channels") if mode == "conv" else ("in_channels",):
        if v[name] < 1:
            error = f"{name} must be at least 1, got {v[name]}"
    if error is None and mode == "avg" and d != 1:
        error = f"nn.AvgPool2d has no dilation; set dilation=1 (got {d}) or use mode='max'"
    if error is None:
        try:
            size = _out_size(mode, v["height"], v["width"], k, p, s, d, ceil_mode)
        except ValueError as err:
            error = str(err)

    can_fill = k >= 1 and s >= 1 and d >= 1 and p >= 0 and v["height"] >= 1 and v["width"] >= 1
    if error is not None:
        fh = _formula("height", v["height"], k, p, s, d, ceil_mode, None) if can_fill else ""
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
        _formula("height", v["height"], k, p, s, d, ceil_mode, oh),
        _formula("width", v["width"], k, p, s, d, ceil_mode, ow),
        params, params_formula, None,
    )


def _grid_axes(ax: Any, rows: int, cols: int) -> None:
    ax.set_xticks(np.arange(-0.5, cols, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, rows, 1), minor=True)
    ax.grid(which="minor", color="#888888", linewidth=0.6)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)


_WINDOW_STYLES = (("tab:red", "-", "first window"), ("tab:orange", "--", "next window"),
                  ("tab:blue", "-", "last window"))


def draw_shape_grid(report: ShapeReport) -> Figure:
    """Draw the padded input grid with kernel windows, and the output grid (for one channel).

    Gray cells are padding; hatched yellow cells are input rows/columns that no window reaches
    (the floor in the size formula drops them). The first window, the next one along the row
    and the last one are outlined, with the cells a dilated kernel reads filled in; the
    output cells they produce have the same colours.

    Args:
        report: from :func:`shape_report`.

    Returns:
        A matplotlib ``Figure``.

    Raises:
        ValueError: when ``report`` is not a :class:`ShapeReport`.
    """
    if not isinstance(report, ShapeReport):
        raise ValueError(f"report must be a ShapeReport from shape_report(...), got {type(report).__name__}")
    r = report
    h, w = max(r.height, 1), max(r.width, 1)
    p = max(r.padding, 0)
    hp, wp = h + 2 * p, w + 2 * p
    k_eff = r.effective_kernel if r.kernel_size >= 1 and r.dilation >= 1 else 1

    grid = np.zeros((hp, wp))  # 0 padding, 1 input, 2 input never reached
    grid[p:p + h, p:p + w] = 1
    windows: list[tuple[int, int, int, int]] = []  # (top, left, out_row, out_col)
    oh = ow = 0
    if r.ok:
        _, oh, ow = r.output_shape  # type: ignore[misc]
        reached = np.zeros((hp, wp), dtype=bool)
        last_r = min((oh - 1) * r.stride + k_eff, hp)
        last_c = min((ow - 1) * r.stride + k_eff, wp)
        reached[:last_r, :last_c] = True
        grid[(grid == 1) & ~reached] = 2
        picks = [(0, 0)]
        if ow > 1:
            picks.append((0, 1))
        if oh * ow > len(picks):
            picks.append((oh - 1, ow - 1))
        windows = [(i * r.stride, j * r.stride, i, j) for i, j in picks]

    colours = np.array([[0.85, 0.85, 0.85], [1.0, 1.0, 1.0], [1.0, 0.95, 0.7]])
    width_ratios = [wp, max(ow, 1) if r.ok else max(wp * 0.3, 1)]
    fig = Figure(figsize=(9, 4.2))
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": width_ratios})
    ax = axes[0]
    ax.imshow(colours[grid.astype(int)], interpolation="nearest")
    _grid_axes(ax, hp, wp)
    if p:
        ax.add_patch(Rectangle((p - 0.5, p - 0.5), w, h, fill=False, edgecolor="black", linewidth=1.5))
    for (top, left, _, _), (colour, style, label) in zip(windows, _WINDOW_STYLES):
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), k_eff, k_eff, fill=False, edgecolor=colour,
                               linestyle=style, linewidth=2.5, label=label))
        for a in range(r.kernel_size):
            for b in range(r.kernel_size):
                ax.add_patch(Rectangle((left + b * r.dilation - 0.45, top + a * r.dilation - 0.45), 0.9, 0.9,
                                       color=colour, alpha=0.25, linewidth=0))
    dropped = np.argwhere(grid == 2)
    for a, b in dropped:
        ax.add_patch(Rectangle((b - 0.5, a - 0.5), 1, 1, fill=False, hatch="///", edgecolor="0.55", linewidth=0,
                               label="never read (floor drops it)" if (a, b) == tuple(dropped[0]) else None))
    title = f"padded input {hp}x{wp}  (input {h}x{w}, padding {p})"
    ax.set_title(title, fontsize=10)
    if windows:
        ax.legend(loc="upper left", bbox_to_anchor=(0, -0.02), ncol=2, fontsize=8, frameon=False)

    out_ax = axes[1]
    if r.ok:
        out = np.ones((oh, ow, 3))
        for (_, _, i, j), (colour, _, _) in zip(windows, _WINDOW_STYLES):
            out[i, j] = to_rgb(colour)
        out_ax.imshow(out, interpolation="nearest")
        _grid_axes(out_ax, oh, ow)
        out_ax.set_title(f"output {oh}x{ow}", fontsize=10)
        fig.suptitle(
            f"{_MODE_LAYER[r.mode]}  kernel {r.kernel_size}"
            + (f" (dilation {r.dilation}: spans {k_eff})" if r.dilation > 1 else "")
            + f", stride {r.stride}, padding {r.padding}:  {r.input_shape} -> {r.output_shape}",
            fontsize=11,
        )
    else:
        out_ax.axis("off")
        out_ax.text(0.5, 0.5, "no output:\nsee the message", ha="center", va="center", fontsize=10)
        if r.kernel_size >= 1 and r.dilation >= 1 and k_eff > min(hp, wp):
            ax.add_patch(Rectangle((-0.5, -0.5), k_eff, k_eff, facecolor=(0.84, 0.15, 0.16, 0.12),
                                   edgecolor="tab:red", linestyle="--", linewidth=2.5, clip_on=False))
            ax.text(k_eff / 2 - 0.5, k_eff - 1, f"kernel spans {k_eff}x{k_eff}: does not fit",
                    ha="center", va="center", color="tab:red", fontsize=10)
            ax.set_xlim(-0.5, max(wp, k_eff) - 0.5)
            ax.set_ylim(max(hp, k_eff) - 0.5, -0.5)
        fig.suptitle(f"{_MODE_LAYER[r.mode]}: impossible setting", fontsize=11, color="tab:red")
    return fig


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
        vals = [_fmt(v) for v in self.window.flatten().tolist()]
        if self.mode == "conv":
            assert self.kernel is not None
            ks = [_fmt(v) for v in self.kernel.flatten().tolist()]
            terms = [f"{_paren(a)}×{_paren(b)}" for a, b in zip(vals, ks)]
            text = " + ".join(terms)
            if self.bias:
                text += f" + {_paren(_fmt(self.bias))} (bias)"
            return f"{text} = {_fmt(self.result)}"
        if self.mode == "max":
            return f"max({', '.join(vals)}) = {_fmt(self.result)}"
        return f"({' + '.join(vals)}) / {len(vals)} = {_fmt(self.result)}"


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
        last = len(self.steps) - 1 if upto is None else upto
        if not isinstance(last, int) or not 0 <= last < len(self.steps):
            raise ValueError(f"upto must be an int from 0 to {len(self.steps) - 1}, got {upto!r}")
        out = torch.full(self.out_shape, float("nan"), dtype=torch.float64)
        for step in self.steps[: last + 1]:
            out[step.out_row, step.out_col] = step.result
        return out


def _as_2d(value: Any, name: str) -> torch.Tensor:
    try:
        tensor = torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be a 2-D tensor or nested list of numbers, got {type(value).__name__}") from None
    if tensor.dim() == 4 and tensor.shape[0] == tensor.shape[1] == 1:
        tensor = tensor[0, 0]
    elif tensor.dim() == 3 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.dim() != 2 or tensor.numel() == 0:
        raise ValueError(
            f"{name} must be 2-D (height, width), got shape {tuple(tensor.shape)}; "
            f"for one channel of a batch use {name}[0, 0]"
        )
    return tensor


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
    mode = _check_mode(mode)
    X = _as_2d(X, "X")
    padding = _check_int(padding, "padding")
    dilation = _check_int(dilation, "dilation")
    if mode == "conv":
        if kernel is None:
            raise ValueError("kernel is required for mode='conv': pass a (K, K) tensor, e.g. torch.ones(3, 3)")
        if kernel_size is not None:
            raise ValueError("kernel_size is for pooling; for mode='conv' the kernel's own size is used")
        K = _as_2d(kernel, "kernel")
        if K.shape[0] != K.shape[1]:
            raise ValueError(f"kernel must be square (K, K), got shape {tuple(K.shape)}")
        k = K.shape[0]
        stride = 1 if stride is None else _check_int(stride, "stride")
        try:
            bias = float(bias)
        except (TypeError, ValueError):
            raise ValueError(f"bias must be a number, got {bias!r}") from None
        oh, ow = _out_size(mode, X.shape[0], X.shape[1], k, padding, stride, dilation, False)
        fill = 0.0
    else:
        if kernel is not None:
            raise ValueError(f"kernel is for mode='conv'; pooling has no kernel weights, use kernel_size= for mode={mode!r}")
        if bias:
            raise ValueError(f"bias is for mode='conv'; pooling adds no bias (got bias={bias!r})")
        K = None
        k = 2 if kernel_size is None else _check_int(kernel_size, "kernel_size")
        stride = k if stride is None else _check_int(stride, "stride")
        if mode == "avg" and dilation != 1:
            raise ValueError(f"dilation must be 1 for mode='avg' (nn.AvgPool2d has none), got {dilation}")
        oh, ow = _out_size(mode, X.shape[0], X.shape[1], k, padding, stride, dilation, False)
        fill = float("-inf") if mode == "max" else 0.0
        bias = 0.0

    h, w = X.shape
    padded = torch.full((h + 2 * padding, w + 2 * padding), fill, dtype=torch.float64)
    padded[padding:padding + h, padding:padding + w] = X
    span = dilation * (k - 1) + 1
    steps = []
    for i in range(oh):
        for j in range(ow):
            top, left = i * stride, j * stride
            window = padded[top:top + span:dilation, left:left + span:dilation].clone()
            taps = tuple((top + a * dilation, left + b * dilation) for a in range(k) for b in range(k))
            if mode == "conv":
                products = window * K
                result = float(products.sum()) + bias
            elif mode == "max":
                products, result = None, float(window.max())
            else:
                products, result = None, float(window.mean())
            steps.append(Step(len(steps), i, j, top, left, taps, window, products, result, mode, bias, K))
    return WindowWalk(mode, padded, K, k, padding, stride, dilation, bias, tuple(steps), (oh, ow))


def _draw_numbers(ax: Any, values: torch.Tensor, colours: np.ndarray, fontsize: float) -> None:
    rows, cols = values.shape
    ax.imshow(colours, interpolation="nearest")
    _grid_axes(ax, rows, cols)
    for a in range(rows):
        for b in range(cols):
            text = _fmt(float(values[a, b]))
            if text:
                ax.text(b, a, text, ha="center", va="center", fontsize=fontsize)


def draw_step(walk: WindowWalk, index: int) -> Figure:
    """Draw step ``index`` of ``walk``: the padded input with the window, the kernel, and the output so far.

    Args:
        walk: from :func:`window_steps`.
        index: which step, from 0 to ``len(walk) - 1``.

    Returns:
        A matplotlib ``Figure`` whose bottom line is the step's arithmetic.

    Raises:
        ValueError: for a bad ``walk`` or an ``index`` out of range.
    """
    if not isinstance(walk, WindowWalk):
        raise ValueError(f"walk must be a WindowWalk from window_steps(...), got {type(walk).__name__}")
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(walk):
        raise ValueError(f"index must be an int from 0 to {len(walk) - 1}, got {index!r}")
    step = walk[int(index)]
    hp, wp = walk.padded.shape
    oh, ow = walk.out_shape
    panels = [("input" + (f" (padding {walk.padding})" if walk.padding else ""), wp)]
    if walk.kernel is not None:
        panels.append(("kernel", walk.kernel_size))
    panels.append(("output", ow))
    biggest = max(hp, wp)
    fontsize = 11 if biggest <= 7 else 9 if biggest <= 10 else 7
    fig = Figure(figsize=(3.2 * len(panels) + 1, 4.0))
    axes = fig.subplots(1, len(panels), gridspec_kw={"width_ratios": [max(c, 2) for _, c in panels]})

    # Padded input: gray padding, red cells under the window.
    colours = np.ones((hp, wp, 3))
    p = walk.padding
    mask = np.ones((hp, wp), dtype=bool)
    mask[p:hp - p, p:wp - p] = False
    colours[mask] = 0.85
    for a, b in step.taps:
        colours[a, b] = [1.0, 0.75, 0.75]
    _draw_numbers(axes[0], walk.padded, colours, fontsize)
    span = walk.dilation * (walk.kernel_size - 1) + 1
    axes[0].add_patch(Rectangle((step.left - 0.5, step.top - 0.5), span, span, fill=False,
                                edgecolor="tab:red", linewidth=3))
    axes[0].set_title(panels[0][0], fontsize=10)

    if walk.kernel is not None:
        kc = np.full((walk.kernel_size, walk.kernel_size, 3), [1.0, 0.93, 0.8])
        _draw_numbers(axes[1], walk.kernel, kc, fontsize + 1)
        axes[1].set_title("kernel" + (f" (bias {_fmt(walk.bias)})" if walk.bias else ""), fontsize=10)

    out_vals = walk.output(int(index))
    oc = np.ones((oh, ow, 3))
    oc[step.out_row, step.out_col] = [1.0, 0.75, 0.75]
    _draw_numbers(axes[-1], out_vals, oc, fontsize + 1)
    axes[-1].add_patch(Rectangle((step.out_col - 0.5, step.out_row - 0.5), 1, 1, fill=False,
                                 edgecolor="tab:red", linewidth=3))
    axes[-1].set_title(f"output {oh}x{ow}", fontsize=10)

    name = {"conv": "cross-correlation", "max": "max pooling", "avg": "average pooling"}[walk.mode]
    fig.suptitle(f"{name}, stride {walk.stride}: step {step.index + 1} of {len(walk)}, "
                 f"output[{step.out_row}, {step.out_col}]", fontsize=11)
    expr = textwrap.fill(step.expression(), 100)
    fig.text(0.5, 0.02, expr, ha="center", va="bottom", fontsize=10, family="DejaVu Sans Mono")
    fig.subplots_adjust(bottom=0.1 + 0.05 * expr.count("\n"), top=0.84, wspace=0.25)
    return fig
