"""Smoke checks of the benchmark helpers: training FLOPs, peaks, memory readings and a one-step run (no timing asserted).

The networks and the multiply-add counter are tested in tests/test_models.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmarks.flops import known_peak_tflops, matmul_peak_tflops, training_flops_per_image
from benchmarks.memory_probe import current_rss_mb, peak_rss_mb
from benchmarks.pipelines import SPECS
from cnn_course.models import LeNet


def test_training_flops_are_six_per_forward_multiply_add() -> None:
    assert training_flops_per_image(LeNet(), (1, 28, 28)) == 6 * 416_520  # chapter 3's hand count


@pytest.mark.parametrize("name", sorted(SPECS))
def test_each_benchmark_network_takes_its_data(name: str) -> None:
    spec = SPECS[name]
    with torch.no_grad():
        assert tuple(spec.factory()(torch.zeros(2, *spec.input_shape)).shape) == (2, 10)


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
    from tests.synthetic import write_synthetic_dataset

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
