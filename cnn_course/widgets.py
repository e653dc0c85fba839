"""Interactive explorers: sliders wired to the plain functions of conv_steps, receptive_field and conv_figures.

The result (text and picture) is an ordinary notebook output that the controls update in place, so a
saved notebook still shows it where widgets cannot run (GitHub, nbval). A setting with no result shows
its message, never a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets
from IPython.display import Pretty, display
from matplotlib.figure import Figure
from torch import nn

from ._checks import check_bool, check_choice, check_int, describe
from .conv_figures import draw_message, draw_receptive_field, draw_shape_grid, draw_step
from .conv_steps import MODES, ShapeReport, WindowWalk, shape_report, window_steps
from .display import LiveOutput, png
from .models import AlexNet, LeNet
from .neuron import NeuronSum, conv_layers, draw_neuron, neuron_sum
from .receptive_field import Region, input_region, receptive_fields

__all__ = [
    "NeuronExplorer",
    "ReceptiveFieldExplorer",
    "ShapeExplorer",
    "StepThrough",
    "error_view",
    "neuron_explorer",
    "receptive_field_explorer",
    "shape_explorer",
    "step_through",
]

_STATIC_NOTE = "(交互控件:在运行中的 Jupyter 里拖动滑块;下方是当前设置的结果)"
_MAX_STEP_INPUT = 12


class Controls(widgets.VBox):
    """A ``VBox`` whose plain-text form (``note``) says what it is, for viewers that cannot show widgets."""

    def __init__(self, children: list[widgets.Widget], note: str = _STATIC_NOTE) -> None:
        super().__init__(children)
        self.note = note

    def __repr__(self) -> str:
        return self.note


def error_view(error: Exception) -> tuple[str, Figure]:
    """What an explorer shows for a setting that has no result: the message, and a figure saying so.

    Args:
        error: the ``ValueError`` a plain function raised for the current setting.

    Returns:
        ``(text, figure)``: the text starts with ✘ and holds the error's message (which names the
        value and what would work).
    """
    message = str(error)
    return f"✘ 这组设置没有结果：{message}", draw_message(message)


def _safe(compute: Callable[[], tuple[str, Figure]]) -> tuple[str, Figure]:
    """``compute()``, or the error's message when the setting has no result, so a slider never raises."""
    try:
        return compute()
    except ValueError as err:
        return error_view(err)


class _Explorer:
    """Controls, then a text and a picture that the controls update in place; a subclass gives ``view``."""

    controls: widgets.Widget

    def __init__(self) -> None:
        self._text, self._picture = LiveOutput(), LiveOutput()

    def view(self) -> tuple[str, Figure]:
        raise NotImplementedError

    def show(self) -> None:
        """Display the controls, then the text and picture they update."""
        text, fig = self.view()
        display(self.controls)
        self._text.show(Pretty(text))
        self._picture.show(png(fig))

    def _update(self, compute: Callable[[], tuple[str, Figure]] | None = None) -> None:
        """Recompute the text and picture (default :meth:`view`); a setting without a result shows its message."""
        if self._text.active or self._picture.active:
            text, fig = _safe(compute or self.view)
            self._text.update(Pretty(text))
            self._picture.update(png(fig))

    def _changed(self, change: dict) -> None:
        self._update()


def _start(value: Any, name: str, low: int, high: int, max_size: int) -> int:
    """A slider's starting value, refused with a hint when it is outside the slider."""
    try:
        return check_int(value, name, low, high)
    except ValueError as err:
        if name in ("height", "width") and isinstance(value, int) and value > high and value <= 64:
            raise ValueError(f"{err}；滑块最大只到 max_size={max_size}：要用更大的输入，请传入 max_size={value}"
                             "（最多 64）") from None
        raise ValueError(f"{err}（探索器里 {name} 滑块的范围）") from None


