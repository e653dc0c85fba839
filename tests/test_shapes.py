"""Output-size formulas against real torch layers, and the layer-by-layer shape table."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnn_course import ShapeError, conv_output_size, layer_shapes, pool_output_size
from cnn_course.models import LeNet
from cnn_course.shapes import size_formula

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
        (dict(size=28, kernel_size=0), ["kernel_size 必须是至少为 1 的整数"]),
        (dict(size=28, kernel_size=3, stride=0), ["stride 必须是至少为 1 的整数"]),
        (dict(size=28, kernel_size=3, dilation=0), ["dilation 必须是至少为 1 的整数", "没有空洞"]),
        (dict(size=28, kernel_size=3, padding=-1), ["padding 必须是非负整数", "-1"]),
        (dict(size=4, kernel_size=7), ["卷积核放不下", "kernel_size <= 4", "padding >= 2"]),
        (dict(size=5, kernel_size=3, dilation=3), ["kernel_size=3（dilation=3）覆盖 7 个位置", "padding >= 1"]),
        (dict(size=(5, 28), kernel_size=7), ["在高度方向上放不下"]),
        (dict(size=28, kernel_size=(3, 3, 3)), ["kernel_size", "(h, w) 二元组", "有 3 个数"]),
        (dict(size=28, kernel_size=2.5), ["kernel_size"]),
        (dict(size=0, kernel_size=1), ["size 必须是至少为 1 的整数"]),
    ],
)
def test_conv_bad_input_names_argument(kwargs: dict, words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        conv_output_size(**kwargs)
    for word in words:
        assert word in str(info.value)


def test_pool_bad_padding_names_limit() -> None:
    with pytest.raises(ValueError, match=r"padding=2 超过了 kernel_size=3 的一半.*padding <= 1"):
        pool_output_size(10, 3, padding=2)
    with pytest.raises(ValueError, match="ceil_mode"):
        pool_output_size(10, 3, ceil_mode="yes")  # type: ignore[arg-type]


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
    with pytest.raises(ShapeError, match=r"层 '5'（MaxPool2d.*\(1, 256, 2, 2\)"):
        layer_shapes(model, (1, 28, 28))


@pytest.mark.parametrize(
    "shape, words",
    [
        ((1, 28.7, 28), ["input_shape", "28.7（不是整数）", "(1, 28, 28)"]),  # was silently 28
        ((1, 28.0, 28), ["input_shape", "28.0"]),
        ((1, True, 28), ["input_shape", "True"]),
        ((1, "28", 28), ["input_shape", "'28'", "不要加引号"]),
        ("128", ["input_shape", "'128'"]),  # a string of digits was read as (1, 2, 8)
        ((28, 28), ["input_shape", "有 2 个数", "加上通道数"]),
        ((1, 2, 3, 4, 5), ["input_shape", "有 5 个数"]),
        ((1, 0, 28), ["input_shape", "至少为 1", "input_shape[1] 是 0"]),
        ((1, -28, 28), ["input_shape", "input_shape[1] 是 -28"]),
        (torch.zeros(1, 1, 28, 28), ["input_shape", "形状为 (1, 1, 28, 28) 的张量", "X.shape"]),
        (None, ["input_shape", "None"]),
        ((256, 3, 2240, 2240), ["input_shape", "批量大小 1"]),  # would allocate gigabytes
    ],
)
def test_layer_shapes_bad_input_shape(shape, words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        layer_shapes(LeNet(), shape)
    for word in words:
        assert word in str(info.value)


def test_layer_shapes_accepts_a_torch_size() -> None:
    assert layer_shapes(LeNet(), torch.zeros(1, 1, 28, 28).shape).output_shape == (1, 10)


@pytest.mark.parametrize(
    "model, depth, words",
    [
        ("lenet", 1, ["model 必须是 torch.nn.Module", "'lenet'"]),
        (LeNet, 1, ["类 LeNet 本身", "LeNet()"]),
        (LeNet(), True, ["depth", "True"]),
        (LeNet(), 0, ["depth 必须是至少为 1 的整数，传入的是 0"]),
        (LeNet(), 1.5, ["depth", "1.5"]),
    ],
)
def test_layer_shapes_bad_model_or_depth(model, depth, words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        layer_shapes(model, (1, 28, 28), depth=depth)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: conv_output_size(28.7, 5), ["size", "28.7（不是整数）"]),
        (lambda: conv_output_size("28", 5), ["size", "'28'", "不要加引号"]),
        (lambda: conv_output_size(True, 5), ["size", "True"]),
        (lambda: conv_output_size(28, 5, stride=False), ["stride", "False"]),
        (lambda: conv_output_size((28, 28, 1), 5), ["size", "有 3 个数", "(h, w) 二元组"]),
        (lambda: conv_output_size((28, 2.5), 5), ["size", "2.5（不是整数）"]),
        (lambda: conv_output_size(28, 5, padding="full"), ["padding", "'full'", "'same'"]),
        (lambda: conv_output_size(28, 5, padding="same", stride=2), ["padding='same'", "stride=1"]),
        (lambda: pool_output_size(28, 2, ceil_mode=1), ["ceil_mode 必须是 True 或 False，传入的是 1"]),
        (lambda: pool_output_size(28, 2, ceil_mode="False"), ["ceil_mode", "'False'"]),
        (lambda: pool_output_size(28, None), ["kernel_size", "None"]),
        (lambda: size_formula(28, 5, stride=0), ["stride 必须是至少为 1 的整数，传入的是 0"]),
        (lambda: size_formula(28, 5, padding=-1), ["padding 必须是非负整数，传入的是 -1"]),
    ],
)
def test_bad_values_are_rejected_not_reinterpreted(call, words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_numpy_integers_are_whole_numbers() -> None:
    assert conv_output_size(np.int64(28), np.int32(5), padding=np.int64(2)) == 28


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("k, d", [(3, 1), (4, 1), (5, 2), (4, 3)])
def test_same_and_valid_padding_as_in_conv2d(k: int, d: int) -> None:
    for padding in ("same", "valid"):
        layer = nn.Conv2d(1, 1, k, padding=padding, dilation=d)
        assert conv_output_size((13, 16), k, padding=padding, dilation=d) == _torch_size(layer, 13, 16)


def test_size_formula_keeps_the_numbers() -> None:
    f = size_formula(7, 2, stride=2, ceil_mode=True)
    assert (f.numerator, f.value, f.output, f.fits) == (5, 4, 4, True)
    assert f.text() == "OH = ceil((H + 2P - K) / S) + 1 = ceil((7 + 2*0 - 2) / 2) + 1 = ceil(5 / 2) + 1 = 4"
    dropped = size_formula(3, 2, padding=1, stride=2, ceil_mode=True)  # the last window would start in the padding
    assert (dropped.value, dropped.output) == (3, 2) and "drops a last window" in dropped.text("width")
    too_big = size_formula(4, 7)
    assert not too_big.fits and too_big.text().endswith("= -2  (< 1: no window fits)")
