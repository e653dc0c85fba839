"""Interactive explorers for convolution and pooling: sliders wired to the plain functions in ``conv_steps``.

Each explorer shows its controls as a widget and its result (text and a picture) as ordinary
notebook outputs that the sliders update in place. A notebook saved after a run therefore still
shows the result for the saved settings where widgets cannot run (GitHub, nbval, exported HTML).
"""

from __future__ import annotations

import io
from typing import Any

import ipywidgets as widgets
from IPython.display import Image, Pretty, display
from matplotlib.figure import Figure

from .conv_steps import MODES, ShapeReport, WindowWalk, draw_shape_grid, draw_step, shape_report, window_steps

__all__ = ["ShapeExplorer", "StepThrough", "shape_explorer", "step_through"]

_STATIC_NOTE = "(交互控件:在运行中的 Jupyter 里拖动滑块;下方是当前设置的结果)"
_MAX_STEP_INPUT = 12


class Controls(widgets.VBox):
    """A ``VBox`` whose plain-text form says what it is, for viewers that cannot show widgets."""

    def __repr__(self) -> str:
        return _STATIC_NOTE


def _png(fig: Figure) -> Image:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return Image(data=buffer.getvalue(), format="png")


def _int_in(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an int from {low} to {high} for the explorer, got {value!r}")
    return value


class _Shown:
    """Two display handles (text, picture) that a widget updates in place."""

    def __init__(self) -> None:
        self.handles: list[Any] = []

    def show(self, controls: widgets.Widget, text: str, fig: Figure) -> None:
        display(controls)
        self.handles = [display(Pretty(text), display_id=True), display(_png(fig), display_id=True)]

    @property
    def active(self) -> bool:
        """True once shown in a notebook (outside one, ``display`` returns no handles)."""
        return any(handle is not None for handle in self.handles)

    def update(self, text: str, fig: Figure) -> None:
        for handle, obj in zip(self.handles, (Pretty(text), _png(fig))):
            if handle is not None:
                handle.update(obj)


class ShapeExplorer:
    """Sliders for a conv/pooling layer's settings, showing its output shape, formula, parameters and grid.

    Use :func:`shape_explorer` in a notebook; build this class directly to drive it from code
    (tests set ``explorer.sliders[name].value`` and read :meth:`report`).
    """

    def __init__(
        self,
        height: int = 6,
        width: int = 6,
        kernel_size: int = 3,
        padding: int = 0,
        stride: int = 1,
        dilation: int = 1,
        in_channels: int = 1,
        out_channels: int = 1,
        mode: str = "conv",
        ceil_mode: bool = False,
        max_size: int = 32,
    ) -> None:
        max_size = _int_in(max_size, "max_size", 4, 64)
        ranges = {
            "height": (height, 1, max_size), "width": (width, 1, max_size), "kernel_size": (kernel_size, 1, 11),
            "padding": (padding, 0, 5), "stride": (stride, 1, 6), "dilation": (dilation, 1, 4),
            "in_channels": (in_channels, 1, 512), "out_channels": (out_channels, 1, 512),
        }
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(repr(m) for m in MODES)}, got {mode!r}")
        if not isinstance(ceil_mode, bool):
            raise ValueError(f"ceil_mode must be True or False, got {ceil_mode!r}")
        style = {"description_width": "90px"}
        self.sliders: dict[str, widgets.IntSlider] = {
            name: widgets.IntSlider(value=_int_in(value, name, low, high), min=low, max=high, description=name,
                                    continuous_update=False, style=style)
            for name, (value, low, high) in ranges.items()
        }
        self.mode = widgets.Dropdown(
            options=[("convolution (nn.Conv2d)", "conv"), ("max pooling (nn.MaxPool2d)", "max"),
                     ("average pooling (nn.AvgPool2d)", "avg")],
            value=mode, description="mode", style=style,
        )
        self.ceil_mode = widgets.Checkbox(value=ceil_mode, description="ceil_mode (pooling)", indent=False)
        left = widgets.VBox([self.sliders[n] for n in ("height", "width", "in_channels", "out_channels")])
        right = widgets.VBox([self.sliders[n] for n in ("kernel_size", "padding", "stride", "dilation")])
        self.controls = Controls([widgets.HBox([self.mode, self.ceil_mode]), widgets.HBox([left, right])])
        self._shown = _Shown()
        self._sync_enabled()
        for control in [*self.sliders.values(), self.mode, self.ceil_mode]:
            control.observe(self._changed, names="value")

    def report(self) -> ShapeReport:
        """The :class:`ShapeReport` for the current slider values."""
        mode = self.mode.value
        values = {name: slider.value for name, slider in self.sliders.items()}
        return shape_report(mode=mode, ceil_mode=self.ceil_mode.value and mode != "conv", **values)

    def figure(self) -> Figure:
        """The grid picture for the current slider values."""
        return draw_shape_grid(self.report())

    def show(self) -> None:
        """Display the controls, then the text and picture they update."""
        report = self.report()
        self._shown.show(self.controls, report.text(), draw_shape_grid(report))

    def _sync_enabled(self) -> None:
        pooling = self.mode.value != "conv"
        self.sliders["out_channels"].disabled = pooling
        self.ceil_mode.disabled = not pooling

    def _changed(self, change: dict) -> None:
        if change.get("owner") is self.mode:
            self._sync_enabled()
        if not self._shown.active:
            return
        report = self.report()
        self._shown.update(report.text(), draw_shape_grid(report))


