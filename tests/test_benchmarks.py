"""Smoke checks of the benchmark helpers: training FLOPs, peaks, memory readings and tiny runs (no timing asserted).

The networks and the multiply-add counter are tested in tests/test_models.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

import cnn_course
from benchmarks.flops import known_peak_tflops, matmul_peak_tflops, training_flops_per_image
from benchmarks.memory_probe import current_rss_mb, peak_rss_mb
from benchmarks.pipelines import SPECS
from cnn_course.chapters import CHAPTERS
from cnn_course.models import LeNet


def test_training_flops_are_six_per_forward_multiply_add() -> None:
    assert training_flops_per_image(LeNet(), (1, 28, 28)) == 6 * 416_520  # chapter 3's hand count


def test_the_benchmarked_networks_are_the_chapters_benchmark_entries() -> None:
    assert sorted(SPECS) == sorted(chapter.benchmark for chapter in CHAPTERS if chapter.benchmark)


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


@pytest.fixture
def fashion_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny synthetic Fashion-MNIST in $CNN_COURSE_DATA, and torch's thread count restored afterwards."""
    from tests.synthetic import write_synthetic_dataset

    write_synthetic_dataset(tmp_path / "data", "FashionMNIST", train_per_class=3, test_per_class=2)
    monkeypatch.setenv("CNN_COURSE_DATA", str(tmp_path / "data"))
    threads = torch.get_num_threads()
    yield tmp_path
    torch.set_num_threads(threads)


def test_alexnet_cpu_bench_on_a_tiny_configuration(fashion_data: Path) -> None:
    from benchmarks import bench_alexnet_cpu

    argv = ["--variants", "fp32,112-bf16-cl", "--batch-size", "2", "--steps", "1", "--rounds", "2", "--no-warmup",
            "--no-memory", "--acc-steps", "2", "--acc-batch-size", "4", "--acc-test-size", "10", "--threads", "1",
            "--out", str(fashion_data / "out")]
    report = bench_alexnet_cpu.run(bench_alexnet_cpu.parse_args(argv), argv, log=lambda *a: None)
    fp32, fast = report["speed"]["fp32"], report["speed"]["112-bf16-cl"]
    assert fp32["vs_fp32"] == 1.0 and len(fast["vs_fp32_per_round"]) == 2
    assert fast["precision_used"] == ("bf16" if cnn_course.bf16_supported("cpu") else "fp32")
    assert set(report["accuracy"]["runs"]) == {"fp32", "bf16"}
    assert report["accuracy"]["test"].startswith("FashionMNIST test: 10 images")
    text = (fashion_data / "out" / "cpu-alexnet.md").read_text(encoding="utf-8")
    assert "| smaller input, bf16 + channels_last | 1x112x112 |" in text and "bf16 - fp32:" in text
    saved = (fashion_data / "out" / "cpu-alexnet.json").read_text(encoding="utf-8")
    assert str(fashion_data) not in text + saved  # no machine's paths in results


def test_alexnet_cpu_memory_probe_reports_a_peak(fashion_data: Path) -> None:
    from benchmarks.bench_alexnet_cpu import probe_memory

    torch.set_num_threads(1)
    memory = probe_memory("112-fp32", batch_size=2, steps=1)
    assert memory["peak_mb"] >= memory["base_mb"] > 0


def test_long_run_script_writes_what_the_chapter_reads(fashion_data: Path) -> None:
    from benchmarks import alexnet224_long

    out = fashion_data / "out" / "alexnet.json"
    argv = ["--train-size", "20", "--test-size", "10", "--epochs", "1", "--image-size", "112", "--threads", "1",
            "--out", str(out)]
    assert alexnet224_long.main(argv) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert {"what", "train", "test", "epochs", "test_acc", "history", "confusion_matrix", "wall_seconds", "torch",
            "threads", "cpu", "commit", "precision"} <= set(result)
    history = cnn_course.History.from_dict(result["history"])
    assert history.epochs == result["epochs"] == 1 and history.final_valid_acc == result["test_acc"]
    matrix = torch.tensor(result["confusion_matrix"])
    assert matrix.shape == (10, 10) and int(matrix.sum()) == 10
    assert float(matrix.diagonal().sum()) / 10 == pytest.approx(result["test_acc"])
    assert str(fashion_data) not in out.read_text(encoding="utf-8")


def _long_run_argv(out: Path, *more: str) -> list[str]:
    return ["--train-size", "20", "--test-size", "10", "--epochs", "1", "--image-size", "112", "--threads", "1",
            "--out", str(out), *more]


def test_long_run_script_never_replaces_a_result_without_force(fashion_data: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import alexnet224_long

    out = fashion_data / "out" / "kept.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text('{"test_acc": 0.9}\n', encoding="utf-8")
    with pytest.raises(SystemExit) as stopped:
        alexnet224_long.main(_long_run_argv(out))
    assert stopped.value.code == 2
    assert f"{out} 是之前运行留下的；加上 --force 可以替换它" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == '{"test_acc": 0.9}\n'
    assert alexnet224_long.main(_long_run_argv(out, "--force", "--log-every", "1")) == 0
    assert "epoch 1/1 step 1/1: loss" in capsys.readouterr().err  # the log line of a long run
    assert json.loads(out.read_text(encoding="utf-8"))["epochs"] == 1


@pytest.mark.parametrize("where, message", [
    ("a-file/alexnet.json", "输出文件夹 {tmp}/a-file 是一个文件；请另选 --out"),
    ("a-file/sub/alexnet.json", "输出文件夹 {tmp}/a-file/sub 会位于文件 {tmp}/a-file 之下；请另选 --out"),
    ("a-folder", "{tmp}/a-folder 是文件夹，而这里要写入一个文件；请另选 --out"),
    ("locked/alexnet.json", "无法写入 {tmp}/locked（没有权限）；请另选 --out"),
])
def test_long_run_script_checks_where_it_writes_before_training(
    where: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks import alexnet224_long

    def never(*args: object) -> None:
        raise AssertionError("training started before the output was checked")

    monkeypatch.setattr(alexnet224_long, "run", never)
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "locked").mkdir()
    real_access = os.access
    # Tests run as root, for whom every folder is writable: the permission is what os.access says.
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path / "locked" and real_access(path, mode))
    with pytest.raises(SystemExit) as stopped:
        alexnet224_long.main(_long_run_argv(tmp_path / where))
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith(f": error: {message.format(tmp=tmp_path)}\n"), err


def test_long_run_script_writes_nothing_after_ctrl_c(fashion_data: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import alexnet224_long

    def press_ctrl_c(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(alexnet224_long.LogLines, "on_step", press_ctrl_c)
    out = fashion_data / "out" / "interrupted.json"
    assert alexnet224_long.main(_long_run_argv(out, "--log-every", "1")) == 130
    assert not out.exists()
    assert "was not written" in capsys.readouterr().err
