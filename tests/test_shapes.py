"""Output-size formulas against real torch layers, and the layer-by-layer shape table."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnn_course import ShapeError, conv_output_size, layer_shapes, pool_output_size

SETTINGS = settings(max_examples=150, deadline=None)


def _torch_size(layer: nn.Module, h: int, w: int) -> tuple[int, int] | None:
    try:
        with torch.no_grad():
            out = layer(torch.zeros(1, 1, h, w))
    except RuntimeError:
        return None
    return tuple(out.shape[-2:])


@SETTINGS
@given(
    h=st.integers(1, 40), w=st.integers(1, 40), k=st.integers(1, 9), p=st.integers(0, 4),
    s=st.integers(1, 5), d=st.integers(1, 4),
)
def test_conv_formula_matches_conv2d(h: int, w: int, k: int, p: int, s: int, d: int) -> None:
    layer = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)
    expected = _torch_size(layer, h, w)
    if expected is None:
        with pytest.raises(ValueError):
            conv_output_size((h, w), k, padding=p, stride=s, dilation=d)
    else:
        assert conv_output_size((h, w), k, padding=p, stride=s, dilation=d) == expected
        assert conv_output_size(h, k, p, s, d) == expected[0]


@SETTINGS
@given(
    h=st.integers(1, 40), k=st.integers(1, 7), p=st.integers(0, 3), s=st.one_of(st.none(), st.integers(1, 5)),
    d=st.integers(1, 3), ceil_mode=st.booleans(),
)
def test_pool_formula_matches_maxpool2d(h: int, k: int, p: int, s: int | None, d: int, ceil_mode: bool) -> None:
    try:
        layer = nn.MaxPool2d(k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode)
        expected = _torch_size(layer, h, h)
    except (RuntimeError, ValueError):
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            pool_output_size(h, k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode)
    else:
        assert pool_output_size(h, k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode) == expected[0]


@SETTINGS
@given(h=st.integers(1, 40), k=st.integers(1, 7), p=st.integers(0, 3), s=st.integers(1, 5), ceil_mode=st.booleans())
def test_pool_formula_matches_avgpool2d(h: int, k: int, p: int, s: int, ceil_mode: bool) -> None:
    try:
        expected = _torch_size(nn.AvgPool2d(k, stride=s, padding=p, ceil_mode=ceil_mode), h, h)
    except (RuntimeError, ValueError):
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            pool_output_size(h, k, stride=s, padding=p, ceil_mode=ceil_mode)
    else:
        assert pool_output_size(h, k, stride=s, padding=p, ceil_mode=ceil_mode) == expected[0]


def test_pool_default_stride_is_kernel() -> None:
    assert pool_output_size(28, 2) == 14
    assert pool_output_size(54, 3, 2) == 26
    assert pool_output_size((224, 100), 2) == (112, 50)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(size=28, kernel_size=0), ["kernel_size", "at least 1"]),
        (dict(size=28, kernel_size=3, stride=0), ["stride", "at least 1"]),
        (dict(size=28, kernel_size=3, dilation=0), ["dilation", "at least 1"]),
        (dict(size=28, kernel_size=3, padding=-1), ["padding", "0 or more"]),
        (dict(size=4, kernel_size=7), ["does not fit", "kernel_size <= 4", "padding >= 2"]),
        (dict(size=5, kernel_size=3, dilation=3), ["dilation=3 spans 7", "padding >= 1"]),
        (dict(size=(5, 28), kernel_size=7), ["(height)"]),
        (dict(size=28, kernel_size=(3, 3, 3)), ["kernel_size", "(h, w) pair"]),
        (dict(size=28, kernel_size=2.5), ["kernel_size"]),
        (dict(size=0, kernel_size=1), ["size", "at least 1"]),
    ],
)
def test_conv_bad_input_names_argument(kwargs: dict, words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        conv_output_size(**kwargs)
    for word in words:
        assert word in str(info.value)


def test_pool_bad_padding_names_limit() -> None:
    with pytest.raises(ValueError, match=r"padding=2 is more than half of kernel_size=3.*padding <= 1"):
        pool_output_size(10, 3, padding=2)
    with pytest.raises(ValueError, match="ceil_mode"):
        pool_output_size(10, 3, ceil_mode="yes")  # type: ignore[arg-type]


class LeNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Tanh(), nn.AvgPool2d(2, 2),
            nn.Conv2d(6, 16, kernel_size=5), nn.Tanh(), nn.AvgPool2d(2, 2),
            nn.Conv2d(16, 120, kernel_size=5), nn.Tanh(), nn.Flatten(),
            nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def test_layer_shapes_lenet_table() -> None:
    table = layer_shapes(LeNet(), (1, 28, 28))
    assert [r.output_shape for r in table][:7] == [
        (1, 6, 28, 28), (1, 6, 28, 28), (1, 6, 14, 14), (1, 16, 10, 10), (1, 16, 10, 10), (1, 16, 5, 5),
        (1, 120, 1, 1),
    ]
    assert table.output_shape == (1, 10)
    assert table[0].name == "net.0" and table[0].type == "Conv2d" and table[0].params == 156
    assert table.total_params == 61706
    text = str(table)
    assert text.splitlines()[0].split() == ["layer", "type", "output", "shape", "params"]
    assert "total parameters: 61,706" in text
    assert "<table>" in table._repr_html_()
    assert str(layer_shapes(LeNet(), (1, 1, 28, 28))) == text  # stable plain text


def test_layer_shapes_block_is_one_row_and_depth_expands() -> None:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(4, 4, 3, padding=1)
            self.b = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(x + self.b(self.a(x)))

    model = nn.Sequential(nn.Conv2d(1, 4, 3), Block(), nn.Flatten())
    assert [r.type for r in layer_shapes(model, (1, 8, 8))] == ["Conv2d", "Block", "Flatten"]
    assert [r.type for r in layer_shapes(model, (1, 8, 8), depth=2)] == ["Conv2d", "Conv2d", "Conv2d", "Flatten"]


def test_layer_shapes_names_failing_layer() -> None:
    model = LeNet()
    with pytest.raises(ShapeError) as info:
        layer_shapes(model, (1, 32, 32))
    message = str(info.value)
    assert "net.9" in message and "Linear" in message and "(1, 480)" in message and "net.8" in message
    assert model.training  # mode restored


def test_layer_shapes_alexnet_on_28_names_layer() -> None:
    model = nn.Sequential(
        nn.Conv2d(1, 96, 11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
    )
    with pytest.raises(ShapeError, match=r"layer '5' \(MaxPool2d.*\(1, 256, 2, 2\)"):
        layer_shapes(model, (1, 28, 28))


@pytest.mark.parametrize("shape", [(28, 28), (1, 0, 28), "abc", (1, 2, 3, 4, 5)])
def test_layer_shapes_bad_input_shape(shape) -> None:
    with pytest.raises(ValueError, match="input_shape"):
        layer_shapes(LeNet(), shape)


def test_layer_shapes_bad_model() -> None:
    with pytest.raises(ValueError, match="model must be a torch.nn.Module"):
        layer_shapes("lenet", (1, 28, 28))  # type: ignore[arg-type]
