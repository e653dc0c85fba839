"""The chapters' networks, their weight initialisations and a multiply-add counter, each written once.

Chapters 3-6 show the networks they teach in full, in a notebook cell where students read and
edit them. That cell holds the *same code* as this module: ``tests/test_models.py`` parses every
notebook, finds each class and function that this module also defines, and compares the two as
syntax trees, comments included (layout may differ). A notebook's docstring may be this module's
whole docstring or only its first line: the chapter explains the rest in prose, while ``help()``
here gives the full reference. Any other difference fails the test, naming the notebook, the cell
and the definition. Benchmarks and tests import the networks from here, never from a copy.

Why this way round, and not cells exported from the notebooks (d2l's ``#@save``, nbdev's
``#| export``): the package stays ordinary code that imports, type-checks and tests without a
generation step that someone must remember to run, while the chapters still show, and students
still edit, the full architecture. Editing a chapter's copy in a clone changes nothing here; a
maintainer who changes one must change the other, and the test says so.

Definitions shown in a chapter: ``LeNet`` and ``init_xavier`` (chapter 3), ``AlexNet``, ``init_he``,
``VGGBlock`` and ``VGG`` (chapter 4), ``SlimAlexNet`` (appendix 04a), ``Inception``, ``GoogLeNet``,
``PaperInception`` and ``PaperGoogLeNet``
(chapter 5), ``ResidualBlock`` and ``ResNet`` (chapter 6), ``DepthwiseSeparable`` and ``MobileNet``
(chapter 7). Later chapters and chapter 4's cost table import the rest from here.

Shape comments follow torchvision: ``N x C x H x W`` after each step, for the chapter's input size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = [
    "AlexNet",
    "DepthwiseSeparable",
    "GoogLeNet",
    "Inception",
    "LeNet",
    "MobileNet",
    "PaperGoogLeNet",
    "PaperInception",
    "ResNet",
    "ResidualBlock",
    "SlimAlexNet",
    "VGG",
    "VGGBlock",
    "count_macs",
    "init_he",
    "init_xavier",
]


class LeNet(nn.Module):
    """LeNet-5 as in the course: tanh activations and average pooling, for 1 x 28 x 28 inputs.

    ``padding=2`` in C1 turns the 28 x 28 MNIST digits into the 32 x 32 input of the original paper.

    Args:
        num_classes: number of class scores the output layer gives.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Tanh(),  # C1: N x 6 x 28 x 28
            nn.AvgPool2d(kernel_size=2, stride=2),                  # S2: N x 6 x 14 x 14
            nn.Conv2d(6, 16, kernel_size=5), nn.Tanh(),             # C3: N x 16 x 10 x 10
            nn.AvgPool2d(kernel_size=2, stride=2),                  # S4: N x 16 x 5 x 5
            nn.Conv2d(16, 120, kernel_size=5), nn.Tanh(),           # C5: N x 120 x 1 x 1
            nn.Flatten(),                                           # N x 120
            nn.Linear(120, 84), nn.Tanh(),                          # F6: N x 84
            nn.Linear(84, num_classes),                             # output: N x 10 class scores
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: N x 1 x 28 x 28
        return self.net(x)


