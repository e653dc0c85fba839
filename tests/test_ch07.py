"""Chapter 7's package code: one neuron's arithmetic and its explorer, the shipped weights and their checks,
the depthwise-separable networks, and the coding exercise's diagnoses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from cnn_course.exercises import check
from cnn_course.models import DepthwiseSeparable, LeNet, MobileNet, ResNet, count_macs
from cnn_course.neuron import conv_layers, draw_neuron, neuron_sum
from cnn_course.pretrained import (
    PretrainedError,
    available,
    load_pretrained,
    pretrained_record,
    save_pretrained,
    sha256_of,
)
from cnn_course.widgets import NeuronExplorer

# --- one neuron -------------------------------------------------------------------------------------------


@pytest.fixture
def lenet_and_image() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    return LeNet(), torch.randn(1, 28, 28)


@pytest.mark.parametrize("layer, channel, row, col", [("net.0", 2, 0, 0), ("net.0", 5, 27, 13), ("net.3", 7, 4, 9),
                                                      ("net.6", 119, 0, 0)])
def test_neuron_sum_is_the_value_pytorch_computes(lenet_and_image, layer: str, channel: int, row: int,
                                                  col: int) -> None:
    model, image = lenet_and_image
    found = neuron_sum(model, layer, channel, row, col, image)
    conv = model.get_submodule(layer)
    assert found.kernel.shape == found.patch.shape == conv.weight.shape[1:]
    assert found.total == pytest.approx(found.pytorch, abs=1e-5)
    assert torch.equal(found.product, found.patch * found.kernel)
    assert f"{found.pytorch:+.5f}" in found.text()


def test_neuron_patch_holds_the_padding_and_the_image(lenet_and_image) -> None:
    model, image = lenet_and_image
    corner = neuron_sum(model, "net.0", 0, 0, 0, image)  # padding=2: two rows and columns of zeros
    assert (corner.top, corner.left) == (-2, -2)
    assert torch.equal(corner.patch[0, :2], torch.zeros(2, 5))
    assert torch.equal(corner.patch[0, 2:, 2:], image[0, :3, :3])
    assert corner.image_rows == (0, 1, 2) and corner.image_cols == (0, 1, 2)


def test_neuron_of_a_depthwise_convolution_reads_one_channel() -> None:
    torch.manual_seed(0)
    model = MobileNet()
    found = neuron_sum(model, "net.3.net.0", 5, 2, 3, torch.randn(28, 28))  # groups=16: channel 5 reads channel 5
    assert found.in_channels == (5,) and found.patch.shape == (1, 3, 3)
    assert found.total == pytest.approx(found.pytorch, abs=1e-5)
    assert conv_layers(ResNet()) == ["net.0", "net.3.net.0", "net.3.net.2", "net.4", "net.7.net.0", "net.7.net.2"]


@pytest.mark.parametrize("args, needle", [
    (("net.1", 0, 0, 0), "layer 必须是网络里某个卷积层的名字，即 net.0、net.3、net.6 之一"),
    (("net.3", 16, 0, 0), "channel 必须是从 0 到 15 的整数"),
    (("net.3", 0, 10, 0), "row 必须是从 0 到 9 的整数，传入的是 10（net.3 的输出是 10 x 10）"),
    (("net.6", 0, 0, -1), "col 必须是从 0 到 0 的整数"),
])
def test_neuron_sum_names_a_bad_choice(lenet_and_image, args: tuple, needle: str) -> None:
    model, image = lenet_and_image
    with pytest.raises(ValueError, match=f"^{needle}".replace("(", r"\(").replace(")", r"\)")):
        neuron_sum(model, *args, image)


@pytest.mark.parametrize("image", [torch.zeros(3, 28, 28), torch.zeros(28, 28, dtype=torch.uint8), "img"])
def test_neuron_sum_refuses_an_image_it_cannot_use(lenet_and_image, image: object) -> None:
    with pytest.raises(ValueError, match="image 必须是一张网络看到的那种标准化后的灰度图像"):
        neuron_sum(lenet_and_image[0], "net.0", 0, 0, 0, image)  # type: ignore[arg-type]


def test_neuron_sum_leaves_the_mode_and_draws(lenet_and_image) -> None:
    model, image = lenet_and_image
    model.train()
    found = neuron_sum(model, "net.3", 1, 2, 3, image)
    assert model.training
    fig = draw_neuron(found, image)
    assert len(fig.axes) == 1 + 3 * 4  # the image, then patch, kernel and product of the first four channels


def test_neuron_explorer_answers_bad_choices_in_the_widget(lenet_and_image) -> None:
    model, image = lenet_and_image
    explorer = NeuronExplorer(model, image, layer="net.3", channel=3)
    assert (explorer.row.value, explorer.col.value) == (5, 5)
    assert explorer.arithmetic().channel == 3
    explorer.layer.value = "net.6"  # a new layer: the centre of its 1 x 1 map
    assert (explorer.row.value, explorer.col.value, explorer.channel.value) == (0, 0, 3)
    explorer.row.value = 4
    shown: list = []
    explorer._text.handle = explorer._picture.handle = type("Handle", (), {"update": lambda self, obj, raw=False:
                                                                           shown.append(obj)})()
    explorer._update()
    assert "✘" in shown[0].data and "row 必须是从 0 到 0 的整数" in shown[0].data
    with pytest.raises(ValueError, match="channel 必须是从 0 到 15 的整数"):
        NeuronExplorer(model, image, layer="net.3", channel=99)


# --- shipped weights --------------------------------------------------------------------------------------


def test_the_shipped_weights_load_and_match_their_record() -> None:
    assert "resnet_fashion" in available()
    record = pretrained_record("resnet_fashion")
    assert {"network", "sha256", "command", "commit", "data"} <= set(record)
    model = load_pretrained("resnet_fashion")
    assert isinstance(model, ResNet) and not model.training
    assert record["parameters"] == sum(p.numel() for p in model.parameters())


@pytest.fixture
def copied(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    save_pretrained(ResNet(), "demo", tmp_path, command="python make_demo.py")
    return tmp_path


def test_a_damaged_file_is_refused_with_the_remedy(copied: Path) -> None:
    path = copied / "demo.pt"
    data = bytearray(path.read_bytes())
    data[-50] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(PretrainedError, match=r"demo.pt 已损坏或被替换：它的 sha256 是 .*"
                                              r"python make_demo.py"):
        load_pretrained("demo", folder=copied)


def test_weights_of_another_network_are_refused_naming_the_tensor(copied: Path) -> None:
    path = copied / "demo.pt"
    torch.save(LeNet().state_dict(), path)
    record = json.loads((copied / "demo.json").read_text())
    record["sha256"] = sha256_of(path)  # intact, but made for another network
    (copied / "demo.json").write_text(json.dumps(record))
    with pytest.raises(PretrainedError, match=r"与 ResNet 不相符：net.0.weight 的形状是 \(6, 1, 5, 5\)，"
                                              r"ResNet 需要 \(16, 1, 5, 5\)"):
        load_pretrained("demo", folder=copied)


def test_unknown_or_missing_weights_are_named(copied: Path) -> None:
    with pytest.raises(PretrainedError, match=r"课程自带的权重之一 \['demo'\]，传入的是 'nope'"):
        load_pretrained("nope", folder=copied)
    (copied / "demo.pt").unlink()
    with pytest.raises(PretrainedError, match="demo.pt 不见了；请重新安装"):
        load_pretrained("demo", folder=copied)
    (copied / "demo.json").write_text("{not json")
    with pytest.raises(PretrainedError, match="记录文件 demo.json 无法读取"):
        load_pretrained("demo", folder=copied)


def test_save_pretrained_refuses_what_it_cannot_record(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cnn_course.models 里的网络"):
        save_pretrained(nn.Linear(2, 2), "x", tmp_path, command="c")
    with pytest.raises(ValueError, match="请给出 command="):
        save_pretrained(ResNet(), "x", tmp_path)
    shutil.rmtree(tmp_path)


# --- the networks -----------------------------------------------------------------------------------------


def test_depthwise_separable_costs_what_the_formula_says() -> None:
    block = DepthwiseSeparable(64, 128)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert convs[0].groups == 64 and convs[0].weight.shape == (64, 1, 3, 3)
    assert count_macs(block, (64, 7, 7))["total"] == 49 * 64 * 9 + 49 * 128 * 64
    assert block(torch.zeros(2, 64, 7, 7)).shape == (2, 128, 7, 7)
    assert DepthwiseSeparable(16, 32, stride=2)(torch.zeros(1, 16, 28, 28)).shape == (1, 32, 14, 14)


def test_mobilenet_is_cheaper_than_resnet() -> None:
    mobile, resnet = MobileNet(), ResNet()
    assert mobile(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert sum(p.numel() for p in mobile.parameters()) < sum(p.numel() for p in resnet.parameters())
    assert count_macs(mobile, (1, 28, 28))["total"] < count_macs(resnet, (1, 28, 28))["total"]


# --- the coding exercise ----------------------------------------------------------------------------------


def separable(groups: str = "in", order: str = "dw-pw", relu: str = "both", padding: int = 1) -> type:
    class SeparableConv(nn.Module):
        def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
            super().__init__()
            g = {"in": in_channels, "one": 1}[groups]
            if order == "dw-pw":
                self.depthwise = nn.Conv2d(in_channels, in_channels, 3, stride=stride, padding=padding, groups=g)
                self.pointwise = nn.Conv2d(in_channels, out_channels, 1)
            else:
                self.pointwise = nn.Conv2d(in_channels, out_channels, 1)
                self.depthwise = nn.Conv2d(out_channels, out_channels, 3, stride=stride, padding=1,
                                           groups=out_channels)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if order != "dw-pw":
                return torch.relu(self.depthwise(torch.relu(self.pointwise(x))))
            h = self.depthwise(x)
            h = torch.relu(h) if relu in ("both", "inner") else h
            y = self.pointwise(h)
            return torch.relu(y) if relu in ("both", "outer") else y

    return SeparableConv


@pytest.mark.parametrize("options, words", [
    ({}, ["正确"]),
    ({"groups": "one"}, ["没写 groups", "groups=in_channels"]),
    ({"order": "pw-dw"}, ["顺序反了"]),
    ({"relu": "outer"}, ["两个卷积之间少了 ReLU"]),
    ({"relu": "inner"}, ["最后少了 ReLU"]),
    ({"relu": "none"}, ["两个 ReLU 都忘了"]),
    ({"padding": 0}, ["输出的形状是", "padding=1"]),
])
def test_separable_exercise_names_the_typical_mistakes(options: dict, words: list[str]) -> None:
    feedback = check("07-separable", separable(**options))
    assert bool(feedback) == (options == {})
    for word in words:
        assert word in feedback.message, feedback.message


def test_chapter_07_answers_agree_with_torch() -> None:
    block = nn.Sequential(nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False), nn.Conv2d(32, 64, 1, bias=False))
    full = nn.Conv2d(32, 64, 3, padding=1, bias=False)
    assert check("07-1", sum(p.numel() for p in block.parameters()))
    macs = count_macs(block, (32, 14, 14))["total"]
    assert check("07-2", macs)
    assert check("07-3", count_macs(full, (32, 14, 14))["total"] / macs)
    lenet, shapes = LeNet(), []
    for index in (0, 3, 6):
        lenet.net[index].register_forward_hook(lambda m, i, o: shapes.append(o.shape[-2] * o.shape[-1]))
    lenet(torch.zeros(1, 1, 28, 28))
    assert check("07-4", min(shapes))
