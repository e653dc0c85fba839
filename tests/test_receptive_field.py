"""The receptive-field formula against a gradient measurement, for LeNet, AlexNet and random stacks."""

from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from cnn_course import ShapeError, input_region, measure_input_region, receptive_fields
from cnn_course.models import AlexNet, LeNet

LENET = LeNet()
ALEXNET_FEATURES = nn.Sequential(*list(AlexNet().net)[:13])  # up to the last pooling layer; no 6400x4096 weights


def _box(mask: torch.Tensor) -> tuple[int, int, int, int]:
    rows = mask.any(dim=1).nonzero().flatten()
    cols = mask.any(dim=0).nonzero().flatten()
    return int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])


def test_lenet_fields_by_hand() -> None:
    table = receptive_fields(LENET, 28)
    assert [r.name for r in table] == ["net.0", "net.2", "net.3", "net.5", "net.6"]  # pixel-wise layers skipped
    assert [r.size[0] for r in table] == [5, 6, 14, 16, 32]  # r_l = r_{l-1} + (k - 1) * j_{l-1}
    assert [r.jump[0] for r in table] == [1, 2, 2, 4, 4]
    assert [r.start[0] for r in table] == [-2, -2, -2, -2, -2]  # C1's padding=2, then no padding
    assert [r.output_size for r in table] == [(28, 28), (14, 14), (10, 10), (5, 5), (1, 1)]
    text = str(table)
    assert text.splitlines()[0].split() == ["layer", "type", "kernel", "stride", "padding", "output", "r", "j", "start"]
    assert text.splitlines()[-1].split() == ["net.6", "Conv2d", "5", "1", "0", "1x1", "32", "4", "-2"]


def test_alexnet_fields_by_hand() -> None:
    table = receptive_fields(AlexNet(), 224)  # the table stops at Flatten: the Linear layers are not used
    assert [r.index for r in table] == [0, 2, 3, 5, 6, 8, 10, 12]
    assert [r.size[0] for r in table] == [11, 19, 51, 67, 99, 131, 163, 195]
    assert [r.jump[0] for r in table] == [4, 8, 8, 16, 16, 16, 16, 32]
    assert table[-1].output_size == (5, 5) and table[-1].start == (-65, -65)


def test_table_without_input_size_has_no_output_column() -> None:
    table = receptive_fields(LENET)
    assert table[0].output_size is None and "output" not in str(table).splitlines()[0]


