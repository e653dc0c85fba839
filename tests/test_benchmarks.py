"""Smoke checks of the benchmark helpers: FLOP counts, the networks' shapes, and a one-step run (no timing asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmarks.flops import count_macs, known_peak_tflops, matmul_peak_tflops, training_flops_per_image
from benchmarks.memory_probe import current_rss_mb, peak_rss_mb
from benchmarks.models import AlexNet, GoogLeNet, Inception, LeNet, ResNet


def test_lenet_macs_by_hand() -> None:
    macs = count_macs(LeNet(), (1, 28, 28))
    assert macs["net.0"] == 6 * 28 * 28 * (1 * 5 * 5)  # C1
    assert macs["net.3"] == 16 * 10 * 10 * (6 * 5 * 5)  # C3
    assert macs["net.6"] == 120 * (16 * 5 * 5)  # C5
    assert macs["net.9"] == 120 * 84 and macs["net.11"] == 84 * 10
    assert macs["total"] == 416_520
    assert training_flops_per_image(LeNet(), (1, 28, 28)) == 6 * 416_520


def test_alexnet_macs_by_hand() -> None:
    macs = count_macs(AlexNet(), (1, 224, 224))
    assert macs["net.0"] == 96 * 54 * 54 * 11 * 11
    assert macs["net.3"] == 256 * 26 * 26 * 96 * 5 * 5
    assert macs["net.14"] == 6400 * 4096
    assert 0.9e9 < macs["total"] < 1.0e9


def test_grouped_conv_and_linear_on_every_position() -> None:
    model = torch.nn.Sequential(torch.nn.Conv2d(4, 8, 3, padding=1, groups=2), torch.nn.Linear(6, 5))
    macs = count_macs(model, (4, 6, 6))
    assert macs["0"] == 8 * 6 * 6 * (4 // 2) * 3 * 3
    assert macs["1"] == (8 * 6 * 5) * 6  # output elements x in_features, for each of the 8 x 6 rows
    assert macs["total"] == macs["0"] + macs["1"]


@pytest.mark.parametrize(
    "model, shape, tail",
    [(LeNet(), (1, 28, 28), (2, 10)), (AlexNet(), (1, 224, 224), (2, 10)), (GoogLeNet(), (1, 28, 28), (2, 10)),
     (ResNet(), (1, 28, 28), (2, 10)), (Inception(10), (10, 12, 12), (2, 88, 12, 12))],
)
def test_networks_match_the_source_shapes(model: torch.nn.Module, shape: tuple, tail: tuple) -> None:
    with torch.no_grad():
        assert tuple(model(torch.zeros(2, *shape)).shape) == tail


def test_known_peaks_match_whole_names() -> None:
    assert known_peak_tflops("NVIDIA H200")["bf16"] == pytest.approx(989.4)
    assert known_peak_tflops("NVIDIA L40S")["fp32"] == pytest.approx(91.6)
    assert known_peak_tflops("NVIDIA L4")["fp32"] == pytest.approx(30.3)
    assert known_peak_tflops("NVIDIA A100-SXM4-80GB")["bf16"] == pytest.approx(312.0)
    assert known_peak_tflops("NVIDIA GeForce GTX 1080") is None


def test_matmul_peak_and_memory_readings_are_positive() -> None:
    assert matmul_peak_tflops(torch.device("cpu"), torch.float32, size=64, seconds=0.01) > 0
    assert 0 < current_rss_mb() <= peak_rss_mb()


def test_bench_one_step_on_synthetic_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import bench_pipelines
    from cnn_course.data import write_synthetic_dataset

    write_synthetic_dataset(tmp_path / "data", "MNIST", train_per_class=30, test_per_class=5)
    monkeypatch.setenv("CNN_COURSE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # torchvision's copy of the files goes here
    args = bench_pipelines.parse_args(["--device", "cpu", "--models", "lenet", "--steps", "1", "--rounds", "2",
                                       "--warmup", "0", "--no-memory", "--out", str(tmp_path / "out"),
                                       "--peak-seconds", "0.01", "--threads", "1"])
    threads = torch.get_num_threads()
    try:
        report = bench_pipelines.run(args, log=lambda *a: None)
    finally:
        torch.set_num_threads(threads)
    (row,) = report["results"]
    assert set(row["pipelines"]) == {"source", "course", "model"}
    assert len(row["ratios"]["course/source"]["per_round"]) == 2
    assert "MNIST train: 300 images" in row["pipelines"]["course"]["describe"]
    saved = json.loads((tmp_path / "out" / "cpu.json").read_text(encoding="utf-8"))
    assert saved["results"][0]["macs_forward"] == 416_520
    assert "| lenet | 256 | 1x28x28 | 1 |" in (tmp_path / "out" / "cpu.md").read_text(encoding="utf-8")