def shape_explorer(
    height: int = 6,
    width: int = 6,
    kernel_size: int = 3,
    padding: int = 0,
    stride: int = 1,
    dilation: int = 1,
    in_channels: int = 1,
    out_channels: int = 1,
    mode: str = "conv",
    ceil_mode: bool = False,
    max_size: int = 32,
) -> None:
    """Show sliders for a conv/pooling layer and, below them, its output shape, formula, parameters and grid.

    Args:
        height, width, kernel_size, padding, stride, dilation, in_channels, out_channels: starting
            values (the sliders allow sizes up to ``max_size``, kernels to 11, padding to 5, stride
            to 6, dilation to 4, channels to 512).
        mode: ``"conv"``, ``"max"`` or ``"avg"``.
        ceil_mode: pooling only: round the output size up.
        max_size: largest height/width on the sliders (4 to 64).

    Raises:
        ValueError: when a starting value is outside its slider's range or ``mode`` is unknown.
    """
    ShapeExplorer(height, width, kernel_size, padding, stride, dilation, in_channels, out_channels,
                  mode, ceil_mode, max_size).show()


class StepThrough:
    """A slider and a Play button that move a window over a small input, one output cell per step.

    Use :func:`step_through` in a notebook; build this class directly to drive it from code.
    """

    def __init__(
        self,
        X: Any,
        kernel: Any = None,
        mode: str = "conv",
        padding: int = 0,
        stride: int | None = None,
        dilation: int = 1,
        kernel_size: int | None = None,
        bias: float = 0.0,
        step: int = 0,
        interval: int = 900,
    ) -> None:
        self.walk: WindowWalk = window_steps(X, kernel, mode, padding, stride, dilation, kernel_size, bias)
        hp, wp = self.walk.padded.shape
        if max(hp, wp) > _MAX_STEP_INPUT:
            raise ValueError(
                f"X is {hp}x{wp} after padding; the step-through writes a number in every cell and takes "
                f"at most {_MAX_STEP_INPUT}x{_MAX_STEP_INPUT}: crop it, e.g. X[:8, :8]"
            )
        last = len(self.walk) - 1
        step = _int_in(step, "step", 0, last)
        interval = _int_in(interval, "interval", 100, 10_000)
        self.slider = widgets.IntSlider(value=step, min=0, max=last, description="step",
                                        continuous_update=True)
        self.play = widgets.Play(value=step, min=0, max=last, interval=interval, description="play")
        self.link = widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.controls = Controls([widgets.HBox([self.play, self.slider])])
        self._shown = _Shown()
        self.slider.observe(self._changed, names="value")

    def text(self, index: int | None = None) -> str:
        """The arithmetic of step ``index`` (the slider's step by default) as one line of text."""
        index = self.slider.value if index is None else index
        step = self.walk[index]
        return (f"第 {step.index + 1}/{len(self.walk)} 步,output[{step.out_row}, {step.out_col}]: "
                f"{step.expression()}")

    def figure(self, index: int | None = None) -> Figure:
        """The picture of step ``index`` (the slider's step by default)."""
        return draw_step(self.walk, self.slider.value if index is None else index)

    def show(self) -> None:
        """Display the controls, then the text and picture they update."""
        self._shown.show(self.controls, self.text(), self.figure())

    def _changed(self, change: dict) -> None:
        if self._shown.active:
            self._shown.update(self.text(), self.figure())


def step_through(
    X: Any,
    kernel: Any = None,
    mode: str = "conv",
    padding: int = 0,
    stride: int | None = None,
    dilation: int = 1,
    kernel_size: int | None = None,
    bias: float = 0.0,
    step: int = 0,
    interval: int = 900,
) -> None:
    """Show a Play button and slider that step a convolution or pooling window over ``X``.

    Each step highlights the window, writes its arithmetic (products and sum, or the max/mean)
    and fills one more output cell.

    Args:
        X: a small 2-D input (at most 12x12 after padding).
        kernel: the ``(K, K)`` kernel for ``mode="conv"``.
        mode: ``"conv"``, ``"max"`` or ``"avg"``.
        padding, stride, dilation, kernel_size, bias: as in :func:`cnn_course.conv_steps.window_steps`.
        step: the step shown first (and in a saved notebook).
        interval: milliseconds between steps when playing.

    Raises:
        ValueError: naming the argument, for a bad input, kernel or setting.
    """
    StepThrough(X, kernel, mode, padding, stride, dilation, kernel_size, bias, step, interval).show()