class AlexNet(nn.Module):
    """AlexNet as in the course source: a 1 x image_size x image_size image in, num_classes scores out.

    The first Linear layer takes every number the feature layers leave, so its input size follows
    from ``image_size``: 256 x 5 x 5 = 6400 at 224, 256 x 2 x 2 = 1024 at 112. The shape comments
    are for 224.

    Args:
        num_classes: number of class scores the last layer gives.
        image_size: height and width of the (square) input; at least 65, so that something is
            left for the last max-pooling layer.

    Raises:
        ValueError: if ``image_size`` is not an int of at least 65.
    """

    def __init__(self, num_classes: int = 10, image_size: int = 224) -> None:
        super().__init__()
        if not isinstance(image_size, int) or image_size < 65:  # smaller images shrink to nothing
            raise ValueError(f"image_size 必须是不小于 65 的整数（课程用 224，CPU 上用 65），收到的是 {image_size!r}")
        features = nn.Sequential(
            nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),  # N x 96 x 54 x 54
            nn.MaxPool2d(kernel_size=3, stride=2),                             # N x 96 x 26 x 26
            nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),           # N x 256 x 26 x 26
            nn.MaxPool2d(kernel_size=3, stride=2),                             # N x 256 x 12 x 12
            nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),          # N x 384 x 12 x 12
            nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),          # N x 384 x 12 x 12
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),          # N x 256 x 12 x 12
            nn.MaxPool2d(kernel_size=3, stride=2),                             # N x 256 x 5 x 5
            nn.Flatten(),                                                      # N x 6400
        )
        with torch.no_grad():  # one zero image measures the flatten size instead of typing 6400
            flat_size = features(torch.zeros(1, 1, image_size, image_size)).shape[1]
        self.net = nn.Sequential(
            *features,
            nn.Linear(flat_size, 4096), nn.ReLU(),                             # N x 4096
            nn.Dropout(p=0.5),
            nn.Linear(4096, 4096), nn.ReLU(),                                  # N x 4096
            nn.Dropout(p=0.5),
            nn.Linear(4096, num_classes),                                      # N x 10
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: N x 1 x 224 x 224
        return self.net(x)


class SlimAlexNet(nn.Module):
    """AlexNet for a CPU without bf16: batch normalization after every hidden layer, dense layers 1024 wide.

    The convolutions, max-pooling layers and dropout are AlexNet's. Two changes make one pass over
    a few thousand images enough: batch normalization (not in the 2012 paper) after each convolution
    and each hidden dense layer, and hidden dense layers of ``hidden`` units instead of 4096:
    at 65 x 65 the 4096 x 4096 layer is most of the work, so at 1024 a CPU trains about twice the
    images in the same time. Appendix 04a measures both changes.

    Args:
        num_classes: number of class scores the last layer gives.
        image_size: height and width of the (square) input; at least 65, as for :class:`AlexNet`.
        hidden: units in each of the two hidden dense layers.

    Raises:
        ValueError: if ``image_size`` is not an int of at least 65, or ``hidden`` not an int of at least 1.
    """

    def __init__(self, num_classes: int = 10, image_size: int = 65, hidden: int = 1024) -> None:
        super().__init__()
        if not isinstance(image_size, int) or image_size < 65:
            raise ValueError(f"image_size 必须是不小于 65 的整数（更小的图像到最后一个最大汇聚层时已经不剩什么），"
                             f"收到的是 {image_size!r}")
        if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 1:
            raise ValueError(f"hidden 必须是正整数，例如 1024，收到的是 {hidden!r}")

        def conv(c_in: int, c_out: int, kernel_size: int, stride: int = 1, padding: int = 0) -> list[nn.Module]:
            # no bias: the batch normalization that follows has its own shift
            return [nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
                    nn.BatchNorm2d(c_out), nn.ReLU()]

        features = nn.Sequential(
            *conv(1, 96, kernel_size=11, stride=4, padding=1), nn.MaxPool2d(kernel_size=3, stride=2),
            *conv(96, 256, kernel_size=5, padding=2), nn.MaxPool2d(kernel_size=3, stride=2),
            *conv(256, 384, kernel_size=3, padding=1),
            *conv(384, 384, kernel_size=3, padding=1),
            *conv(384, 256, kernel_size=3, padding=1), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Flatten(),
        )
        features.eval()  # batch statistics of a single zero image would be undefined
        with torch.no_grad():
            flat_size = features(torch.zeros(1, 1, image_size, image_size)).shape[1]
        features.train()
        def dense(n_in: int, n_out: int) -> list[nn.Module]:
            return [nn.Linear(n_in, n_out, bias=False), nn.BatchNorm1d(n_out), nn.ReLU(), nn.Dropout(p=0.5)]

        self.net = nn.Sequential(*features, *dense(flat_size, hidden), *dense(hidden, hidden),
                                 nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class VGGBlock(nn.Module):
    """A VGG block: ``num_convs`` 3x3 convolutions, each followed by ReLU, then 2x2 max-pooling.

    The convolutions (``padding=1``) keep the height and width; the pooling halves them, rounding down.
    Two stacked 3x3 convolutions see a 5x5 region of their input, three see 7x7, with fewer parameters
    and multiply-adds than one 5x5 or 7x7 convolution.

    Args:
        num_convs: number of 3x3 convolutions (at least 1).
        in_channels: channels of the input (taken by the first convolution).
        out_channels: channels of every convolution's output, and of the block's.
    """

    def __init__(self, num_convs: int, in_channels: int, out_channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(num_convs):
            channels_in = in_channels if i == 0 else out_channels  # only the first conv changes the channels
            layers += [nn.Conv2d(channels_in, out_channels, kernel_size=3, padding=1), nn.ReLU()]  # N x out x H x W
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))                                  # N x out x H/2 x W/2
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: N x in_channels x H x W
        return self.net(x)


class VGG(nn.Module):
    """A small VGG for 1 x 28 x 28 images: three VGG blocks, then three dense layers with dropout.

    Five 3x3 convolutions in blocks of 1, 2 and 2 (32, 64 and 128 channels) as in VGG-11's first
    three blocks, with fewer channels; the dense layers have 512 units instead of 4096.

    Args:
        num_classes: number of class scores the last layer gives.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            VGGBlock(1, 1, 32),                                # N x 32 x 14 x 14
            VGGBlock(2, 32, 64),                               # N x 64 x 7 x 7
            VGGBlock(2, 64, 128),                              # N x 128 x 3 x 3
            nn.Flatten(),                                      # N x 1152
            nn.Linear(128 * 3 * 3, 512), nn.ReLU(),            # N x 512
            nn.Dropout(p=0.5),
            nn.Linear(512, 512), nn.ReLU(),                    # N x 512
            nn.Dropout(p=0.5),
            nn.Linear(512, num_classes),                       # N x 10
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: N x 1 x 28 x 28
        return self.net(x)


class Inception(nn.Module):
    """Four parallel branches with 1x1, 3x3 (stacked twice) and 5x5 kernels; outputs concatenated.

    The course's small block, with no ReLU inside: 16 + 24 + 24 + 24 = 88 channels out, whatever
    ``in_channels`` is; every branch keeps the height and width.

    Args:
        in_channels: channels of the input.
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch1 = nn.Conv2d(in_channels, 16, kernel_size=1)        # N x 16 x H x W
        self.branch2 = nn.Sequential(
            nn.Conv2d(in_channels, 16, kernel_size=1),                  # N x 16 x H x W
            nn.Conv2d(16, 24, kernel_size=3, padding=1),                # N x 24 x H x W
            nn.Conv2d(24, 24, kernel_size=3, padding=1),                # N x 24 x H x W
        )
        self.branch3 = nn.Sequential(
            nn.Conv2d(in_channels, 16, kernel_size=1),                  # N x 16 x H x W
            nn.Conv2d(16, 24, kernel_size=5, padding=2),                # N x 24 x H x W
        )
        self.branch4 = nn.Conv2d(in_channels, 24, kernel_size=1)        # N x 24 x H x W

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: N x C x H x W
        outputs = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return torch.cat(outputs, dim=1)                                # N x 88 x H x W


class GoogLeNet(nn.Module):
    """The course's small GoogLeNet for 1 x 28 x 28 images: two Inception blocks, 10 class scores out.

    Args:
        num_classes: number of class scores the last layer gives.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 10, kernel_size=5), nn.ReLU(),    # N x 10 x 24 x 24
            nn.MaxPool2d(kernel_size=2, stride=2),         # N x 10 x 12 x 12
            Inception(in_channels=10),                     # N x 88 x 12 x 12
            nn.Conv2d(88, 20, kernel_size=5), nn.ReLU(),   # N x 20 x 8 x 8
            nn.MaxPool2d(kernel_size=2, stride=2),         # N x 20 x 4 x 4
            Inception(in_channels=20),                     # N x 88 x 4 x 4
            nn.Flatten(),                                  # N x 1408
            nn.Linear(1408, num_classes),                  # N x 10
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: N x 1 x 28 x 28
        return self.net(x)


class PaperInception(nn.Module):
    """GoogLeNet's own Inception block: a ReLU after every convolution and a 3x3 max-pooling branch.

    The block of Szegedy et al. (2015) with the channel counts of the course's block: 16 + 24 + 24 + 24
    = 88 channels out, whatever ``in_channels`` is; every branch keeps the height and width. Unlike
    :class:`Inception`, branch 2 has one 3x3 convolution (as in the paper) and branch 4 max-pools
    before its 1x1 projection.

    Args:
        in_channels: channels of the input.
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch1 = nn.Sequential(
            nn.Conv2d(in_channels, 16, kernel_size=1), nn.ReLU(),       # N x 16 x H x W
        )
        self.branch2 = nn.Sequential(
            nn.Conv2d(in_channels, 16, kernel_size=1), nn.ReLU(),       # N x 16 x H x W
            nn.Conv2d(16, 24, kernel_size=3, padding=1), nn.ReLU(),     # N x 24 x H x W
        )
        self.branch3 = nn.Sequential(
            nn.Conv2d(in_channels, 16, kernel_size=1), nn.ReLU(),       # N x 16 x H x W
            nn.Conv2d(16, 24, kernel_size=5, padding=2), nn.ReLU(),     # N x 24 x H x W
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1),           # N x C x H x W
            nn.Conv2d(in_channels, 24, kernel_size=1), nn.ReLU(),       # N x 24 x H x W: the 1x1 projection
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: N x C x H x W
        outputs = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return torch.cat(outputs, dim=1)                                # N x 88 x H x W


class PaperGoogLeNet(nn.Module):
    """The course's small GoogLeNet with the paper's Inception blocks and a global-average-pooling head.

    The same layers as :class:`GoogLeNet` up to the second block; then each of the 88 channels is
    averaged over its 4 x 4 positions, and one ``Linear(88, num_classes)`` gives the class scores
    (in place of ``Linear(1408, num_classes)``).

    Args:
        num_classes: number of class scores the last layer gives.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 10, kernel_size=5), nn.ReLU(),    # N x 10 x 24 x 24
            nn.MaxPool2d(kernel_size=2, stride=2),         # N x 10 x 12 x 12
            PaperInception(in_channels=10),                # N x 88 x 12 x 12
            nn.Conv2d(88, 20, kernel_size=5), nn.ReLU(),   # N x 20 x 8 x 8
            nn.MaxPool2d(kernel_size=2, stride=2),         # N x 20 x 4 x 4
            PaperInception(in_channels=20),                # N x 88 x 4 x 4
            nn.AdaptiveAvgPool2d(1),                       # N x 88 x 1 x 1: global average pooling
            nn.Flatten(),                                  # N x 88
            nn.Linear(88, num_classes),                    # N x 10
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: N x 1 x 28 x 28
        return self.net(x)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions that keep the shape, plus the input: relu(x + F(x)).

    Args:
        channels: channels of the input, and of the output (they must match for the addition).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size=3, padding=1),  # N x C x H x W
            nn.ReLU(),
            nn.Conv2d(channels, channels, kernel_size=3, padding=1),  # N x C x H x W
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(x)                   # the residual branch F(x)
        return nn.functional.relu(x + y)  # the skip connection adds the input back


class ResNet(nn.Module):
    """The course's small ResNet for 1 x 28 x 28 images: two residual blocks, 10 class scores out.

    Args:
        num_classes: number of class scores the last layer gives.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=5), nn.ReLU(),   # N x 16 x 24 x 24
            nn.MaxPool2d(2),                              # N x 16 x 12 x 12
            ResidualBlock(16),                            # N x 16 x 12 x 12
            nn.Conv2d(16, 32, kernel_size=5), nn.ReLU(),  # N x 32 x 8 x 8
            nn.MaxPool2d(2),                              # N x 32 x 4 x 4
            ResidualBlock(32),                            # N x 32 x 4 x 4
            nn.Flatten(),                                 # N x 512
            nn.Linear(512, num_classes),                  # N x 10
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: N x 1 x 28 x 28
        return self.net(x)


