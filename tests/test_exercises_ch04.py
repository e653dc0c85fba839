"""Tests for the chapter 04 exercises: the answers agree with torch, and typical mistakes get their hint."""

from __future__ import annotations

import torch
from torch import nn

from cnn_course.exercises import _get, check


def alexnet_features() -> nn.Sequential:
    """The convolution and pooling part of the chapter's AlexNet (1 input channel)."""
    return nn.Sequential(
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
    )


def test_answers_agree_with_torch() -> None:
    conv1 = nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1)
    assert conv1(torch.zeros(1, 1, 224, 224)).shape[-1] == _get("04-1").answer
    with torch.no_grad():
        features = alexnet_features().eval()
        assert features(torch.zeros(1, 1, 224, 224)).shape[-1] == 6400
        assert features(torch.zeros(1, 1, 227, 227)).shape[-1] == _get("04-2").answer
    assert sum(p.numel() for p in nn.Linear(6400, 4096).parameters()) == _get("04-3").answer


def test_dropout_answers_agree_with_torch() -> None:
    drop = nn.Dropout(p=0.2)
    x = torch.full((10_000,), 3.0)
    torch.manual_seed(0)
    kept = drop.train()(x)
    survivors = kept[kept != 0]
    assert 0 < len(survivors) < len(x)
    assert torch.allclose(survivors, torch.tensor(_get("04-4").answer))
    assert torch.equal(drop.eval()(x), torch.full_like(x, _get("04-5").answer))


def test_typical_dropout_mistakes_get_their_hint() -> None:
    assert "1 / (1 - p)" in check("04-4", 3.0).message
    assert "训练模式" in check("04-5", 3.75).message
    assert check("04-5", 3).correct  # an int is as good as a float
