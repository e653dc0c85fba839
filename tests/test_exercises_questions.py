"""Tests for the exercises that ask for a number: each accepts its answer and names its typical mistakes, the
answers agree with what torch computes, and the feedback mechanism treats numbers, tuples and blanks right."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnn_course import conv_output_size, pool_output_size
from cnn_course.exercises import Exercise, check, exercise, exercises, solution
from cnn_course.models import AlexNet, Inception, LeNet, ResidualBlock

QUESTIONS = [key for key, item in exercises().items() if isinstance(item, Exercise)]


def answer(key: str):
    return exercises()[key].answer


def n_params(*layers: nn.Module) -> int:
    return sum(p.numel() for layer in layers for p in layer.parameters())


# --- every question ---------------------------------------------------------------------------------------
# (How many questions each chapter asks is a chapter rule, checked by cnn_course.chapters.validate.)


@pytest.mark.parametrize("key", QUESTIONS)
def test_each_question_accepts_its_answer_and_names_its_typical_mistakes(key: str) -> None:
    item = exercises()[key]
    assert exercise(key) == item.question and repr(item.answer) in solution(key) and item.solution in solution(key)
    assert check(key, item.answer)
    assert not check(key, ...) and "还没有作答" in check(key, ...).message
    assert len(item.hints) >= 3
    for wrong, hint in item.hints:
        feedback = check(key, wrong)
        assert not feedback and hint in feedback.message, (key, wrong)
    other = check(key, 123456789)
    assert not other and item.default_hint in other.message


def test_feedback_for_numbers_tuples_strings_and_blanks() -> None:
    count = Exercise(key="t-1", question="conv_output_size(7, 3, stride=2)?", answer=3, solution="floor((7-3)/2)+1",
                     hints=((2.0, "forgot the +1"),))
    shape = Exercise(key="t-2", question="shape?", answer=(6, 14, 14), solution="...")
    ratio = Exercise(key="t-3", question="ratio?", answer=0.25, solution="...", tolerance=1e-2)
    assert count.check(3) and count.check(3.0) and not count.check(3.2)
    assert "forgot the +1" in str(count.check(2)) and "提示" in str(count.check(5))
    assert shape.check((6, 14, 14)) and shape.check([6, 14, 14]) and shape.check(torch.Size([6, 14, 14]))
    assert not shape.check((1, 6, 14, 14)) and not shape.check("6, 14, 14") and not count.check("3 个")
    assert ratio.check(0.2501) and not ratio.check(0.26)
    assert "还没有作答" in str(count.check(None))


def test_an_unknown_key_is_an_error_listing_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"没有练习 'nope'。已有的练习:01-1, 01-2"):
        check("nope", 1)


# --- the answers agree with torch -------------------------------------------------------------------------

X = torch.tensor([[1, 2, 3, 0], [0, 1, 2, 3], [3, 0, 1, 2], [2, 3, 0, 1]], dtype=torch.float32)


def test_chapter_01_answers() -> None:
    K = torch.tensor([[2, 0, 1], [0, 1, 2], [1, 0, 2]], dtype=torch.float32)
    Y = F.conv2d(X[None, None], K[None, None])[0, 0]  # no bias: [[15, 16], [6, 15]]
    flipped = F.conv2d(X[None, None], K.flip(0, 1)[None, None])[0, 0]
    # 01-1's hints name the slip that gives each wrong number
    assert (Y[0, 1], Y[0, 0], Y[1, 1], Y[0, 0] + 3, Y[1, 0] + 3, Y[1, 0], flipped[0, 1]) == (16, 15, 15, 18, 9, 6, 12)
    assert "右上角" in check("01-1", 15).message and "翻转" in check("01-1", 12).message
    assert F.conv2d(X[None, None], K[None, None], torch.tensor([3.0]))[0, 0, 0, 1] == answer("01-1")
    assert F.conv2d(torch.zeros(1, 1, 9, 9), torch.zeros(1, 1, 3, 3), dilation=2).shape[-1] == 9 - answer("01-2") + 1
    assert nn.Conv2d(1, 6, 5, stride=2)(torch.zeros(1, 1, 28, 28)).shape[-1] == answer("01-3")
    assert check("01-4", nn.Conv2d(3, 16, 3, padding=1)(torch.zeros(1, 3, 32, 32)).shape[1:])
    assert n_params(nn.Conv2d(3, 16, 5)) == answer("01-5")
    # 01-6: a single pixel and a kernel whose largest weight puts the maximum of Y at (0, 1); then shift the input
    image = torch.zeros(8, 8)
    image[2, 3] = 1.0
    kernel = torch.arange(9.0).reshape(1, 1, 3, 3)
    for (dy, dx), where in (((0, 0), (0, 1)), ((1, 2), answer("01-6"))):
        out = F.conv2d(torch.roll(image, (dy, dx), dims=(0, 1))[None, None], kernel)[0, 0]
        assert divmod(int(out.argmax()), out.shape[1]) == where


def test_chapter_02_answers() -> None:
    assert check("02-1", nn.AvgPool2d(2)(X[None, None])[0, 0])
    assert check("02-2", nn.MaxPool2d(3, 2)(torch.zeros(1, 6, 28, 28)).shape[1:])
    assert n_params(nn.MaxPool2d(2)) == answer("02-3")
    assert nn.MaxPool2d(3).stride == answer("02-4")
    assert nn.MaxPool2d(2, ceil_mode=True)(torch.zeros(1, 1, 7, 7)).shape[-1] == answer("02-5")
    image = torch.zeros(1, 1, 4, 4)
    image[0, 0, 0, 0] = 9
    assert check("02-6", nn.MaxPool2d(2)(torch.roll(image, 1, dims=3))[0, 0])
    assert nn.MaxPool2d(2)(torch.roll(image, 2, dims=3))[0, 0].tolist() == [[0, 9], [0, 0]]  # as the solution says


def test_chapter_03_answers() -> None:
    net = LeNet().net
    assert check("03-1", net[3](net[:3](torch.zeros(1, 1, 28, 28))).shape[1:])
    assert n_params(net[0]) == answer("03-2") and n_params(net[6]) == answer("03-3")
    net[0] = nn.Conv2d(1, 6, kernel_size=5)  # C1 without padding: S4 is 4 x 4, too small for C5
    assert net[:6](torch.zeros(1, 1, 28, 28)).shape[-1] == answer("03-4")
    with pytest.raises(RuntimeError):
        net(torch.zeros(1, 1, 28, 28))
    size = 28
    for layer in ("conv", "pool", "conv", "pool"):
        size = conv_output_size(size, 5) if layer == "conv" else pool_output_size(size, 2)
    assert size == answer("03-4")
    loader = torch.utils.data.DataLoader(range(60_000), batch_size=256)
    assert len(loader) * 5 == answer("03-5")
    assert check("03-6", " b ") and "测试集" in check("03-6", "A").message
    shared = check("03-2", 6 * 28 * 28).message  # one weight per output position: no weight sharing
    assert "权重共享" in shared and "权值共享" not in shared  # the glossary's term


def test_chapter_04_answers() -> None:
    assert nn.Conv2d(1, 96, 11, stride=4, padding=1)(torch.zeros(1, 1, 224, 224)).shape[-1] == answer("04-1")
    first_dense = next(m for m in AlexNet(image_size=227).net if isinstance(m, nn.Linear))
    assert first_dense.in_features == answer("04-2")
    assert n_params(nn.Linear(6400, 4096)) == answer("04-3")
    torch.manual_seed(0)
    kept = nn.Dropout(p=0.2).train()(torch.full((10_000,), 3.0))
    assert torch.allclose(kept[kept != 0], torch.tensor(answer("04-4")))
    assert torch.equal(nn.Dropout(p=0.2).eval()(torch.full((5,), 3.0)), torch.full((5,), answer("04-5")))
    assert check("04-5", 3)  # an int is as good as a float
    weight = torch.tensor(1.0, dtype=torch.bfloat16)
    assert (weight + 0.001).item() == answer("04-9") and not check("04-9", 1.001)
    assert (torch.tensor(1.0, dtype=torch.float16) + 0.001).item() == 1.0009765625  # the fp16 hint's number
    assert torch.tensor(1.0 + 2**-7, dtype=torch.bfloat16).item() == 1.0078125


def test_chapter_05_answers() -> None:
    assert check("05-1", Inception(20)(torch.zeros(1, 20, 4, 4)).shape[1:])
    assert n_params(*Inception(10).branch3) == answer("05-2")
    conv = nn.Conv2d(88, 16, 1, bias=False)
    assert conv(torch.zeros(1, 88, 12, 12)).numel() * 88 == answer("05-3")
    flops, with_bias, as_3x3 = 2 * answer("05-3"), answer("05-3") + 16 * 12 * 12, answer("05-3") * 9
    assert "分开数" in check("05-3", flops).message and "偏置" in check("05-3", with_bias).message
    assert "88·3·3" in check("05-3", as_3x3).message
    y = torch.arange(10).repeat(5)
    assert check("05-4", float(F.cross_entropy(torch.zeros(len(y), 10), y)))
    assert check("05-4", 2.303) and "自然对数" in check("05-4", 1.0).message
    from cnn_course.models import PaperInception  # the paper's block (chapter 5.6)

    gap_head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 10))
    assert gap_head(torch.zeros(2, 256, 5, 5)).shape == (2, 10) and n_params(gap_head) == answer("05-5")
    assert n_params(PaperInception(20).branch4) == answer("05-6")
    # receptive fields: which input pixels change the output at the centre when they alone are set
    def seen_side(branch: nn.Module) -> int:
        with torch.no_grad():
            base = branch(torch.zeros(1, 1, 11, 11))[0, :, 5, 5]
            seen = torch.zeros(11, 11, dtype=torch.bool)
            for i in range(11):
                for j in range(11):
                    x = torch.zeros(1, 1, 11, 11)
                    x[0, 0, i, j] = 1.0
                    seen[i, j] = not torch.allclose(branch(x)[0, :, 5, 5], base)
        rows, cols = seen.nonzero(as_tuple=True)
        assert int(rows.max() - rows.min()) == int(cols.max() - cols.min())
        return int(rows.max() - rows.min()) + 1

    torch.manual_seed(0)
    paper_branch4 = PaperInception(1).branch4
    nn.init.constant_(paper_branch4[1].weight, 1.0)  # a positive 1x1 projection: the ReLU passes what pooling saw
    assert (seen_side(Inception(1).branch2), seen_side(paper_branch4)) == answer("05-7")


def test_chapter_06_answers() -> None:
    x = torch.tensor(1.0, requires_grad=True)  # F(x) = 0.05 x^2 has dF/dx = 0.1 at x = 1
    (grad,) = torch.autograd.grad(0.05 * x**2 + x, x)
    assert check("06-1", float(grad))
    (grad,) = torch.autograd.grad(0.5**10 * x, x)
    assert check("06-2", float(grad)) and check("06-2", 0.001) and not check("06-2", 0.5**9)
    assert n_params(ResidualBlock(32)) == answer("06-3")
    assert check("06-4", ResidualBlock(16)(torch.zeros(1, 16, 12, 12)).shape[1:])
    x = torch.zeros(1, 16, 12, 12)
    assert "拼接" in check("06-4", torch.cat([x, x], dim=1).shape[1:]).message
    bn = nn.BatchNorm2d(1).eval()
    with torch.no_grad():
        bn.running_mean.fill_(2.0)
        bn.running_var.fill_(4.0)
        bn.weight.fill_(1.5)
        bn.bias.fill_(0.5)
        assert check("06-5", float(bn(torch.full((1, 1, 1, 1), 6.0))))
    assert math.isclose(answer("06-2"), 1 / 1024)


def test_chapter_07_answers() -> None:
    assert check("07-5", "c") and "合理" in check("07-5", "B").message
    depthwise, pointwise = nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False), nn.Conv2d(32, 64, 1, bias=False)
    assert check("07-1", n_params(depthwise, pointwise))
