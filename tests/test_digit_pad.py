"""Tests for the draw-a-digit pad: MNIST-style preprocessing, prediction, and the widget's wiring."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import io
import sys

import numpy as np
import PIL.Image
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from torch import nn

from cnn_course import TensorLoader
from cnn_course.datasets import DATASETS
from cnn_course.digit_pad import (
    SAMPLE_STROKES,
    DigitPad,
    DigitPrediction,
    DigitSteps,
    DrawingTooSmallError,
    EmptyDrawingError,
    digit_pad,
    plot_digit_steps,
    predict_digit,
    preprocess_digit,
    rasterize_strokes,
)

CENTRE = 13.5  # centre of a 28x28 field in pixel coordinates 0..27


def _ink_extent(image: np.ndarray) -> tuple[int, int]:
    rows, cols = np.nonzero(image)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def _com(image: np.ndarray) -> tuple[float, float]:
    w = image.astype(np.float64)
    return (float((w.sum(1) * np.arange(w.shape[0])).sum() / w.sum()),
            float((w.sum(0) * np.arange(w.shape[1])).sum() / w.sum()))


class TinyNet(nn.Module):
    """C1-like conv, then a linear layer to 10 scores; remembers its last input."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(4), nn.Flatten(),
                                 nn.Linear(6 * 7 * 7, 10))
        self.seen: torch.Tensor | None = None
        self.fail = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fail:
            raise RuntimeError("the model broke")
        self.seen = x.clone()
        return self.net(x)


# ---------------------------------------------------------------- preprocess_digit


def test_sample_digit_fits_20x20_and_is_centred_by_mass() -> None:
    steps = preprocess_digit(rasterize_strokes(SAMPLE_STROKES))
    assert isinstance(steps, DigitSteps)
    assert steps.image.shape == (28, 28) and steps.image.dtype == np.uint8
    assert steps.fitted.shape == (20, 20)
    assert max(_ink_extent(steps.image)) == 20  # the longer side fills the 20x20 box
    assert np.allclose(steps.center_of_mass, _com(steps.image))
    assert all(abs(c - CENTRE) <= 0.5 for c in steps.center_of_mass)
    assert "centre of mass" in steps.describe()


def test_off_centre_small_digit_is_moved_and_enlarged() -> None:
    big = preprocess_digit(rasterize_strokes(SAMPLE_STROKES)).image
    small = [[(0.5 * x + 150, 0.5 * y + 140) for x, y in SAMPLE_STROKES[0]]]  # half size, lower right
    moved = preprocess_digit(rasterize_strokes(small, line_width=10)).image
    assert max(_ink_extent(moved)) == 20
    assert all(abs(c - CENTRE) <= 0.5 for c in _com(moved))
    assert np.abs(moved.astype(int) - big.astype(int)).mean() < 10  # nearly the same 28x28 digit


def test_aspect_ratio_is_kept() -> None:
    drawing = np.zeros((100, 100), dtype=np.uint8)
    drawing[10:90, 40:60] = 255  # 80 x 20 bar
    steps = preprocess_digit(drawing)
    assert steps.box == (10, 40, 90, 60)
    assert _ink_extent(steps.image) == (20, 5)
    assert _ink_extent(steps.fitted) == (20, 5)


def test_small_drawing_is_scaled_up() -> None:
    drawing = np.zeros((50, 50), dtype=np.float32)
    drawing[20:28, 20:24] = 1.0  # 8 x 4 pixels of 50: 4.5 x 2.2 at 28x28, just large enough
    assert _ink_extent(preprocess_digit(drawing).image) == (20, 10)