class ShapeExplorer(_Explorer):
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
        super().__init__()
        max_size = check_int(max_size, "max_size", 4, 64)
        ranges = {
            "height": (height, 1, max_size), "width": (width, 1, max_size), "kernel_size": (kernel_size, 1, 11),
            "padding": (padding, 0, 5), "stride": (stride, 1, 6), "dilation": (dilation, 1, 4),
            "in_channels": (in_channels, 1, 512), "out_channels": (out_channels, 1, 512),
        }
        mode = check_choice(mode, "mode", MODES)
        ceil_mode = check_bool(ceil_mode, "ceil_mode")
        style = {"description_width": "90px"}
        self.sliders: dict[str, widgets.IntSlider] = {
            name: widgets.IntSlider(value=_start(value, name, low, high, max_size), min=low, max=high,
                                    description=name, continuous_update=False, style=style)
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

    def view(self) -> tuple[str, Figure]:
        """The text and picture for the current slider values (an impossible setting gives its message)."""
        report = self.report()
        return report.text(), draw_shape_grid(report)

    def _sync_enabled(self) -> None:
        pooling = self.mode.value != "conv"
        self.sliders["out_channels"].disabled = pooling
        self.ceil_mode.disabled = not pooling

    def _changed(self, change: dict) -> None:
        if change.get("owner") is self.mode:
            self._sync_enabled()
        self._update()


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


class StepThrough(_Explorer):
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
        super().__init__()
        self.walk: WindowWalk = window_steps(X, kernel, mode, padding, stride, dilation, kernel_size, bias)
        hp, wp = self.walk.padded.shape
        if max(hp, wp) > _MAX_STEP_INPUT:
            raise ValueError(
                f"X 填充后是 {hp}x{wp}；逐步演示要在每个格子里写一个数，最多只能处理 "
                f"{_MAX_STEP_INPUT}x{_MAX_STEP_INPUT}：请把它裁小，例如 X[:8, :8]"
            )
        last = len(self.walk) - 1
        step = check_int(step, "step", 0, last)
        interval = check_int(interval, "interval（毫秒）", 100, 10_000)
        self.slider = widgets.IntSlider(value=step, min=0, max=last, description="step",
                                        continuous_update=True)
        self.play = widgets.Play(value=step, min=0, max=last, interval=interval, description="play")
        self.link = widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.controls = Controls([widgets.HBox([self.play, self.slider])])
        self.slider.observe(self._changed, names="value")

    def text(self, index: int | None = None) -> str:
        """The arithmetic of step ``index`` (the slider's step by default) as one line of text."""
        index = self.slider.value if index is None else check_int(index, "index", 0, len(self.walk) - 1)
        step = self.walk[index]
        return (f"第 {step.index + 1}/{len(self.walk)} 步,output[{step.out_row}, {step.out_col}]: "
                f"{step.expression()}")

    def figure(self, index: int | None = None) -> Figure:
        """The picture of step ``index`` (the slider's step by default)."""
        return draw_step(self.walk, self.slider.value if index is None else index)

    def view(self) -> tuple[str, Figure]:
        """The text and picture of the slider's step."""
        return self.text(), self.figure()


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


class ReceptiveFieldExplorer(_Explorer):
    """Choose a network, a layer and an output position; see the input pixels that output depends on.

    Use :func:`receptive_field_explorer` in a notebook; build this class directly to drive it
    from code (tests set ``explorer.layer.value``, ``explorer.row.value`` and read :meth:`region`).
    """

    def __init__(
        self,
        network: str = "LeNet",
        layer: int | None = None,
        row: int | None = None,
        col: int | None = None,
        image: Any = None,
        networks: Mapping[str, tuple[Callable[[], nn.Module] | nn.Module, int]] | None = None,
    ) -> None:
        super().__init__()
        self._networks = dict({"LeNet": (LeNet, 28), "AlexNet": (AlexNet, 224)} if networks is None else networks)
        if not self._networks:
            raise ValueError("networks 里至少要有一个网络，例如 {'LeNet': (LeNet(), 28)}")
        network = check_choice(network, "network", list(self._networks))
        self._built: dict[str, nn.Module] = {}
        self._hold = False  # True while one change sets several controls: redraw once, at the end
        self.image = image
        style = {"description_width": "70px"}
        self.network = widgets.Dropdown(options=list(self._networks), value=network, description="network",
                                        style=style)
        self.layer = widgets.Dropdown(description="layer", style=style, layout=widgets.Layout(width="380px"))
        self.row = widgets.IntSlider(min=0, max=0, description="row", continuous_update=False, style=style)
        self.col = widgets.IntSlider(min=0, max=0, description="col", continuous_update=False, style=style)
        self._set_layers(layer)
        self._set_position(row, col)
        if image is not None:
            draw_receptive_field(self.region(), image)  # refuse a bad image now, not at every slider move
        self.controls = Controls([widgets.HBox([self.network, self.layer]), widgets.HBox([self.row, self.col])])
        self.network.observe(self._network_changed, names="value")
        self.layer.observe(self._layer_changed, names="value")
        for control in (self.row, self.col):
            control.observe(self._changed, names="value")

    def _model(self) -> tuple[nn.Module, int]:
        name = self.network.value
        build, size = self._networks[name]
        if name not in self._built:
            self._built[name] = build if isinstance(build, nn.Module) else build()
        return self._built[name], size

    def _set_layers(self, layer: int | None) -> None:
        """Fill the layer list with the network's convolution and pooling layers; select ``layer``."""
        model, size = self._model()
        table = receptive_fields(model, size)  # refuses a network without convolution or pooling layers
        sizes = {r.index: r.output_size or (0, 0) for r in table}  # every row has one: a size was given
        indices = list(sizes)
        if layer is None:
            layer = indices[len(indices) // 2]
        elif isinstance(layer, bool) or not isinstance(layer, int) or layer not in indices:
            what = ""
            layers = list(getattr(model, "net", model).children())
            if isinstance(layer, int) and not isinstance(layer, bool) and 0 <= layer < len(layers):
                what = f"（{type(layers[layer]).__name__}，它自己没有滑动窗口）"
            raise ValueError(
                f"layer 必须是 {self.network.value} 某个卷积层或汇聚层的编号，即 "
                f"{', '.join(str(i) for i in indices)} 之一，传入的是 {describe(layer)}{what}"
            )
        self._sizes = sizes
        self.layer.options = [(f"{r.name} {r.type}, output {sizes[r.index][0]}x{sizes[r.index][1]}", r.index)
                              for r in table]
        self.layer.value = layer

    def _set_position(self, row: int | None, col: int | None) -> None:
        """Set the sliders' ranges to the layer's output; start at ``(row, col)`` or the centre."""
        oh, ow = self._sizes[self.layer.value]
        try:
            row = oh // 2 if row is None else check_int(row, "row", 0, oh - 1)
            col = ow // 2 if col is None else check_int(col, "col", 0, ow - 1)
        except ValueError as err:
            raise ValueError(f"{err}（层 {self.layer.value} 的输出是 {oh}x{ow}）") from None
        for slider, top, value in ((self.row, oh - 1, row), (self.col, ow - 1, col)):
            # Widen before narrowing, so the slider never clips the new value on the way.
            slider.max = max(slider.max, top)
            slider.value = value
            slider.max = top

    def region(self) -> Region:
        """The :class:`Region` for the current choices."""
        model, size = self._model()
        return input_region(model, self.layer.value, self.row.value, self.col.value, size)

    def view(self) -> tuple[str, Figure]:
        """The text and picture for the current choices."""
        region = self.region()
        return f"{self.network.value}: {region.text()}", draw_receptive_field(region, self.image)

    def _network_changed(self, change: dict) -> None:
        self._hold = True
        try:
            self._set_layers(None)
            self._set_position(None, None)
        except ValueError as err:  # a network the explorer cannot show: say why, keep the controls alive
            self._update(functools.partial(error_view, err))
            return
        finally:
            self._hold = False
        self._update()

    def _layer_changed(self, change: dict) -> None:
        if self._hold or change.get("new") is None:
            return
        self._hold = True
        try:
            self._set_position(None, None)
        finally:
            self._hold = False
        self._update()

    def _changed(self, change: dict) -> None:
        if not self._hold:
            self._update()


def receptive_field_explorer(
    network: str = "LeNet",
    layer: int | None = None,
    row: int | None = None,
    col: int | None = None,
    image: Any = None,
) -> None:
    """Show a network, layer and position chooser and, below it, the input region that output depends on.

    Args:
        network: ``"LeNet"`` (28x28 input) or ``"AlexNet"`` (224x224), from :mod:`cnn_course.models`.
        layer: index of a convolution or pooling layer in the network's ``net`` (``3`` for ``net.3``);
            ``None`` starts at a middle one.
        row, col: the output position to start at; ``None`` means the centre.
        image: optional grey picture ``(H, W)`` drawn under the region (resized for display).

    Raises:
        ValueError: an unknown network, a layer that is not a convolution or pooling layer of it,
            a position outside that layer's output, or an image that is not one 2-D picture.
    """
    ReceptiveFieldExplorer(network, layer, row, col, image).show()


class NeuronExplorer(_Explorer):
    """Choose a convolution, an output channel and a position; see the patch, kernel, products and sum + bias.

    The channel and position are typed in, so a value outside the layer's output is possible: the
    explorer answers it with the message of :func:`cnn_course.neuron.neuron_sum`. Use
    :func:`neuron_explorer` in a notebook; tests set ``explorer.layer.value`` etc. and read :meth:`arithmetic`.
    """

    def __init__(
        self,
        model: nn.Module,
        image: Any,
        layer: str | None = None,
        channel: int = 0,
        row: int | None = None,
        col: int | None = None,
    ) -> None:
        super().__init__()
        self.model, self.image = model, image
        names = conv_layers(model)
        first = neuron_sum(model, layer if layer is not None else (names[0] if names else ""), 0, 0, 0, image)
        out_h, out_w = first.output_shape[1:]
        start = neuron_sum(model, first.layer, channel, out_h // 2 if row is None else row,
                           out_w // 2 if col is None else col, image)  # refuses bad start values now
        style = {"description_width": "60px"}
        self.layer = widgets.Dropdown(options=names, value=start.layer, description="layer", style=style)
        self.channel, self.row, self.col = (
            widgets.IntText(value=value, description=name, style=style, layout=widgets.Layout(width="150px"))
            for name, value in (("channel", start.channel), ("row", start.row), ("col", start.col))
        )
        self._hold = False  # True while a new layer resets the other controls: redraw once, at the end
        self.controls = Controls([widgets.HBox([self.layer, self.channel, self.row, self.col])],
                                 note="(交互控件:在运行中的 Jupyter 里选层、输入通道和位置;下方是当前设置的结果)")
        self.layer.observe(self._layer_changed, names="value")
        for control in (self.channel, self.row, self.col):
            control.observe(self._changed, names="value")

    def _layer_changed(self, change: dict) -> None:
        """A new layer: keep the channel if it exists there, and start at the centre of its feature map."""
        channels, out_h, out_w = neuron_sum(self.model, self.layer.value, 0, 0, 0, self.image).output_shape
        self._hold = True
        try:
            self.channel.value = min(max(self.channel.value, 0), channels - 1)
            self.row.value, self.col.value = out_h // 2, out_w // 2
        finally:
            self._hold = False
        self._update()

    def _changed(self, change: dict) -> None:
        if not self._hold:
            self._update()

    def arithmetic(self) -> NeuronSum:
        """The :class:`~cnn_course.neuron.NeuronSum` for the current choices."""
        return neuron_sum(self.model, self.layer.value, self.channel.value, self.row.value, self.col.value,
                          self.image)

    def view(self) -> tuple[str, Figure]:
        """The text and picture for the current choices (a choice outside the layer's output gives its message)."""
        found = self.arithmetic()
        return found.text(), draw_neuron(found, self.image)


def neuron_explorer(
    model: nn.Module,
    image: Any,
    layer: str | None = None,
    channel: int = 0,
    row: int | None = None,
    col: int | None = None,
) -> None:
    """Show a layer, channel and position chooser and, below it, how that output value is computed.

    Args:
        model: a trained network with ``nn.Conv2d`` layers.
        image: one normalised image as the network sees it, ``(1, H, W)`` (e.g. ``X[0]`` of a test batch).
        layer: the convolution to start at (``"net.3"``); None: the first.
        channel: the output channel to start at.
        row, col: the position to start at; None: the centre of the feature map.

    Raises:
        ValueError: a layer that is not a convolution of ``model``, a channel or position outside its
            output, or an image the network cannot take.
    """
    NeuronExplorer(model, image, layer, channel, row, col).show()
