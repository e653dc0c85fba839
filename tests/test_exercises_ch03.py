"""Tests for the chapter 03 exercises (LeNet-5): the answers agree with torch, and typical mistakes get their hint."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cnn_course import conv_output_size, pool_output_size
from cnn_course.exercises import _get, check, exercise, solution

KEYS = ["03-1", "03-2", "03-3", "03-4", "03-5"]


def lenet(padding: int = 2) -> nn.Sequential:
    """LeNet-5 as in the chapter (C1 padding adjustable)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=padding), nn.Tanh(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Tanh(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(16, 120, kernel_size=5), nn.Tanh(),
        nn.Flatten(),
        nn.Linear(120, 84), nn.Tanh(),
        nn.Linear(84, 10),
    )


@pytest.mark.parametrize("key", KEYS)
def test_each_exercise_accepts_its_answer_and_has_hints(key: str) -> None:
    item = _get(key)
    assert check(key, item.answer).correct
    blank = check(key, ...)
    assert not blank.correct and "还没有作答" in blank.message
    assert exercise(key) == item.question and repr(item.answer) in solution(key)
    assert len(item.hints) >= 3
    for wrong, hint in item.hints:
        feedback = check(key, wrong)
        assert not feedback.correct and hint in feedback.message, (key, wrong)


def test_answers_agree_with_torch() -> None:
    net = lenet()
    X = torch.zeros(1, 1, 28, 28)
    s2 = net[:3](X)
    assert tuple(s2.shape[1:]) == (6, 14, 14)
    assert tuple(net[3](s2).shape[1:]) == _get("03-1").answer
    assert sum(p.numel() for p in net[0].parameters()) == _get("03-2").answer
    assert sum(p.numel() for p in net[6].parameters()) == _get("03-3").answer
    assert sum(p.numel() for p in net.parameters()) == 61_706


def test_padding_exercise_agrees_with_torch_and_the_formulas() -> None:
    no_pad = lenet(padding=0)
    s4 = no_pad[:6](torch.zeros(1, 1, 28, 28))
    assert s4.shape[-1] == _get("03-4").answer
    with pytest.raises(RuntimeError):  # C5's 5x5 kernel does not fit a 4x4 input
        no_pad(torch.zeros(1, 1, 28, 28))
    size = 28
    for layer in ("conv", "pool", "conv", "pool"):
        size = conv_output_size(size, 5) if layer == "conv" else pool_output_size(size, 2)
    assert size == _get("03-4").answer
    assert conv_output_size(32, 5) == conv_output_size(28, 5, padding=2) == 28  # the original 32x32 input


def test_step_count_matches_a_data_loader() -> None:
    images, batch_size, epochs = 60_000, 256, 5
    assert math.ceil(images / batch_size) * epochs == _get("03-5").answer
    loader = torch.utils.data.DataLoader(range(images), batch_size=batch_size)
    assert len(loader) * epochs == _get("03-5").answer


def test_tuple_answers_accept_lists_and_torch_sizes() -> None:
    assert check("03-1", [16, 10, 10]).correct
    assert check("03-1", torch.Size([16, 10, 10])).correct
    assert not check("03-1", (1, 16, 10, 10)).correct
    assert not check("03-2", "156 个").correct
