"""Tests for the chapter 06 exercises: the answers agree with torch, and typical mistakes get their hint."""

from __future__ import annotations

import torch
from torch import nn

from cnn_course.exercises import _get, check


class ResidualBlock(nn.Module):
    """The chapter's residual block: relu(x + conv(relu(conv(x))))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.net(x))


def test_residual_derivative_agrees_with_autograd() -> None:
    x1 = torch.tensor(1.0, requires_grad=True)  # F(x) = 0.05 x^2: dF/dx = 0.1 at x = 1
    y1 = 0.05 * x1**2 + x1
    (grad,) = torch.autograd.grad(y1, x1)
    assert check("06-1", float(grad)).correct


def test_vanishing_product() -> None:
    x = torch.tensor(1.0, requires_grad=True)
    h = x
    for _ in range(10):
        h = 0.5 * h
    (grad,) = torch.autograd.grad(h, x)
    assert check("06-2", float(grad)).correct
    assert check("06-2", 0.001).correct  # "about 1/1000" is accepted
    assert not check("06-2", 0.5**9).correct


def test_block_answers_agree_with_torch() -> None:
    assert sum(p.numel() for p in ResidualBlock(32).parameters()) == _get("06-3").answer
    out = ResidualBlock(16)(torch.zeros(1, 16, 12, 12))
    assert check("06-4", out.shape[1:]).correct