class DepthwiseSeparable(nn.Module):
    """A depthwise 3x3 convolution (one kernel per channel), then a 1x1 convolution that mixes the channels.

    MobileNet's block: each convolution is followed by batch normalization and ReLU, and has no bias
    (batch normalization subtracts it). ``stride=2`` halves the height and width in the depthwise step.

    Args:
        in_channels: channels of the input (and of the depthwise convolution's output).
        out_channels: channels of the output, made by the 1x1 convolution.
        stride: stride of the depthwise convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=stride, padding=1,
                      groups=in_channels, bias=False),                          # depthwise: N x C_in x H/s x W/s
            nn.BatchNorm2d(in_channels), nn.ReLU(),
            nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),   # pointwise: N x C_out x H/s x W/s
            nn.BatchNorm2d(out_channels), nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: N x C_in x H x W
        return self.net(x)


class MobileNet(nn.Module):
    """A small MobileNet for 1 x 28 x 28 images: a 3x3 stem, five depthwise-separable blocks, global average pooling.

    Args:
        num_classes: number of class scores the last layer gives.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1, bias=False),  # N x 16 x 28 x 28
            nn.BatchNorm2d(16), nn.ReLU(),
            DepthwiseSeparable(16, 32, stride=2),                     # N x 32 x 14 x 14
            DepthwiseSeparable(32, 32),                               # N x 32 x 14 x 14
            DepthwiseSeparable(32, 64, stride=2),                     # N x 64 x 7 x 7
            DepthwiseSeparable(64, 64),                               # N x 64 x 7 x 7
            DepthwiseSeparable(64, 128, stride=2),                    # N x 128 x 4 x 4
            nn.AdaptiveAvgPool2d(1),                                  # N x 128 x 1 x 1: global average pooling
            nn.Flatten(),                                             # N x 128
            nn.Linear(128, num_classes),                              # N x 10
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: N x 1 x 28 x 28
        return self.net(x)