@pytest.mark.parametrize("height,width", [(39, 39), (1, 39), (39, 1)])
def test_a_dot_or_tiny_scribble_is_too_small_to_read(height: int, width: int) -> None:
    drawing = np.zeros((280, 280), dtype=np.uint8)
    drawing[100:100 + height, 100:100 + width] = 255  # under 4 pixels at 28x28 in both directions
    with pytest.raises(DrawingTooSmallError, match=r"写得太小，认不出来.*两个方向都不到 4.*请把数字写大一点"):
        preprocess_digit(drawing)
    with pytest.raises(DrawingTooSmallError, match="写得太小"):
        preprocess_digit(rasterize_strokes([[(140, 140)]]))  # one click of the pen


@pytest.mark.parametrize("height,width", [(40, 1), (1, 40), (40, 40)])
def test_ink_four_pixels_long_at_28x28_is_read(height: int, width: int) -> None:
    drawing = np.zeros((280, 280), dtype=np.uint8)
    drawing[100:100 + height, 100:100 + width] = 255  # a short "1" or "-": 4 pixels at 28x28
    assert max(_ink_extent(preprocess_digit(drawing).image)) == 20


@settings(max_examples=40, deadline=None)
@given(
    points=st.lists(st.tuples(st.integers(0, 279), st.integers(0, 279)), min_size=1, max_size=8),
    width=st.integers(4, 30),
)
def test_any_stroke_fits_and_centre_of_mass_is_within_half_a_pixel(points: list, width: int) -> None:
    drawing = rasterize_strokes([points], line_width=width)
    if max(_ink_extent(drawing)) < 40:  # under 4 pixels at 28x28 both ways
        with pytest.raises(DrawingTooSmallError):
            preprocess_digit(drawing)
        return
    image = preprocess_digit(drawing).image
    assert max(_ink_extent(image)) <= 20
    rows, cols = np.nonzero(image)
    for c, lo, hi in zip(_com(image), (rows.min(), cols.min()), (rows.max(), cols.max())):
        # centred to half a pixel, unless the digit was stopped at the edge of the field to keep its ink
        assert abs(c - CENTRE) <= 0.5 + 1e-9 or lo == 0 or hi == 27


def test_lopsided_digit_keeps_all_its_ink() -> None:
    drawing = np.zeros((200, 200), dtype=np.uint8)
    drawing[0:200, 0:20] = 255  # a thick bar on the left ...
    drawing[95:105, 20:200] = 40  # ... and a faint long arm: the mass sits far left of the box centre
    steps = preprocess_digit(drawing)
    assert int(steps.image.sum()) == int(steps.fitted.sum())  # nothing pushed out of the field
    assert np.nonzero(steps.image)[1].max() == 27


def test_empty_drawing_gives_a_clear_message() -> None:
    with pytest.raises(EmptyDrawingError, match="画面是空的.*请在深色背景上用浅色笔画写一个数字"):
        preprocess_digit(np.zeros((280, 280), dtype=np.uint8))
    with pytest.raises(EmptyDrawingError, match="画面是空的"):
        preprocess_digit(rasterize_strokes([]))


def test_too_faint_to_survive_scaling_is_reported_as_empty() -> None:
    drawing = np.zeros((2000, 2000), dtype=np.float32)
    drawing[0, :] = drawing[:, 0] = 0.1  # one-pixel faint lines shrunk 100 times
    with pytest.raises(EmptyDrawingError, match="笔画太淡或太细"):
        preprocess_digit(drawing)


