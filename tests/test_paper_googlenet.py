"""Chapter 5's paper block and network: GoogLeNet's own Inception (a ReLU after every convolution, a max-pooling
branch) and a global-average-pooling head, against the course's block."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnn_course.models import GoogLeNet, Inception, PaperGoogLeNet, PaperInception, count_macs


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv_params(in_channels: int, out_channels: int, kernel_size: int) -> int:
    return in_channels * out_channels * kernel_size**2 + out_channels


@pytest.mark.parametrize("in_channels, shape", [(10, (2, 10, 12, 12)), (20, (1, 20, 4, 4)), (3, (1, 3, 5, 7))])
def test_paper_block_gives_88_channels_and_keeps_height_and_width(in_channels: int, shape: tuple) -> None:
    block = PaperInception(in_channels)
    with torch.no_grad():
        branches = [getattr(block, f"branch{i}")(torch.randn(shape)) for i in range(1, 5)]
        out = block(torch.randn(shape))
    assert [b.shape[1] for b in branches] == [16, 24, 24, 24]
    assert tuple(out.shape) == (shape[0], 88, *shape[2:])


def test_paper_block_has_the_papers_layers() -> None:
    block = PaperInception(20)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convs] == [
        (20, 16, 1), (20, 16, 1), (16, 24, 3), (20, 16, 1), (16, 24, 5), (20, 24, 1)
    ]
    assert sum(isinstance(m, nn.ReLU) for m in block.modules()) == len(convs)  # a ReLU after every convolution
    assert n_params(block) == (conv_params(20, 16, 1) * 3 + conv_params(16, 24, 3) + conv_params(16, 24, 5)
                               + conv_params(20, 24, 1))
    x = torch.randn(2, 20, 6, 6)
    pool, projection = block.branch4[0], block.branch4[1]
    assert isinstance(pool, nn.MaxPool2d)
    with torch.no_grad():
        expected = torch.relu(projection(nn.functional.max_pool2d(x, 3, stride=1, padding=1)))
        assert torch.allclose(block.branch4(x), expected)


def _affine(block: nn.Module) -> bool:
    torch.manual_seed(0)
    a, b, zero = torch.randn(1, 10, 8, 8), torch.randn(1, 10, 8, 8), torch.zeros(1, 10, 8, 8)
    with torch.no_grad():
        return torch.allclose(block(a + b) - block(zero), block(a) - block(zero) + block(b) - block(zero), atol=1e-5)


def test_the_courses_block_is_affine_and_the_papers_is_not() -> None:
    torch.manual_seed(0)
    assert _affine(Inception(10)) and not _affine(PaperInception(10))


@pytest.mark.parametrize("num_classes", [10, 7])
def test_paper_googlenet_gives_one_score_per_class(num_classes: int) -> None:
    model = PaperGoogLeNet(num_classes=num_classes)
    with torch.no_grad():
        assert tuple(model(torch.zeros(3, 1, 28, 28)).shape) == (3, num_classes)
    assert isinstance(model.net, nn.Sequential)
    assert isinstance(model.net[4], nn.Conv2d) and isinstance(model.net[5], nn.ReLU)  # the probes watch these


def test_global_average_pooling_head_averages_each_channel() -> None:
    model = PaperGoogLeNet()
    head = model.net[-3:]
    features = torch.randn(2, 88, 4, 4)
    with torch.no_grad():
        assert torch.allclose(head(features), model.net[-1](features.mean(dim=(2, 3))), atol=1e-6)
    assert n_params(model.net[-1]) == 88 * 10 + 10


def test_paper_network_has_fewer_parameters_and_multiply_adds_than_the_courses() -> None:
    source, paper = GoogLeNet(), PaperGoogLeNet()
    # same stem and middle convolution; the blocks lose branch 2's second 3x3 conv; the head shrinks 1408 -> 88 inputs
    saved_per_block = conv_params(24, 24, 3)
    assert n_params(source) - n_params(paper) == 2 * saved_per_block + (1408 - 88) * 10
    assert count_macs(paper, (1, 28, 28))["total"] < count_macs(source, (1, 28, 28))["total"]