def init_xavier(model: nn.Module) -> nn.Module:
    """Xavier (Glorot) uniform weights and zero biases for every conv and linear layer: suited to tanh.

    Weights are drawn from U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), a variance of
    2 / (fan_in + fan_out).

    Args:
        model: the network, changed in place.

    Returns:
        ``model`` itself, so that ``model = init_xavier(LeNet())`` works.

    Raises:
        TypeError: if ``model`` is not a network instance.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model 必须是一个网络实例，例如 LeNet()，收到的是 {model!r}")
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return model


def init_he(model: nn.Module, linear_std: float | None = None) -> nn.Module:
    """He (Kaiming) normal weights and zero biases for every conv and linear layer: suited to ReLU.

    Weights are drawn from N(0, 2 / fan_in): the factor 2 makes up for ReLU zeroing about half
    of its inputs, so the signal keeps its size from layer to layer.

    Args:
        model: the network, changed in place.
        linear_std: if given, ``nn.Linear`` weights are drawn from N(0, linear_std^2) instead
            (chapter 4 uses 0.01 for AlexNet's large dense layers, as the AlexNet paper did).

    Returns:
        ``model`` itself, so that ``model = init_he(ResNet())`` works.

    Raises:
        TypeError: if ``model`` is not a network instance.
        ValueError: if ``linear_std`` is neither None nor a positive number.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model 必须是一个网络实例，例如 AlexNet()，收到的是 {model!r}")
    if linear_std is not None and not (isinstance(linear_std, (int, float)) and linear_std > 0):
        raise ValueError(f"linear_std 必须是正数（例如 0.01），或者 None（用 He 的标准差），收到的是 {linear_std!r}")
    for module in model.modules():
        if isinstance(module, nn.Linear) and linear_std is not None:
            nn.init.normal_(module.weight, std=linear_std)
        elif isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")  # std = sqrt(2 / fan_in)
        else:
            continue
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    return model


def count_macs(model: nn.Module, input_shape: Sequence[int]) -> dict[str, int]:
    """Count the multiply-adds of one forward pass for ONE image, layer by layer.

    Forward hooks on every ``nn.Conv2d`` and ``nn.Linear`` apply the formulas of chapter 3 during
    one real forward pass of a zero image:

    - Conv2d: output elements x (in_channels / groups) x kernel height x kernel width;
    - Linear: output elements x in_features.

    Biases, activations, pooling and additions are not counted: they are a small share of the
    arithmetic in these networks. The model runs in eval mode without gradients and is put back
    in the mode it was in. One multiply-add is 2 FLOPs.

    Args:
        model: the network.
        input_shape: ``(C, H, W)`` of one image, e.g. ``(1, 28, 28)``.

    Returns:
        ``{layer name: multiply-adds}`` in the order the layers ran (a layer that runs twice is
        counted twice), plus ``"total"``.

    Raises:
        TypeError: if ``model`` is not a network instance.
        ValueError: if ``input_shape`` is not three positive ints, or does not fit the model.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model 必须是一个网络实例，例如 LeNet()，收到的是 {model!r}")
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list, torch.Size)) else ()
    if len(shape) != 3 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
        raise ValueError(f"input_shape 必须是一张图像的 (C, H, W)，三个正整数，例如 (1, 28, 28)，"
                         f"收到的是 {input_shape!r}")
    names = {module: name for name, module in model.named_modules()}
    counts: dict[str, int] = {}

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            macs = output.numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, nn.Linear):
            macs = output.numel() * module.in_features
        else:  # only Conv2d and Linear layers are hooked
            return
        name = names.get(module, type(module).__name__)
        counts[name] = counts.get(name, 0) + macs  # the batch holds one image

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    was_training = model.training
    model.eval()  # no dropout, and no batch-norm statistics updated by the zero image
    try:
        with torch.no_grad():
            model(torch.zeros(1, *shape, device=device, dtype=dtype))
    except RuntimeError as err:
        raise ValueError(f"input_shape={shape} 和这个模型对不上：{str(err).splitlines()[0]}") from None
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    counts["total"] = sum(counts.values())
    return counts