@pytest.mark.parametrize(
    "drawing,needle",
    [
        ([[0, 255], [0, 0]], "drawing 必须是二维的 numpy 数组或 torch 张量.*传入的是 list"),
        (np.zeros((4, 4, 3), dtype=np.uint8), r"必须是一张二维灰度图像.*\(4, 4, 3\)"),
        (np.zeros((0, 5), dtype=np.uint8), r"必须是一张二维灰度图像.*\(0, 5\)"),
        (np.full((4, 4), np.nan), "NaN"),
        (np.full((4, 4), 200.0), "里的浮点数从 200 到 200.*把 0..255 的值除以 255"),
        (np.full((4, 4), -1), "里的整数从 -1 到 -1"),
        (np.zeros((4, 4), dtype=bool), "传入的 dtype 是 bool"),
        (np.full((10, 10), 255, dtype=np.uint8), "看起来是浅色背景上的深色笔画.*255 - drawing"),
    ],
)
def test_bad_drawings_are_rejected_with_clear_messages(drawing, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        preprocess_digit(drawing)


def test_torch_tensor_and_int_array_are_accepted() -> None:
    drawing = rasterize_strokes(SAMPLE_STROKES)
    expected = preprocess_digit(drawing).image
    assert np.array_equal(preprocess_digit(torch.from_numpy(drawing)).image, expected)
    assert np.array_equal(preprocess_digit(drawing.astype(np.int64)).image, expected)


# ---------------------------------------------------------------- rasterize_strokes


def test_dot_and_line_have_the_pen_width() -> None:
    dot = rasterize_strokes([[(50, 50)]], size=100, line_width=20)
    assert _ink_extent(dot) in {(20, 20), (21, 21)} and dot[50, 50] == 255
    line = rasterize_strokes([[(20, 50), (80, 50)]], size=100, line_width=10)
    assert set(np.unique(line)) == {0, 255}
    assert line[50, 20:81].all() and line[44:57, 50].sum() // 255 in {10, 11}


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        (dict(strokes="abc"), "strokes 必须是由笔画组成的列表"),
        (dict(strokes=[[(1, 2, 3)]]), r"第 0 笔（stroke 0）必须是由 \(x, y\) 数对组成的列表"),
        (dict(strokes=[[(1, float("nan"))]]), "第 0 笔（stroke 0）里有 NaN"),
        (dict(strokes=[], size=4), "size 必须是从 8 到 4096 的整数"),
        (dict(strokes=[], line_width=0), "line_width 必须是从 1 到 size=280 的数"),
    ],
)
def test_rasterize_strokes_rejects_bad_arguments(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        rasterize_strokes(**kwargs)


# ---------------------------------------------------------------- predict_digit


def test_prediction_probabilities_sum_to_one_and_maps_are_c1() -> None:
    model = TinyNet().train()
    before = [p.detach().clone() for p in model.parameters()]
    image = preprocess_digit(rasterize_strokes(SAMPLE_STROKES)).image
    p = predict_digit(model, image)
    assert isinstance(p, DigitPrediction)
    assert p.probabilities.shape == (10,) and (p.probabilities >= 0).all()
    assert p.probabilities.sum() == pytest.approx(1.0, abs=1e-9)
    assert p.label == int(p.probabilities.argmax()) and p.name == str(p.label)
    assert p.confidence == pytest.approx(p.probabilities.max())
    expected_maps = model.net[0](model.seen)[0].detach().numpy()
    np.testing.assert_allclose(p.feature_maps, expected_maps, rtol=1e-5, atol=1e-6)
    assert model.training  # mode restored
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_default_normalisation_is_mnist_and_loader_transform_is_used() -> None:
    image = preprocess_digit(rasterize_strokes(SAMPLE_STROKES)).image
    model = TinyNet()
    predict_digit(model, image)
    mnist = DATASETS["MNIST"]
    expected = (torch.from_numpy(image).float() / 255 - mnist.mean) / mnist.std
    torch.testing.assert_close(model.seen[0, 0], expected)
    fashion = TensorLoader(torch.zeros(1, 28, 28, dtype=torch.uint8), torch.zeros(1, dtype=torch.long),
                           batch_size=1, shuffle=False, info=DATASETS["FashionMNIST"])
    p = predict_digit(model, image, fashion)
    torch.testing.assert_close(model.seen, fashion.transform(torch.from_numpy(image)[None]))
    assert p.classes[0] == "T-shirt/top"


def test_float_image_gives_the_same_prediction_as_uint8() -> None:
    image = preprocess_digit(rasterize_strokes(SAMPLE_STROKES)).image
    model = TinyNet()
    a, b = predict_digit(model, image), predict_digit(model, image.astype(np.float32) / 255)
    np.testing.assert_allclose(a.probabilities, b.probabilities)


class _WrongOutput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


@pytest.mark.parametrize(
    "model,image,data_iter,needle",
    [
        ("lenet", np.zeros((28, 28)), None, "model 必须是 torch.nn.Module"),
        (nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), np.zeros((28, 28)), None, "model 没有 nn.Conv2d 层"),
        (TinyNet(), np.zeros((280, 280)), None, r"的形状必须是 \(28, 28\).*preprocess_digit"),
        (TinyNet(), np.zeros((28, 28)), [1, 2], "data_iter 必须是 cnn_course.load_data 返回的迭代器"),
        (_WrongOutput(), np.zeros((28, 28)), None, r"形状为 \(1, 10\) 的分数，它返回的是 \(1, 2, 26, 26\)"),
    ],
)
def test_predict_digit_rejects_bad_arguments(model, image, data_iter, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        predict_digit(model, image, data_iter)


def _sized_net(size: int, channels: int = 1) -> nn.Module:
    """A CNN whose Linear layer fixes its input size, as AlexNet's does."""
    return nn.Sequential(nn.Conv2d(channels, 2, 3, stride=2, padding=1), nn.Flatten(),
                         nn.Linear(2 * (size // 2) ** 2, 10))


def test_model_built_for_another_size_names_it_and_the_remedy() -> None:
    image = preprocess_digit(rasterize_strokes(SAMPLE_STROKES)).image
    with pytest.raises(ValueError, match=r"model 接收不了 1x28x28 的手写图像.*它运行在 64x64 的图像上.*"
                                         r"resize=64.*LeNet"):
        predict_digit(_sized_net(64), image)
    mnist64 = TensorLoader(torch.zeros(1, 28, 28, dtype=torch.uint8), torch.zeros(1, dtype=torch.long),
                           batch_size=1, shuffle=False, info="MNIST", resize=64)
    assert predict_digit(_sized_net(64), image, mnist64).probabilities.shape == (10,)  # the remedy works


def test_model_for_colour_images_is_refused_before_running() -> None:
    image = preprocess_digit(rasterize_strokes(SAMPLE_STROKES)).image
    with pytest.raises(ValueError, match=r"model 接收 3 通道的图像（它的第一个卷积层 0 的 "
                                         r"in_channels=3）.*单通道 28x28 数字"):
        predict_digit(_sized_net(28, channels=3), image)


def test_other_model_errors_are_not_blamed_on_the_size() -> None:
    model = TinyNet()
    model.fail = True
    with pytest.raises(RuntimeError, match="the model broke"):
        predict_digit(model, np.zeros((28, 28)))


# ---------------------------------------------------------------- pictures


def test_steps_plot_returns_a_figure_and_checks_its_argument() -> None:
    steps = preprocess_digit(rasterize_strokes(SAMPLE_STROKES))
    fig = plot_digit_steps(steps)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert fig.axes[0].get_title().startswith("drawing 280x280")
    with pytest.raises(ValueError, match="steps 必须是 preprocess_digit 返回的 DigitSteps"):
        plot_digit_steps(steps.image)


# ---------------------------------------------------------------- the widget


class _FakeHandle:
    def __init__(self) -> None:
        self.shown: list = []

    def update(self, obj, raw: bool = False) -> None:
        self.shown.append(obj)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _mouse(pad: DigitPad, event: str, x: float = 0, y: float = 0) -> None:
    """Send the pad a mouse event the way the browser does (the top layer receives them)."""
    pad.canvas[-1]._handle_frontend_event(None, {"event": event, "x": x, "y": y}, [])


def test_pad_starts_with_the_sample_and_its_prediction() -> None:
    pad = DigitPad(TinyNet())
    assert len(pad.strokes) == 1 and pad.prediction is not None
    assert "模型的预测" in pad.status.value and pad.png.startswith(b"\x89PNG")
    picture = np.asarray(PIL.Image.open(io.BytesIO(pad.png)))
    assert picture.shape[2] == 3 and (picture == (214, 39, 40)).all(axis=2).any()  # the red bar of the winner
    assert "模型的预测" in repr(pad)
    assert np.array_equal(pad.steps.image, preprocess_digit(rasterize_strokes(SAMPLE_STROKES)).image)


def test_drawing_with_the_mouse_updates_now_and_then_and_on_release() -> None:
    clock = _Clock()
    pad = DigitPad(TinyNet(), sample=False, interval=0.5, clock=clock)
    handle = pad.output.handle = _FakeHandle()
    assert pad.prediction is None and "空" in pad.status.value
    _mouse(pad, "mouse_move", 10, 10)  # pen up: ignored
    assert pad.strokes == []
    _mouse(pad, "mouse_down", 100, 40)
    _mouse(pad, "mouse_move", 100, 120)
    assert handle.shown == []  # too soon after the last update: not redrawn yet
    clock.now = 1.0
    _mouse(pad, "mouse_move", 100, 200)
    assert len(handle.shown) == 1 and pad.prediction is not None
    _mouse(pad, "mouse_move", 110, 230)
    assert len(handle.shown) == 1
    _mouse(pad, "mouse_up", 110, 230)
    assert len(handle.shown) == 2 and handle.shown[-1].format == "png"
    assert pad.strokes == [[(100.0, 40.0), (100.0, 120.0), (100.0, 200.0), (110.0, 230.0)]]
    assert np.array_equal(pad.steps.image, preprocess_digit(rasterize_strokes(pad.strokes)).image)


def test_strokes_from_code_and_the_clear_button() -> None:
    pad = DigitPad(TinyNet(), sample=False)
    pad.stroke([(140, 40), (140, 240)])
    assert pad.prediction is not None and pad.drawing()[140, 140] == 255
    pad.clear_button.click()
    assert pad.strokes == [] and pad.prediction is None and "空" in pad.status.value


def test_errors_in_callbacks_show_in_the_status_line() -> None:
    model = TinyNet()
    pad = DigitPad(model)
    model.fail = True
    _mouse(pad, "mouse_down", 50, 50)
    _mouse(pad, "mouse_up", 50, 50)  # would raise inside the callback
    assert "出错了" in pad.status.value and "the model broke" in pad.status.value


def test_pad_says_a_dot_is_too_small_and_refuses_a_model_of_another_size() -> None:
    pad = DigitPad(TinyNet(), sample=False)
    pad.stroke([(140, 140)])
    assert pad.prediction is None and "太小" in pad.status.value
    pad.stroke([(140, 40), (140, 240)])
    assert pad.prediction is not None
    with pytest.raises(ValueError, match="它运行在 64x64 的图像上"):
        digit_pad(_sized_net(64))
    pad = DigitPad(_sized_net(64), sample=False)  # while drawing: the message shows in the status line
    _mouse(pad, "mouse_down", 140, 40)
    _mouse(pad, "mouse_move", 140, 240)
    _mouse(pad, "mouse_up", 140, 240)
    assert "出错了" in pad.status.value and "resize=64" in pad.status.value


def test_pad_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="model 必须是 torch.nn.Module"):
        DigitPad("lenet")
    with pytest.raises(ValueError, match="interval 必须是 0 到 10 之间的秒数"):
        DigitPad(TinyNet(), interval=-1)
    with pytest.raises(ValueError, match="line_width 必须是从 1 到"):
        DigitPad(TinyNet(), line_width=0)


def test_pad_without_ipycanvas_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ipycanvas", None)
    with pytest.raises(ImportError, match="画板需要 ipycanvas 包：请运行  pip install ipycanvas"):
        DigitPad(TinyNet())


def test_digit_pad_displays_without_a_frontend(capsys: pytest.CaptureFixture) -> None:
    pad = digit_pad(TinyNet())
    assert isinstance(pad, DigitPad)
    assert "写一个数字" in capsys.readouterr().out  # the controls' plain-text form
