"""Tests for the chapter 01-02 exercises: the answers agree with torch, and typical mistakes get their hint."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnn_course.exercises import _get, check, exercise, solution

KEYS = ["01-1", "01-2", "01-3", "01-4", "01-5", "02-1", "02-2", "02-3", "02-4", "02-5"]


@pytest.mark.parametrize("key", KEYS)
def test_each_exercise_accepts_its_answer_and_has_hints(key: str) -> None:
    item = _get(key)
    assert check(key, item.answer).correct
    assert not check(key, ...).correct and "还没有作答" in check(key, ...).message
    assert exercise(key) == item.question and str(item.answer) in solution(key).replace("(", "(")
    assert len(item.hints) >= 2
    for wrong, hint in item.hints:
        feedback = check(key, wrong)
        assert not feedback.correct and hint in feedback.message


def test_answers_agree_with_torch() -> None:
    assert nn.Conv2d(1, 6, 5, stride=2)(torch.zeros(1, 1, 28, 28)).shape[-1] == _get("01-1").answer
    assert tuple(nn.Conv2d(3, 16, 3, padding=1)(torch.zeros(1, 3, 32, 32)).shape[1:]) == _get("01-2").answer
    assert sum(p.numel() for p in nn.Conv2d(3, 16, 5).parameters()) == _get("01-3").answer
    X = torch.tensor([[1, 2, 3, 0], [0, 1, 2, 3], [3, 0, 1, 2], [2, 3, 0, 1]], dtype=torch.float32)
    K = torch.tensor([[2, 0, 1], [0, 1, 2], [1, 0, 2]], dtype=torch.float32)
    assert F.conv2d(X[None, None], K[None, None], torch.tensor([3.0]))[0, 0, 0, 1] == _get("01-4").answer
    assert tuple(nn.MaxPool2d(3, 2)(torch.zeros(1, 6, 28, 28)).shape[1:]) == _get("02-1").answer
    assert sum(p.numel() for p in nn.MaxPool2d(2).parameters()) == _get("02-2").answer
    assert check("02-3", nn.AvgPool2d(2)(X[None, None])[0, 0]).correct
    assert nn.MaxPool2d(3).stride == _get("02-4").answer
    assert nn.MaxPool2d(2, ceil_mode=True)(torch.zeros(1, 1, 7, 7)).shape[-1] == _get("02-5").answer


def test_tuple_answers_accept_lists_and_torch_sizes() -> None:
    assert check("01-2", [16, 32, 32]).correct
    assert check("01-2", torch.Size([16, 32, 32])).correct
    assert not check("01-2", (1, 16, 32, 32)).correct
