"""Tests for the chapter 05 exercises: the answers agree with torch, and typical mistakes get their hint."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from cnn_course.exercises import _get, check


def n_params(*layers: nn.Module) -> int:
    return sum(p.numel() for layer in layers for p in layer.parameters())


def test_inception_output_shape_agrees_with_torch() -> None:
    X = torch.zeros(1, 20, 4, 4)
    branches = [
        nn.Conv2d(20, 16, 1),
        nn.Sequential(nn.Conv2d(20, 16, 1), nn.Conv2d(16, 24, 3, padding=1), nn.Conv2d(24, 24, 3, padding=1)),
        nn.Sequential(nn.Conv2d(20, 16, 1), nn.Conv2d(16, 24, 5, padding=2)),
        nn.Conv2d(20, 24, 1),
    ]
    out = torch.cat([b(X) for b in branches], dim=1)
    assert tuple(out.shape[1:]) == _get("05-1").answer
    assert check("05-1", out.shape[1:]).correct


def test_parameter_and_cost_answers_agree_with_torch() -> None:
    assert n_params(nn.Conv2d(10, 16, 1), nn.Conv2d(16, 24, 5, padding=2)) == _get("05-2").answer
    assert n_params(nn.Conv2d(10, 24, 5, padding=2)) == 6024  # the hint's "direct" figure
    conv = nn.Conv2d(88, 16, 1, bias=False)
    out = conv(torch.zeros(1, 88, 12, 12))
    assert out.numel() * conv.in_channels * math.prod(conv.kernel_size) == _get("05-3").answer


def test_constant_output_loss_is_ln10() -> None:
    y = torch.arange(10).repeat(5)
    loss = F.cross_entropy(torch.zeros(len(y), 10), y)
    assert check("05-4", float(loss)).correct
    assert check("05-4", 2.303).correct and check("05-4", round(math.log(10), 3)).correct
    assert "自然对数" in check("05-4", 1.0).message
