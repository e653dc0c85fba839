"""Tests for chapter 4's VGG: the block keeps size through its convolutions and halves it by pooling, and the
stacked 3x3 convolutions see what one large kernel sees with fewer parameters and multiply-adds."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnn_course import layer_shapes, receptive_fields
from cnn_course.models import VGG, VGGBlock, count_macs


@pytest.mark.parametrize(("num_convs", "size", "out"), [(1, 8, 4), (2, 9, 4), (3, 28, 14), (2, 7, 3)])
def test_vgg_block_halves_height_and_width_rounding_down(num_convs: int, size: int, out: int) -> None:
    block = VGGBlock(num_convs, 3, 5)
    assert block(torch.zeros(2, 3, size, size + 1)).shape == (2, 5, out, (size + 1) // 2)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in convs] == (
        [(3, 5, (3, 3), (1, 1))] + [(5, 5, (3, 3), (1, 1))] * (num_convs - 1))
    assert sum(isinstance(m, nn.ReLU) for m in block.modules()) == num_convs
    assert isinstance(list(block.net)[-1], nn.MaxPool2d)


def test_vgg_block_has_a_relu_after_every_convolution() -> None:
    block = VGGBlock(2, 1, 1)
    with torch.no_grad():
        for conv in (m for m in block.modules() if isinstance(m, nn.Conv2d)):
            conv.weight.fill_(-1.0)
            conv.bias.zero_()
    assert torch.equal(block(torch.ones(1, 1, 4, 4)), torch.zeros(1, 1, 2, 2))  # ReLU clips negative sums


def test_vgg_gives_ten_scores_for_28_by_28_images() -> None:
    model = VGG()
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert VGG(num_classes=4)(torch.zeros(1, 1, 28, 28)).shape == (1, 4)
    table = str(layer_shapes(model, (1, 28, 28)))
    assert "(1, 128, 3, 3)" in table and "(1, 1152)" in table
    assert sum(p.numel() for p in model.parameters()) == 1_135_306


@pytest.mark.parametrize(("stacked", "kernel"), [(2, 5), (3, 7)])
def test_stacked_3x3_convolutions_see_as_far_as_one_large_kernel_for_less(stacked: int, kernel: int) -> None:
    channels = 64
    small = nn.Sequential(*[nn.Conv2d(channels, channels, 3, padding=1) for _ in range(stacked)])
    large = nn.Sequential(nn.Conv2d(channels, channels, kernel, padding=kernel // 2))
    assert receptive_fields(small).rows[-1].size == receptive_fields(large).rows[-1].size == (kernel, kernel)
    weights = [sum(m.weight.numel() for m in net.modules() if isinstance(m, nn.Conv2d)) for net in (small, large)]
    assert weights == [stacked * 9 * channels**2, kernel**2 * channels**2]
    macs = [count_macs(net, (channels, 16, 16))["total"] for net in (small, large)]
    assert macs[0] < macs[1] and macs[0] * kernel**2 == macs[1] * stacked * 9


def test_chapter_4_vgg_questions_agree_with_torch() -> None:
    from cnn_course.exercises import exercises

    answer = {key: getattr(item, "answer", None) for key, item in exercises().items()}
    assert sum(p.numel() for p in VGGBlock(2, 128, 128).parameters()) == answer["04-6"]
    three = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(3)])
    assert receptive_fields(three).rows[-1].size == (answer["04-7"],) * 2
    block_then_conv = nn.Sequential(*VGGBlock(2, 1, 1).net, nn.Conv2d(1, 1, 3, padding=1))
    assert receptive_fields(block_then_conv).rows[-1].size == (answer["04-8"],) * 2