def _positions(size: tuple[int, int]) -> list[tuple[int, int]]:
    h, w = size
    return sorted({(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1), (h // 2, w // 2), (1 % h, (w - 2) % w)})


@pytest.mark.parametrize("model, size", [(LENET, 28), (ALEXNET_FEATURES, 224)], ids=["LeNet", "AlexNet"])
def test_formula_equals_gradient_measurement(model: nn.Module, size: int) -> None:
    for row in receptive_fields(model, size):
        for i, j in _positions(row.output_size):
            region = input_region(model, row.index, i, j, size)
            measured = measure_input_region(model, row.index, i, j, size)
            assert torch.equal(region.mask(), measured), (row.name, i, j)
            if not region.clipped:  # away from the border the region is the formula's r x r box exactly
                assert _box(measured) == (region.field_top, region.field_left, region.field_bottom, region.field_right)
                assert (region.bottom - region.top + 1, region.right - region.left + 1) == row.size


def test_every_lenet_c3_position_matches_measurement() -> None:
    for i in range(10):
        for j in range(10):
            assert torch.equal(input_region(LENET, 3, i, j, 28).mask(), measure_input_region(LENET, 3, i, j, 28))


def test_measurement_agrees_with_the_real_lenet_gradient() -> None:
    # LeNet has no max pooling or ReLU, so its own gradient (positive weights, float64) is reliable.
    model = copy.deepcopy(LENET).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.abs() / p.numel() ** 0.5)
    x = torch.rand(1, 1, 28, 28, dtype=torch.float64, requires_grad=True)
    model.net[:6](x)[0, :, 4, 1].sum().backward()  # S4 output (4, 1), every channel
    assert torch.equal(x.grad[0, 0] != 0, measure_input_region(LENET, 5, 4, 1, 28))


def test_max_pooling_field_is_the_whole_window_not_the_argmax() -> None:
    model = nn.Sequential(nn.MaxPool2d(3, stride=2))
    measured = measure_input_region(model, 0, 1, 1, 9)
    assert _box(measured) == (2, 2, 4, 4) and int(measured.sum()) == 9


@st.composite
def _stack(draw: st.DrawFn) -> tuple[nn.Sequential, tuple[int, int]]:
    layers: list[nn.Module] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "max", "avg", "relu"]))
        k, s = draw(st.integers(1, 5)), draw(st.integers(1, 3))
        if kind == "conv":
            layers.append(nn.Conv2d(1, 1, (k, draw(st.integers(1, 5))), stride=s, padding=draw(st.integers(0, 3)),
                                    dilation=draw(st.integers(1, 3))))
        elif kind == "max":
            layers.append(nn.MaxPool2d(k, s, draw(st.integers(0, k // 2)), dilation=draw(st.integers(1, 3)),
                                       ceil_mode=draw(st.booleans())))
        elif kind == "avg":
            layers.append(nn.AvgPool2d(k, s, draw(st.integers(0, k // 2)), ceil_mode=draw(st.booleans())))
        else:
            layers.append(nn.ReLU())
    assume(not all(isinstance(layer, nn.ReLU) for layer in layers))  # no window: refused, tested below
    return nn.Sequential(*layers), (draw(st.integers(1, 30)), draw(st.integers(1, 30)))


@settings(max_examples=150, deadline=None)
@given(stack=_stack(), data=st.data())
def test_random_stacks_formula_equals_measurement(stack: tuple[nn.Sequential, tuple[int, int]], data) -> None:
    model, size = stack
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, 1, *size))
    except RuntimeError:  # PyTorch refuses this size: so must the formula
        with pytest.raises(ShapeError, match="太小了"):
            receptive_fields(model, size)
        return
    table = receptive_fields(model, size)
    assert table[-1].output_size == tuple(out.shape[-2:]) if len(table) else True
    layer = len(model) - 1
    i, j = data.draw(st.integers(0, out.shape[-2] - 1)), data.draw(st.integers(0, out.shape[-1] - 1))
    region = input_region(model, layer, i, j, size)
    measured = measure_input_region(model, layer, i, j, size)
    assert torch.equal(region.mask(), measured)
    if not region.clipped:
        assert _box(measured) == (region.field_top, region.field_left, region.field_bottom, region.field_right)


def test_same_padding_and_asymmetric_kernels() -> None:
    model = nn.Sequential(nn.Conv2d(1, 1, (3, 4), padding="same"), nn.Conv2d(1, 1, 3, stride=2))
    table = receptive_fields(model, (9, 10))
    assert table[0].output_size == (9, 10) and table[0].start == (-1, -1)  # PyTorch puts the odd pad right
    assert table[1].size == (5, 6)
    region = input_region(model, 1, 3, 3, (9, 10))
    assert torch.equal(region.mask(), measure_input_region(model, 1, 3, 3, (9, 10)))


def test_pixelwise_layer_has_the_field_of_the_layer_before() -> None:
    tanh = input_region(LENET, 1, 3, 3, 28)
    assert (tanh.rows, tanh.cols, tanh.size) == (input_region(LENET, 0, 3, 3, 28).rows,
                                                  input_region(LENET, 0, 3, 3, 28).cols, (5, 5))


def test_dilated_field_skips_rows() -> None:
    region = input_region(nn.Sequential(nn.Conv2d(1, 1, 3, dilation=2)), 0, 0, 0, 6)
    assert region.rows == (0, 2, 4) and region.size == (5, 5)
    assert "跳过" in region.text()


def test_output_that_reads_only_padding_depends_on_nothing() -> None:
    model = nn.Sequential(nn.Conv2d(1, 1, 1, padding=2))
    region = input_region(model, 0, 0, 0, 4)
    assert region.empty and region.top is None and not region.mask().any()
    assert not measure_input_region(model, 0, 0, 0, 4).any()
    assert "不依赖任何输入像素" in region.text()


def test_region_text_gives_the_numbers() -> None:
    text = input_region(LENET, 6, 0, 0, 28).text()
    assert "r = 32" in text and "j = 4" in text and "行 -2..29" in text and "行 0..27" in text and "裁掉" in text


class _NoNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 1, 3))


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: receptive_fields(LeNet), ["类 LeNet 本身", "LeNet()"]),
        (lambda: receptive_fields("LeNet"), ["model", "'LeNet'"]),
        (lambda: receptive_fields(_NoNet()), ["nn.Sequential", ".net", "_NoNet"]),
        (lambda: receptive_fields(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Upsample(scale_factor=2))),
         ["层 1（Upsample）不是 Conv2d"]),
        (lambda: receptive_fields(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular"))),
         ["'circular'", "padding_mode='zeros'"]),
        (lambda: receptive_fields(LENET, 28.0), ["input_size", "28.0"]),
        (lambda: receptive_fields(LENET, (28,)), ["input_size", "有 1 个数"]),
        (lambda: receptive_fields(LENET, "28"), ["input_size", "'28'", "不要加引号"]),
        (lambda: receptive_fields(LENET, 0), ["input_size 必须是至少为 1 的整数，传入的是 0"]),
        (lambda: input_region(LENET, 3.0, 0, 0, 28), ["layer", "3.0", "0, 2, 3, 5, 6"]),
        (lambda: input_region(LENET, True, 0, 0, 28), ["layer", "True"]),
        (lambda: input_region(LENET, -1, 0, 0, 28), ["layer", "-1", "0, 2, 3, 5, 6"]),
        (lambda: input_region(LENET, 99, 0, 0, 28), ["layer", "99"]),
        (lambda: input_region(LENET, 8, 0, 0, 28), ["层 net.8（Flatten）", "整张图像", "0, 2, 3, 5, 6"]),
        (lambda: input_region(LENET, 3, 10, 0, 28), ["row 必须是从 0 到 9 的整数，传入的是 10", "（层 net.3 的输出是 10x10）"]),
        (lambda: input_region(LENET, 3, 0, 2.5, 28), ["col", "2.5"]),
        (lambda: measure_input_region(LENET, 6, 1, 0, 28), ["row 必须是从 0 到 0 的整数", "（层 net.6 的输出是 1x1）"]),
        (lambda: receptive_fields(nn.Sequential(nn.Flatten(), nn.Linear(784, 10))),
         ["model 在层 0（Flatten）之前没有 Conv2d、MaxPool2d 或 AvgPool2d 层", "整张图像", "LeNet"]),
        (lambda: input_region(nn.Sequential(nn.ReLU(), nn.Flatten(), nn.Linear(784, 10)), 0, 0, 0, 28),
         ["在层 1（Flatten）之前没有 Conv2d"]),
        (lambda: measure_input_region(nn.Sequential(nn.Tanh()), 0, 0, 0, 28), ["model 没有 Conv2d", "卷积网络"]),
        (lambda: receptive_fields(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3, stride=0))),
         ["层 1（Conv2d）的 stride=0", "请用 stride=1 或更大的值"]),
        (lambda: input_region(nn.Sequential(nn.Conv2d(1, 1, 0)), 0, 0, 0, 8), ["层 0（Conv2d）的 kernel_size=0"]),
        (lambda: measure_input_region(nn.Sequential(nn.MaxPool2d(2, stride=(1, 0))), 0, 0, 0, 8),
         ["层 0（MaxPool2d）的 stride=1x0"]),
        (lambda: receptive_fields(LeNet().net[:2] + nn.Sequential(nn.AvgPool2d(0)), 28),
         ["层 2（AvgPool2d）的 kernel_size=0"]),
    ],
)
def test_bad_arguments_are_named(call, words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_too_small_image_names_the_layer() -> None:
    with pytest.raises(ShapeError, match=r"层 net.6（Conv2d）得到的输入是 3x3.*LeNet 是 28"):
        receptive_fields(LENET, 20)
