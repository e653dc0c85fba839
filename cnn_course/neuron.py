"""One neuron of a trained network, written out: its input patch, its kernel, their products, and the sum plus bias.

:func:`neuron_sum` is a pure function of the network, the image and the choice of neuron (tests call it
directly); :func:`draw_neuron` pictures what it returns; ``cnn_course.widgets.neuron_explorer`` wires
both to controls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from ._checks import check_int, check_model, describe
from .receptive_field import input_region

__all__ = ["NeuronSum", "conv_layers", "draw_neuron", "neuron_sum"]

#: Input channels a figure draws (the text always sums them all).
MAX_DRAWN_CHANNELS = 4


@dataclass(frozen=True)
class NeuronSum:
    """The arithmetic of one output value of a convolution: ``sum(patch * kernel) + bias``.

    Attributes:
        layer: the convolution's name in the network (``"net.3"``).
        channel, row, col: the output value chosen (its channel and position in the feature map).
        in_channels: the input channels the kernel reads (all of them, or its group's).
        top, left: where the window starts in the layer's input (negative: in the padding).
        patch: the layer's input under the window, ``(len(in_channels), kh, kw)``; zeros in the padding.
        kernel: the weights of output channel ``channel``, same shape.
        bias: the channel's bias (0.0 for a convolution without one).
        pytorch: the value PyTorch computed at ``[channel, row, col]`` of the layer's output.
        input_shape: ``(C, H, W)`` of the layer's input; output_shape of its output.
        image_rows, image_cols: the image pixels the value depends on (empty when unknown).
    """

    layer: str
    channel: int
    row: int
    col: int
    in_channels: tuple[int, ...]
    top: int
    left: int
    patch: torch.Tensor
    kernel: torch.Tensor
    bias: float
    pytorch: float
    input_shape: tuple[int, int, int]
    output_shape: tuple[int, int, int]
    image_rows: tuple[int, ...] = ()
    image_cols: tuple[int, ...] = ()

    @property
    def product(self) -> torch.Tensor:
        """The elementwise product ``patch * kernel``."""
        return self.patch * self.kernel

    @property
    def total(self) -> float:
        """``product.sum() + bias``, summed in float64."""
        return float(self.product.double().sum()) + self.bias

    def text(self) -> str:
        """The arithmetic as a few lines of text, ending with the sum beside PyTorch's value."""
        c, kh, kw = self.patch.shape
        first, last = self.in_channels[0], self.in_channels[-1]
        channels = f"channel {first}" if c == 1 else f"channels {first}-{last}"
        per_channel = ", ".join(f"{float(v):+.3f}" for v in self.product.double().sum(dim=(1, 2))[:8])
        more = ", ..." if c > 8 else ""
        return (
            f"{self.layer}: output channel {self.channel}, position ({self.row}, {self.col}) of "
            f"{self.output_shape[0]} x {self.output_shape[1]} x {self.output_shape[2]}\n"
            f"input patch: {channels}, rows {self.top}..{self.top + kh - 1}, cols {self.left}..{self.left + kw - 1} "
            f"of the layer's input {self.input_shape[0]} x {self.input_shape[1]} x {self.input_shape[2]}\n"
            f"products summed per input channel: {per_channel}{more}\n"
            f"sum of {self.patch.numel()} products {self.total - self.bias:+.5f} + bias {self.bias:+.5f} "
            f"= {self.total:+.5f}\n"
            f"PyTorch's value                                   = {self.pytorch:+.5f}  "
            f"(difference {abs(self.total - self.pytorch):.1e})"
        )


def conv_layers(model: nn.Module) -> list[str]:
    """Return the names of ``model``'s ``nn.Conv2d`` layers, in the order they were defined."""
    return [name for name, module in model.named_modules() if isinstance(module, nn.Conv2d)]


def _image(image: object) -> torch.Tensor:
    if not isinstance(image, torch.Tensor) or not image.is_floating_point() or image.ndim not in (2, 3, 4) \
            or (image.ndim >= 3 and image.shape[-3] != 1) or (image.ndim == 4 and image.shape[0] != 1):
        shown = f"一个形状为 {tuple(image.shape)}、dtype 为 {image.dtype} 的张量" if isinstance(image, torch.Tensor) \
            else f" {describe(image)}"
        raise ValueError(f"image 必须是一张网络看到的那种标准化后的灰度图像：形状为 (H, W)、(1, H, W) 或 "
                         f"(1, 1, H, W) 的浮点张量，例如测试小批量的 X[0]；传入的是{shown}")
    return image.detach().reshape(1, 1, *image.shape[-2:]).float()


def neuron_sum(model: nn.Module, layer: str, channel: int, row: int, col: int, image: torch.Tensor) -> NeuronSum:
    """Write out one output value of a convolution for one image: input patch, kernel, products, sum plus bias.

    Args:
        model: the network (run once in evaluation mode, without gradients; its mode is restored).
        layer: the name of one of its ``nn.Conv2d`` layers, as :func:`conv_layers` lists them (``"net.3"``).
        channel: the output channel.
        row, col: the position in that channel's feature map.
        image: the image, normalised as in training: ``(H, W)``, ``(1, H, W)`` or ``(1, 1, H, W)``.

    Returns:
        A :class:`NeuronSum`; its ``total`` equals its ``pytorch`` value up to rounding.

    Raises:
        ValueError: for a layer that is not a convolution of the model (the message lists them), a channel
            or position outside the layer's output, or an image the network cannot take.
    """
    model = check_model(model)
    names = conv_layers(model)
    if not isinstance(layer, str) or layer not in names:
        raise ValueError(f"layer 必须是网络里某个卷积层的名字，即 {'、'.join(names) or '（没有卷积层）'} 之一，"
                         f"传入的是 {describe(layer)}")
    conv = model.get_submodule(layer)
    assert isinstance(conv, nn.Conv2d)
    channel = check_int(channel, "channel", 0, conv.out_channels - 1)
    X = _image(image)
    param = next(model.parameters(), None)
    if param is not None:
        X = X.to(param.device)
    seen: dict[str, torch.Tensor] = {}

    def keep(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        seen.setdefault("input", inputs[0].detach())
        seen.setdefault("output", output.detach())

    hook = conv.register_forward_hook(keep)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(X)
    except RuntimeError as err:
        raise ValueError(f"网络接收不了尺寸为 {tuple(X.shape[-2:])} 的图像："
                         f"{str(err).splitlines()[0]}") from None
    finally:
        hook.remove()
        model.train(was_training)
    x, y = seen["input"][0].float().cpu(), seen["output"][0].float().cpu()
    _, out_h, out_w = y.shape
    where = f"（{layer} 的输出是 {out_h} x {out_w}）"
    try:
        row = check_int(row, "row", 0, out_h - 1)
        col = check_int(col, "col", 0, out_w - 1)
    except ValueError as err:
        raise ValueError(f"{err}{where}") from None
    if isinstance(conv.padding, str):
        raise ValueError(f"{layer} 用的是 padding={conv.padding!r}；要探索它，请把 padding 写成数字")
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = conv.kernel_size, conv.stride, conv.padding, conv.dilation
    per_group = conv.in_channels // conv.groups
    group = channel // (conv.out_channels // conv.groups)
    in_channels = tuple(range(group * per_group, (group + 1) * per_group))
    padded = nn.functional.pad(x[list(in_channels)], (pw, pw, ph, ph))  # zeros, as the convolution pads
    top, left = row * sh, col * sw  # in padded coordinates
    patch = padded[:, top:top + (kh - 1) * dh + 1:dh, left:left + (kw - 1) * dw + 1:dw].clone()
    kernel = conv.weight.detach()[channel].float().cpu().clone()
    bias = float(conv.bias.detach()[channel]) if conv.bias is not None else 0.0
    image_rows: tuple[int, ...] = ()
    image_cols: tuple[int, ...] = ()
    index = re.fullmatch(r"net\.(\d+)", layer)
    if index is not None:  # a layer of a plain nn.Sequential: follow the window back to the image
        try:
            region = input_region(model, int(index.group(1)), row, col, tuple(X.shape[-2:]))
            image_rows, image_cols = region.rows, region.cols
        except ValueError:
            pass  # a network the receptive-field tracer does not follow (e.g. residual blocks)
    return NeuronSum(layer, channel, row, col, in_channels, top - ph, left - pw, patch, kernel, bias,
                     float(y[channel, row, col]), _shape3(x), _shape3(y), image_rows, image_cols)


def _shape3(tensor: torch.Tensor) -> tuple[int, int, int]:
    c, h, w = tensor.shape
    return int(c), int(h), int(w)


def _heatmap(ax: Axes, values: np.ndarray, title: str, numbers: bool) -> None:
    limit = float(np.abs(values).max()) or 1.0
    ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    if numbers:
        for (i, j), value in np.ndenumerate(values):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=5)


def draw_neuron(view: NeuronSum, image: torch.Tensor | None = None) -> Figure:
    """Picture a :class:`NeuronSum`: the image with the pixels it depends on, then for each input channel
    (at most four) the patch, the kernel and their product, with numbers on small kernels."""
    shown = view.in_channels[:MAX_DRAWN_CHANNELS]
    rows = len(shown)
    fig = Figure(figsize=(8.4, 1.9 * rows + 0.5))
    grid = fig.add_gridspec(rows, 4, width_ratios=(1.6, 1, 1, 1))
    ax = fig.add_subplot(grid[:, 0])
    if image is not None:
        ax.imshow(_image(image)[0, 0].cpu().numpy(), cmap="gray")
        if view.image_rows and view.image_cols:
            r0, c0 = view.image_rows[0], view.image_cols[0]
            height, width = view.image_rows[-1] - r0 + 1, view.image_cols[-1] - c0 + 1
            ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), width, height, fill=False, edgecolor="red", linewidth=1.5))
        ax.set_title("image; red: pixels it depends on", fontsize=8)
    ax.axis("off")
    numbers = view.patch.shape[-1] * view.patch.shape[-2] <= 25
    for i, c in enumerate(shown):
        parts = (("input patch", view.patch[i]), ("kernel", view.kernel[i]), ("product", view.product[i]))
        for j, (title, values) in enumerate(parts, start=1):
            _heatmap(fig.add_subplot(grid[i, j]), values.numpy(), f"{title}, in channel {c}", numbers)
    more = len(view.in_channels) - len(shown)
    fig.suptitle(f"{view.layer}, channel {view.channel}, ({view.row}, {view.col}): sum + bias = {view.total:.4f}, "
                 f"PyTorch {view.pytorch:.4f}" + (f"  (+{more} more input channels in the sum)" if more else ""),
                 fontsize=9)
    fig.tight_layout()
    return fig
