"""Tests for the explorers: the plain functions behind them (checked against torch), their figures and the wiring."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from torch import nn

from cnn_course import input_region
from cnn_course.conv_figures import draw_message, draw_receptive_field, draw_shape_grid, draw_step
from cnn_course.conv_steps import shape_report, window_steps
from cnn_course.models import LeNet
from cnn_course.widgets import (
    Controls,
    ReceptiveFieldExplorer,
    ShapeExplorer,
    StepThrough,
    error_view,
    receptive_field_explorer,
    shape_explorer,
    step_through,
)

X44 = torch.tensor([[1, 2, 3, 0], [0, 1, 2, 3], [3, 0, 1, 2], [2, 3, 0, 1]], dtype=torch.float64)
K33 = torch.tensor([[2, 0, 1], [0, 1, 2], [1, 0, 2]], dtype=torch.float64)


# ---------------------------------------------------------------- shape_report


def test_shape_report_conv_matches_nn_conv2d() -> None:
    r = shape_report(6, 7, 3, padding=1, stride=2, in_channels=3, out_channels=8)
    layer = nn.Conv2d(3, 8, 3, padding=1, stride=2)
    assert r.ok and r.error is None
    assert r.output_shape == tuple(layer(torch.zeros(1, 3, 6, 7)).shape[1:]) == (8, 3, 4)
    assert r.params == sum(p.numel() for p in layer.parameters()) == 224
    assert r.params_formula == "8 * (3*3*3) + 8 = 224"
    assert r.formula_height.endswith("floor((6 + 2*1 - 3) / 2) + 1 = floor(5 / 2) + 1 = 3")
    assert r.formula_width.endswith("floor(6 / 2) + 1 = 4")
    assert "(8, 3, 4)" in r.text() and "224" in r.text()


def test_shape_report_without_bias_and_with_dilation() -> None:
    r = shape_report(10, 10, 3, dilation=2, in_channels=2, out_channels=4, bias=False)
    assert r.effective_kernel == 5
    assert r.output_shape == (4, 6, 6)
    assert r.params == 4 * 2 * 9
    assert "D*(K-1)" in r.formula_height


@pytest.mark.parametrize("mode,layer", [("max", nn.MaxPool2d), ("avg", nn.AvgPool2d)])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_shape_report_pooling_matches_torch(mode: str, layer: type, ceil_mode: bool) -> None:
    r = shape_report(7, 9, 2, in_channels=5, out_channels=99, mode=mode, ceil_mode=ceil_mode)
    expected = layer(2, ceil_mode=ceil_mode)(torch.zeros(1, 5, 7, 9)).shape[1:]
    assert r.stride == 2  # PyTorch's pooling default: stride = kernel_size
    assert r.output_shape == tuple(expected)
    assert r.output_shape[0] == 5  # channels unchanged, out_channels ignored
    assert r.params == 0
    assert ("ceil(" in r.formula_height) == ceil_mode


def test_shape_report_notes_ceil_mode_window_dropped_by_torch() -> None:
    # ceil would give 3, but the last window would start in the right padding: PyTorch gives 2.
    r = shape_report(3, 3, 2, padding=1, stride=2, mode="max", ceil_mode=True)
    assert r.output_shape == tuple(nn.MaxPool2d(2, 2, 1, ceil_mode=True)(torch.zeros(1, 1, 3, 3)).shape[1:])
    assert r.output_shape == (1, 2, 2)
    assert "drops a last window" in r.formula_height


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        (dict(height=4, width=4, kernel_size=7), "请用 kernel_size <= 4"),
        (dict(height=4, width=4, kernel_size=3, stride=0), "stride 必须是至少为 1 的整数"),
        (dict(height=4, width=4, kernel_size=3, padding=-1), "padding 必须是非负整数"),
        (dict(height=4, width=4, kernel_size=0), "kernel_size 必须是至少为 1 的整数"),
        (dict(height=5, width=5, kernel_size=3, dilation=3), "覆盖 7 个位置"),
        (dict(height=4, width=4, kernel_size=2, padding=2, mode="max"), "padding <= 1"),
        (dict(height=4, width=4, kernel_size=2, dilation=2, mode="avg"), "dilation=1"),
        (dict(height=4, width=4, kernel_size=3, in_channels=0), "in_channels 必须是至少为 1 的整数，传入的是 0"),
    ],
)
def test_shape_report_impossible_settings_give_message_not_exception(kwargs: dict, needle: str) -> None:
    r = shape_report(**kwargs)
    assert not r.ok and r.output_shape is None and r.params is None
    assert needle in r.error
    assert "✘" in r.text() and needle in r.text()


def test_shape_report_error_shows_negative_formula() -> None:
    r = shape_report(4, 4, 7)
    assert "floor(-3 / 1) + 1 = -2" in r.formula_height and "no window fits" in r.formula_height


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        (dict(height=4.0, width=4, kernel_size=3), r"height 必须是整数，传入的是 4.0（浮点数）"),
        (dict(height=4, width=4, kernel_size=True), "kernel_size 必须是整数，传入的是 True"),
        (dict(height=4, width=4, kernel_size=3, mode="pool"), "mode 必须是 'conv'、'max'、'avg' 之一，传入的是 'pool'"),
        (dict(height=4, width=4, kernel_size=3, ceil_mode=True), "ceil_mode 只用于汇聚"),
        (dict(height=4, width=4, kernel_size=2, mode="max", ceil_mode=1), "ceil_mode 必须是 True 或 False"),
        (dict(height=4, width=4, kernel_size=3, bias=1), "bias 必须是 True 或 False，传入的是 1"),
        (dict(height=4, width=4, kernel_size=3, mode="Max"), "（是不是想写 'max'？）"),
        (dict(height="6", width=4, kernel_size=3), "height 必须是整数，传入的是 '6'"),
        (dict(height=4, width=4, kernel_size=(3, 3)), r"kernel_size 必须是整数，传入的是 \(3, 3\)"),
    ],
)
def test_shape_report_rejects_wrong_types(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        shape_report(**kwargs)


@settings(max_examples=30, deadline=None)
@given(
    size=st.integers(1, 12), k=st.integers(1, 5), p=st.integers(0, 2), s=st.integers(1, 3), d=st.integers(1, 2),
)
def test_shape_report_agrees_with_conv2d_or_reports_error(size: int, k: int, p: int, s: int, d: int) -> None:
    r = shape_report(size, size, k, padding=p, stride=s, dilation=d)
    try:
        out = nn.Conv2d(1, 1, k, padding=p, stride=s, dilation=d)(torch.zeros(1, 1, size, size))
    except RuntimeError:
        assert not r.ok
    else:
        assert r.output_shape == tuple(out.shape[1:])


def test_draw_shape_grid_returns_figures_for_good_and_bad_settings() -> None:
    good = draw_shape_grid(shape_report(8, 8, 3, padding=1, stride=2, dilation=2))
    bad = draw_shape_grid(shape_report(4, 4, 7))
    assert isinstance(good, Figure) and isinstance(bad, Figure)
    assert "(1, 8, 8) -> (1, 3, 3)" in good._suptitle.get_text()
    assert "impossible" in bad._suptitle.get_text()
    with pytest.raises(ValueError, match="report 必须是 shape_report\\(...\\) 给出的 ShapeReport"):
        draw_shape_grid({"height": 4})


def test_draw_shape_grid_marks_rows_the_floor_drops() -> None:
    # 6 wide, kernel 3, stride 2: windows at 0 and 2 reach column 4; column 5 is never read.
    fig = draw_shape_grid(shape_report(6, 6, 3, stride=2))
    image = fig.axes[0].images[0].get_array()
    assert tuple(image[0, 5]) != (1.0, 1.0, 1.0) and tuple(image[0, 4]) == (1.0, 1.0, 1.0)


# ---------------------------------------------------------------- window_steps


def test_window_steps_source_example_by_hand() -> None:
    walk = window_steps(X44, K33)
    assert walk.out_shape == (2, 2) and len(walk) == 4
    assert walk.output().tolist() == [[15, 16], [6, 15]]
    first = walk[0]
    assert (first.out_row, first.out_col, first.top, first.left) == (0, 0, 0, 0)
    assert first.products.tolist() == [[2, 0, 3], [0, 1, 4], [3, 0, 2]]
    assert first.expression() == "1×2 + 2×0 + 3×1 + 0×0 + 1×1 + 2×2 + 3×1 + 0×0 + 1×2 = 15"
    assert window_steps(X44, K33, bias=3)[1].expression().endswith("+ 3 (bias) = 19")


def test_window_steps_partial_output_is_nan_after_current_step() -> None:
    out = window_steps(X44, K33).output(upto=1)
    assert out[0].tolist() == [15, 16] and torch.isnan(out[1]).all()
    for bad in (4, True, 1.0):
        with pytest.raises(ValueError, match="upto 必须是从 0 到 3 的整数"):
            window_steps(X44, K33).output(upto=bad)


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(1, 7), w=st.integers(1, 7), k=st.integers(1, 3), p=st.integers(0, 2), s=st.integers(1, 3),
    d=st.integers(1, 2), seed=st.integers(0, 1000),
)
def test_window_steps_conv_equals_f_conv2d(h: int, w: int, k: int, p: int, s: int, d: int, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(h, w, generator=gen, dtype=torch.float64)
    K = torch.randn(k, k, generator=gen, dtype=torch.float64)
    if d * (k - 1) + 1 > min(h, w) + 2 * p:
        with pytest.raises(ValueError, match="卷积核放不下"):
            window_steps(X, K, padding=p, stride=s, dilation=d)
        return
    walk = window_steps(X, K, padding=p, stride=s, dilation=d, bias=0.5)
    expected = F.conv2d(X[None, None], K[None, None], torch.tensor([0.5], dtype=torch.float64),
                        stride=s, padding=p, dilation=d)[0, 0]
    torch.testing.assert_close(walk.output(), expected)


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(2, 7), w=st.integers(2, 7), k=st.integers(1, 3), p=st.integers(0, 1), s=st.integers(1, 3),
    seed=st.integers(0, 1000), mode=st.sampled_from(["max", "avg"]),
)
def test_window_steps_pooling_equals_torch(h: int, w: int, k: int, p: int, s: int, seed: int, mode: str) -> None:
    p = min(p, k // 2)
    X = torch.randn(h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    if k > min(h, w) + 2 * p:
        return
    walk = window_steps(X, mode=mode, kernel_size=k, stride=s, padding=p)
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    torch.testing.assert_close(walk.output(), pool(X[None, None], k, s, p)[0, 0])


def test_window_steps_pooling_defaults_and_text() -> None:
    walk = window_steps(X44, mode="max")  # kernel_size 2, stride 2 by default
    assert walk.stride == 2 and walk.output().tolist() == [[2, 3], [3, 2]]
    assert walk[1].expression() == "max(3, 0, 2, 3) = 3"
    avg = window_steps(X44, mode="avg")
    assert avg.output().tolist() == [[1, 2], [2, 1]]
    assert avg[0].expression() == "(1 + 2 + 0 + 1) / 4 = 1"
    assert avg[0].products is None


def test_window_steps_max_pool_pads_with_minus_infinity() -> None:
    X = -torch.ones(2, 2)
    walk = window_steps(X, mode="max", kernel_size=2, stride=1, padding=1)
    assert walk.padded[0, 0] == float("-inf")
    assert walk.output().tolist() == F.max_pool2d(X[None, None], 2, 1, 1)[0, 0].tolist()
    assert "-inf" in walk[0].expression()


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        (dict(X=X44), "mode='conv' 需要 kernel"),
        (dict(X=X44, kernel=torch.ones(2, 3)), r"kernel 必须是方的 \(K, K\)，传入的形状是 \(2, 3\)"),
        (dict(X=X44, kernel=torch.ones(5, 5)), "请用 kernel_size <= 4"),
        (dict(X=X44, kernel=K33, stride=0), "stride 必须是至少为 1 的整数"),
        (dict(X=X44, kernel=K33, padding=-1), "padding 必须是非负整数"),
        (dict(X=torch.ones(2, 3, 4), kernel=K33), r"X 必须是二维的 \(height, width\)，传入的形状是 \(2, 3, 4\)"),
        (dict(X="abc", kernel=K33), "X 必须是二维张量.*传入的是 'abc'"),
        (dict(X=X44, kernel=K33, mode="sum"), "mode 必须是 'conv'、'max'、'avg' 之一，传入的是 'sum'"),
        (dict(X=X44, kernel=K33, kernel_size=3), "kernel_size 是给汇聚用的"),
        (dict(X=X44, kernel=K33, mode="max"), "kernel 是给 mode='conv' 用的"),
        (dict(X=X44, mode="avg", bias=1.0), "bias 是给 mode='conv' 用的"),
        (dict(X=X44, mode="avg", dilation=2), "mode='avg' 时 dilation 必须是 1"),
        (dict(X=X44, mode="max", kernel_size=2, padding=2), "padding <= 1"),
        (dict(X=X44, kernel=K33, bias=True), "bias 必须是有限的数，例如 0.5，传入的是 True"),
        (dict(X=X44, kernel=K33, bias="1"), "bias 必须是有限的数，例如 0.5，传入的是 '1'"),
        (dict(X=X44, kernel=K33, bias=float("nan")), "bias 必须是有限的数.*传入的是 nan"),
        (dict(X=X44, kernel=K33, stride=1.0), "stride 必须是整数，传入的是 1.0"),
        (dict(X=X44, kernel=K33, padding=True), "padding 必须是整数，传入的是 True"),
        (dict(X=[[1, 2], [3]], kernel=K33), r"X 必须是二维张量或由数字组成的嵌套列表.*传入的是 \[\[1, 2\], \[3\]\]"),
    ],
)
def test_window_steps_bad_arguments_name_the_argument(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        window_steps(**kwargs)


def test_window_steps_accepts_batched_single_channel_input() -> None:
    walk = window_steps(X44[None, None], K33[None, None])
    assert walk.output().tolist() == [[15, 16], [6, 15]]


def test_draw_step_figure_and_bad_index() -> None:
    walk = window_steps(X44, K33, padding=1)
    fig = draw_step(walk, 7)
    assert isinstance(fig, Figure) and len(fig.axes) == 3  # input, kernel, output
    assert "step 8 of 16" in fig._suptitle.get_text()
    assert any(walk[7].expression() in t.get_text().replace("\n", " ") for t in fig.texts)
    assert len(draw_step(window_steps(X44, mode="avg"), 0).axes) == 2  # pooling: no kernel panel
    for bad in (-1, 16, 1.0, True):
        with pytest.raises(ValueError, match="index 必须是从 0 到 15 的整数"):
            draw_step(walk, bad)


# ---------------------------------------------------------------- widgets


def test_shape_explorer_sliders_drive_the_report() -> None:
    explorer = ShapeExplorer(height=6, width=6, kernel_size=3, in_channels=3, out_channels=8)
    assert explorer.report().output_shape == (8, 4, 4)
    explorer.sliders["kernel_size"].value = 9  # too big: a message, not an exception
    assert "请用 kernel_size <= 6" in explorer.report().error
    explorer.sliders["padding"].value = 2
    assert explorer.report().output_shape == (8, 2, 2)
    explorer.mode.value = "max"
    assert explorer.sliders["out_channels"].disabled and not explorer.ceil_mode.disabled
    explorer.sliders["kernel_size"].value = 2
    explorer.sliders["padding"].value = 0
    explorer.sliders["stride"].value = 2
    assert explorer.report().output_shape == (3, 3, 3) and explorer.report().params == 0
    assert isinstance(explorer.figure(), Figure)
    assert isinstance(explorer.controls, Controls)
    assert "滑块" in explorer.controls._repr_mimebundle_()["text/plain"]


def test_shape_explorer_ceil_mode_is_ignored_for_conv() -> None:
    explorer = ShapeExplorer(mode="max", ceil_mode=True, height=7, width=7, kernel_size=2, stride=2)
    assert explorer.report().output_shape == (1, 4, 4)
    explorer.mode.value = "conv"
    assert explorer.ceil_mode.disabled and explorer.report().ceil_mode is False


@pytest.mark.parametrize(
    "kwargs,needle",
    [(dict(height=40), "height 必须是从 1 到 32 的整数，传入的是 40；.*请传入 max_size=40"),
     (dict(height=100), "height 必须是从 1 到 32 的整数，传入的是 100（探索器里 height 滑块的范围）"),
     (dict(stride=0), "stride 必须是从 1 到 6 的整数，传入的是 0"),
     (dict(kernel_size=3.0), "kernel_size 必须是从 1 到 11 的整数，传入的是 3.0"),
     (dict(mode="x"), "mode 必须是 'conv'、'max'、'avg' 之一"), (dict(ceil_mode="yes"), "ceil_mode 必须是 True 或 False"),
     (dict(max_size=2), "max_size 必须是从 4 到 64 的整数")],
)
def test_shape_explorer_bad_start_values(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        ShapeExplorer(**kwargs)


def test_step_through_slider_moves_the_window() -> None:
    widget = StepThrough(X44, K33, step=0)
    assert widget.slider.max == widget.play.max == 3
    assert "= 15" in widget.text()
    widget.slider.value = 1
    assert widget.text().startswith("第 2/4 步,output[0, 1]") and widget.text().endswith("= 16")
    assert isinstance(widget.figure(), Figure)
    assert widget.link.source == (widget.play, "value") and widget.link.target == (widget.slider, "value")
    pool = StepThrough(X44, mode="max", kernel_size=2, step=3)
    assert pool.text().endswith("max(1, 2, 0, 1) = 2")


def test_step_through_rejects_big_inputs_and_bad_step() -> None:
    with pytest.raises(ValueError, match="最多只能处理 12x12：请把它裁小"):
        StepThrough(torch.zeros(28, 28), torch.ones(3, 3))
    with pytest.raises(ValueError, match="step 必须是从 0 到 3 的整数"):
        StepThrough(X44, K33, step=4)
    with pytest.raises(ValueError, match="index 必须是从 0 到 3 的整数，传入的是 4"):
        StepThrough(X44, K33).text(4)


def test_public_functions_display_without_a_frontend(capsys: pytest.CaptureFixture) -> None:
    assert shape_explorer(mode="avg", kernel_size=2, stride=2) is None
    assert step_through(X44, mode="avg", kernel_size=2) is None
    out = capsys.readouterr().out
    assert "滑块" in out  # the controls' plain-text form


class _FakeHandle:
    def __init__(self) -> None:
        self.shown: list = []

    def update(self, obj, raw: bool = False) -> None:
        self.shown.append(obj)


def test_moving_a_slider_updates_the_shown_text_and_picture() -> None:
    explorer = ShapeExplorer(height=6, width=6, kernel_size=3)
    text, picture = _FakeHandle(), _FakeHandle()
    explorer._text.handle, explorer._picture.handle = text, picture
    explorer.sliders["stride"].value = 2
    assert "(1, 2, 2)" in text.shown[-1].data and picture.shown[-1].format == "png"
    explorer.sliders["kernel_size"].value = 9  # impossible: the message replaces the result
    assert "✘" in text.shown[-1].data and "请用 kernel_size <= 6" in text.shown[-1].data
    walk = StepThrough(X44, K33)
    text, picture = _FakeHandle(), _FakeHandle()
    walk._text.handle, walk._picture.handle = text, picture
    walk.slider.value = 2
    assert text.shown[-1].data.endswith("= 6") and len(picture.shown) == 1


@settings(max_examples=40, deadline=None)
@given(
    values=st.fixed_dictionaries({
        "height": st.integers(1, 32), "width": st.integers(1, 32), "kernel_size": st.integers(1, 11),
        "padding": st.integers(0, 5), "stride": st.integers(1, 6), "dilation": st.integers(1, 4),
        "in_channels": st.integers(1, 512), "out_channels": st.integers(1, 512),
    }),
    mode=st.sampled_from(["conv", "max", "avg"]), ceil_mode=st.booleans(),
)
def test_every_slider_setting_gives_a_result_or_a_message(values: dict, mode: str, ceil_mode: bool) -> None:
    explorer = ShapeExplorer()
    explorer.mode.value = mode
    explorer.ceil_mode.value = ceil_mode
    for name, value in values.items():
        explorer.sliders[name].value = value
    text, fig = explorer.view()  # never raises: an impossible setting is explained in the text
    assert isinstance(fig, Figure)
    assert ("✘" in text) == (not explorer.report().ok)


# ---------------------------------------------------------------- receptive field


TINY = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2))


def _explorer(**kwargs) -> ReceptiveFieldExplorer:
    return ReceptiveFieldExplorer(networks={"LeNet": (LeNet(), 28), "tiny": (TINY, 8)}, **kwargs)


def test_receptive_field_explorer_controls_drive_the_region() -> None:
    explorer = _explorer(layer=3, row=5, col=5)
    assert [value for _, value in explorer.layer.options] == [0, 2, 3, 5, 6]
    assert (explorer.row.max, explorer.col.max) == (9, 9)
    region = explorer.region()
    assert (region.top, region.bottom, region.size) == (8, 21, (14, 14))
    explorer.layer.value = 6  # C5: 1x1 output, the sliders follow
    assert (explorer.row.max, explorer.row.value) == (0, 0) and explorer.region().rows == tuple(range(28))
    explorer.network.value = "tiny"
    assert [value for _, value in explorer.layer.options] == [0, 2] and explorer.row.max == 3
    text, fig = explorer.view()
    assert text.startswith("tiny: ") and "r = 4" in text and isinstance(fig, Figure)


def test_receptive_field_explorer_shows_message_instead_of_raising() -> None:
    explorer = _explorer(layer=3)
    text, picture = _FakeHandle(), _FakeHandle()
    explorer._text.handle, explorer._picture.handle = text, picture
    explorer.col.value = 2
    assert "r = 14" in text.shown[-1].data
    explorer.col.max = 20  # a setting the network cannot have: the slider reaches past the output
    explorer.col.value = 15
    shown = text.shown[-1].data
    assert shown.startswith("✘") and "col 必须是从 0 到 9 的整数，传入的是 15" in shown
    assert picture.shown[-1].format == "png"


def test_network_without_convolutions_shows_a_message() -> None:
    flat = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    with pytest.raises(ValueError, match="model 在层 0（Flatten）之前没有 Conv2d、MaxPool2d 或 AvgPool2d 层"):
        ReceptiveFieldExplorer("flat", networks={"flat": (flat, 8)})
    explorer = ReceptiveFieldExplorer("tiny", networks={"tiny": (TINY, 8), "flat": (flat, 8)})
    text, picture = _FakeHandle(), _FakeHandle()
    explorer._text.handle, explorer._picture.handle = text, picture
    explorer.network.value = "flat"  # chosen from the list: a message, not a traceback in the widget log
    assert text.shown[-1].data.startswith("✘") and "请传入卷积网络" in text.shown[-1].data
    explorer.row.value = 1  # still explained, never raised
    assert "没有 Conv2d" in text.shown[-1].data and picture.shown[-1].format == "png"
    explorer.network.value = "tiny"
    assert "r = 4" in text.shown[-1].data


def test_error_view_names_the_problem() -> None:
    text, fig = error_view(ValueError("row 必须是从 0 到 9 的整数，传入的是 15"))
    assert text == "✘ 这组设置没有结果：row 必须是从 0 到 9 的整数，传入的是 15"
    # matplotlib's default font has no CJK glyphs: the figure points at the text instead of repeating it
    assert fig.axes[0].texts[0].get_text() == "no picture for this setting: see the message"
    _, fig = error_view(RuntimeError("Given input size: (1x2x2)"))  # a plain-ASCII message is drawn
    assert "Given input size: (1x2x2)" in fig.axes[0].texts[0].get_text()


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(network="lenet"), "network 必须是 'LeNet'、'tiny' 之一，传入的是 'lenet'（是不是想写 'LeNet'？）"),
        (dict(layer=1), "即 0, 2, 3, 5, 6 之一，传入的是 1（Tanh，它自己没有滑动窗口）"),
        (dict(layer="3"), "传入的是 '3'"),
        (dict(layer=6, row=1), "row 必须是从 0 到 0 的整数，传入的是 1（层 6 的输出是 1x1）"),
        (dict(layer=0, col=-1), "col 必须是从 0 到 27 的整数，传入的是 -1"),
        (dict(image=torch.zeros(3, 28, 28)), "image 必须是二维的 (height, width)，传入的形状是 (3, 28, 28)"),
        (dict(image="digit.png"), "image 必须是二维张量或由数字组成的嵌套列表"),
    ],
)
def test_receptive_field_explorer_bad_start_values(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError) as info:
        _explorer(**kwargs)
    assert needle in str(info.value)


def test_draw_receptive_field_over_an_image() -> None:
    region = input_region(LeNet(), 6, 0, 0, 28)
    fig = draw_receptive_field(region, torch.rand(1, 1, 14, 14))  # shown resized to 28x28
    assert "r = 32" in fig._suptitle.get_text() and "rows 0-27" in fig.axes[0].get_title()
    assert fig.axes[0].get_xlim()[0] < -2  # the formula's box reaches into the padding, and is drawn there
    with pytest.raises(ValueError, match="region 必须是 input_region\\(...\\) 给出的 Region"):
        draw_receptive_field(shape_report(4, 4, 3))
    assert isinstance(draw_message("x"), Figure)


def test_receptive_field_explorer_builds_the_course_networks(capsys: pytest.CaptureFixture) -> None:
    receptive_field_explorer("AlexNet", layer=12, row=0, col=4)  # from cnn_course.models, no frontend
    assert "滑块" in capsys.readouterr().out
    explorer = ReceptiveFieldExplorer()
    assert explorer.network.value == "LeNet" and explorer.region().input_size == (28, 28)

