"""Figures for the explorers: the shape grid, the sliding-window steps and the receptive field.

Each function draws a result computed elsewhere (:mod:`cnn_course.conv_steps`,
:mod:`cnn_course.receptive_field`) and computes nothing of its own. Figures are built as
:class:`matplotlib.figure.Figure` objects (not through ``pyplot``), so nothing is drawn twice;
their text is English and numbers only (matplotlib's default font has no CJK).
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ._checks import check_int, describe
from .conv_steps import LAYER_NAMES, ShapeReport, WindowWalk, as_2d, format_number
from .receptive_field import Region

__all__ = ["draw_message", "draw_receptive_field", "draw_shape_grid", "draw_step"]


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
        raise ValueError(f"report 必须是 shape_report(...) 给出的 ShapeReport，传入的是 {describe(report)}")
    r = report
    h, w = max(r.height, 1), max(r.width, 1)
    p = max(r.padding, 0)
    hp, wp = h + 2 * p, w + 2 * p
    k_eff = r.effective_kernel if r.kernel_size >= 1 and r.dilation >= 1 else 1

    grid = np.zeros((hp, wp))  # 0 padding, 1 input, 2 input never reached
    grid[p:p + h, p:p + w] = 1
    windows: list[tuple[int, int, int, int]] = []  # (top, left, out_row, out_col)
    oh = ow = 0
    if r.output_shape is not None:  # the setting is possible (r.ok)
        _, oh, ow = r.output_shape
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
    for (top, left, _, _), (colour, style, label) in zip(windows, _WINDOW_STYLES, strict=False):
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
        ax.add_patch(Rectangle((0, 0), 0, 0, color="tab:red", alpha=0.45, label="pixels it depends on"))
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.subplots_adjust(bottom=0.14)

    out_ax = axes[1]
    if r.ok:
        out = np.ones((oh, ow, 3))
        for (_, _, i, j), (colour, _, _) in zip(windows, _WINDOW_STYLES, strict=False):
            out[i, j] = to_rgb(colour)
        out_ax.imshow(out, interpolation="nearest")
        _grid_axes(out_ax, oh, ow)
        out_ax.set_title(f"output {oh}x{ow}", fontsize=10)
        fig.suptitle(
            f"{LAYER_NAMES[r.mode]}  kernel {r.kernel_size}"
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
        fig.suptitle(f"{LAYER_NAMES[r.mode]}: impossible setting", fontsize=11, color="tab:red")
    return fig


def _draw_numbers(ax: Any, values: torch.Tensor, colours: np.ndarray, fontsize: float) -> None:
    rows, cols = values.shape
    ax.imshow(colours, interpolation="nearest")
    _grid_axes(ax, rows, cols)
    for a in range(rows):
        for b in range(cols):
            text = format_number(float(values[a, b]))
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
        raise ValueError(f"walk 必须是 window_steps(...) 给出的 WindowWalk，传入的是 {describe(walk)}")
    index = check_int(index, "index", 0, len(walk) - 1)
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
        axes[1].set_title("kernel" + (f" (bias {format_number(walk.bias)})" if walk.bias else ""), fontsize=10)

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


def draw_receptive_field(region: Any, image: Any = None) -> Figure:
    """Draw the input pixels one output depends on, over the image, beside the layer's output grid.

    The red pixels are the region; the dashed box is the formula's box (``r`` by ``r`` from
    ``start + row * j``), which may reach into the padding around the image (grey).

    Args:
        region: from :func:`cnn_course.receptive_field.input_region`.
        image: optional grey picture drawn under the region (shape ``(H, W)``); resized for
            display when its size differs from the network's input size.

    Returns:
        A matplotlib ``Figure``.

    Raises:
        ValueError: when ``region`` is not a Region or ``image`` is not one 2-D picture.
    """
    if not isinstance(region, Region):
        raise ValueError(f"region 必须是 input_region(...) 给出的 Region，传入的是 {describe(region)}")
    r = region
    h, w = r.input_size
    picture = None
    if image is not None:  # display only: the region is computed for the network's input size, the picture follows
        picture = F.interpolate(as_2d(image, "image")[None, None], size=(h, w), mode="nearest")[0, 0].numpy()
    top, left = min(r.field_top, 0), min(r.field_left, 0)
    bottom, right = max(r.field_bottom, h - 1), max(r.field_right, w - 1)
    oh, ow = r.output_size

    fig = Figure(figsize=(9, 4.6))
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    ax = axes[0]
    ax.set_facecolor((0.85, 0.85, 0.85))  # the padding around the image
    if picture is not None:
        ax.imshow(picture, cmap="gray", interpolation="nearest", extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    else:
        ax.imshow(np.ones((h, w, 3)), interpolation="nearest", extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    overlay = np.zeros((h, w, 4))
    overlay[r.mask().numpy()] = (*to_rgb("tab:red"), 0.45)
    ax.imshow(overlay, interpolation="nearest", extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    ax.add_patch(Rectangle((-0.5, -0.5), w, h, fill=False, edgecolor="black", linewidth=1.2, label="image"))
    ax.add_patch(Rectangle((r.field_left - 0.5, r.field_top - 0.5), r.size[1], r.size[0], fill=False,
                           edgecolor="tab:red", linestyle="--", linewidth=2, label=f"formula box r = {r.size[0]}"))
    if max(h, w) <= 40:
        _grid_axes(ax, h, w)
    else:
        ax.tick_params(labelsize=8)
    ax.set_xlim(left - 1, right + 1)
    ax.set_ylim(bottom + 1, top - 1)
    ax.add_patch(Rectangle((0, 0), 0, 0, color="tab:red", alpha=0.45, label="pixels it depends on"))
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.subplots_adjust(bottom=0.14)
    where = "reads only padding: no input pixel" if r.empty else f"rows {r.top}-{r.bottom}, cols {r.left}-{r.right}"
    ax.set_title(f"input {h}x{w}: {where}", fontsize=10)

    out_ax = axes[1]
    out = np.ones((oh, ow, 3))
    out[r.row, r.col] = to_rgb("tab:red")
    out_ax.imshow(out, interpolation="nearest")
    if max(oh, ow) <= 40:
        _grid_axes(out_ax, oh, ow)
    out_ax.set_title(f"{r.name} ({r.type}) output {oh}x{ow}", fontsize=10)
    fig.suptitle(f"{r.name} output ({r.row}, {r.col}): receptive field r = {r.size[0]}"
                 + (f"x{r.size[1]}" if r.size[0] != r.size[1] else "") + f", jump j = {r.jump[0]}"
                 + (f"x{r.jump[1]}" if r.jump[0] != r.jump[1] else ""), fontsize=11)
    return fig


def draw_message(message: str) -> Figure:
    """A small figure that says a setting has no picture, for widgets to show beside an error text.

    The message itself is drawn only when it is plain ASCII: the package's messages are Chinese, which
    matplotlib's default font cannot draw, and the widget shows them as text beside the figure anyway.
    """
    fig = Figure(figsize=(6, 1.2))
    ax = fig.subplots()
    ax.axis("off")
    text = f"no picture: {message}" if message.isascii() else "no picture for this setting: see the message"
    ax.text(0.5, 0.5, textwrap.fill(text, 90), ha="center", va="center", fontsize=9, color="tab:red")
    return fig
