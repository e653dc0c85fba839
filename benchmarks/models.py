"""The four chapter networks, exactly as in the source course (for benchmarks; chapters define their own)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AlexNet", "GoogLeNet", "Inception", "LeNet", "ResNet", "ResidualBlock"]


class LeNet(nn.Module):
    """LeNet-5 with Tanh and average pooling, for 1x28x28 input (padding 2 recreates the 32x32 original)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Tanh(),  # C1
            nn.AvgPool2d(kernel_size=2, stride=2),  # S2
            nn.Conv2d(6, 16, kernel_size=5), nn.Tanh(),  # C3
            nn.AvgPool2d(kernel_size=2, stride=2),  # S4
            nn.Conv2d(16, 120, kernel_size=5), nn.Tanh(),  # C5
            nn.Flatten(),
            nn.Linear(120, 84), nn.Tanh(),  # F6
            nn.Linear(84, 10),  # output
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # N x 1 x 28 x 28 -> C1 N x 6 x 28 x 28 -> S2 N x 6 x 14 x 14 -> C3 N x 16 x 10 x 10
        # -> S4 N x 16 x 5 x 5 -> C5 N x 120 x 1 x 1 -> N x 120 -> N x 84 -> N x 10
        return self.net(x)


class AlexNet(nn.Module):
    """AlexNet for 1x224x224 input (Fashion-MNIST resized), 10 classes, dropout 0.5."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),  # N x 96 x 54 x 54
            nn.MaxPool2d(kernel_size=3, stride=2),  # N x 96 x 26 x 26
            nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),  # N x 256 x 26 x 26
            nn.MaxPool2d(kernel_size=3, stride=2),  # N x 256 x 12 x 12
            nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),  # N x 384 x 12 x 12
            nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),  # N x 384 x 12 x 12
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),  # N x 256 x 12 x 12
            nn.MaxPool2d(kernel_size=3, stride=2),  # N x 256 x 5 x 5
            nn.Flatten(),  # N x 6400
            nn.Linear(6400, 4096), nn.ReLU(),
            nn.Dropout(p=0.5),
            nn.Linear(4096, 4096), nn.ReLU(),
            nn.Dropout(p=0.5),
            nn.Linear(4096, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Inception(nn.Module):
    """The source's small Inception block: four branches, 16 + 24 + 24 + 24 = 88 channels out."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch2 = nn.Sequential(
            nn.Conv2d(in_channels, 16, kernel_size=1),
            nn.Conv2d(16, 24, kernel_size=3, padding=1),
            nn.Conv2d(24, 24, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            nn.Conv2d(in_channels, 16, kernel_size=1),
            nn.Conv2d(16, 24, kernel_size=5, padding=2),
        )
        self.branch4 = nn.Conv2d(in_channels, 24, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return torch.cat(outputs, dim=1)  # N x 88 x H x W


class GoogLeNet(nn.Module):
    """The source's small GoogLeNet for 1x28x28 input: two Inception blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 10, kernel_size=5), nn.ReLU(),  # N x 10 x 24 x 24
            nn.MaxPool2d(kernel_size=2, stride=2),  # N x 10 x 12 x 12
            Inception(in_channels=10),  # N x 88 x 12 x 12
            nn.Conv2d(88, 20, kernel_size=5), nn.ReLU(),  # N x 20 x 8 x 8
            nn.MaxPool2d(kernel_size=2, stride=2),  # N x 20 x 4 x 4
            Inception(in_channels=20),  # N x 88 x 4 x 4
            nn.Flatten(),  # N x 1408
            nn.Linear(1408, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions whose output is added to the input: relu(x + F(x))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, kernel_size=3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.relu(x + self.net(x))


class ResNet(nn.Module):
    """The source's small ResNet for 1x28x28 input: two residual blocks (16 and 32 channels)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=5), nn.ReLU(),  # N x 16 x 24 x 24
            nn.MaxPool2d(2), ResidualBlock(16),  # N x 16 x 12 x 12
            nn.Conv2d(16, 32, kernel_size=5), nn.ReLU(),  # N x 32 x 8 x 8
            nn.MaxPool2d(2), ResidualBlock(32),  # N x 32 x 4 x 4
            nn.Flatten(),  # N x 512
            nn.Linear(512, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
