"""Probe runs of chapter 5 and appendix 05a: what they record, how they describe it, what they refuse."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from cnn_course import probes
from cnn_course.models import GoogLeNet, LeNet, PaperGoogLeNet
from cnn_course.probes import (
    ProbeRecord,
    clipped_recipe,
    describe_probe,
    improved_recipe,
    plot_probes,
    run_probe,
    source_recipe,
    watch,
)


def record(loss: list[float], dead: list[int], outcome: str = "trains") -> ProbeRecord:
    return {"grad_norm": [1.0] * len(loss), "dead": dead, "loss": loss, "channels": 20, "outcome": outcome}


def test_watch_counts_training_steps_only() -> None:
    torch.manual_seed(0)
    model = GoogLeNet()
    watched = watch(model)
    X, y = torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    nn.functional.cross_entropy(model(X), y).backward()
    model.eval()
    with torch.no_grad():
        model(X)
    assert len(watched["grad_norm"]) == 1 and watched["grad_norm"][0] > 0
    assert len(watched["dead"]) == 1 and 0 <= watched["dead"][0] <= 20
    assert watched["channels"] == 20


def test_watch_counts_a_channel_dead_only_when_it_is_zero_everywhere() -> None:
    model = GoogLeNet()
    watched = watch(model)
    conv = model.net[4]
    assert isinstance(conv, nn.Conv2d) and conv.bias is not None
    with torch.no_grad():
        conv.bias[:3] = -1e6  # three channels negative for every input: dead after the ReLU
        conv.bias[3:] = 1e6  # the rest positive everywhere: alive
    model(torch.randn(2, 1, 28, 28))
    assert watched["dead"] == [3]


def test_watch_refuses_another_network() -> None:
    with pytest.raises(ValueError, match="model must be chapter 5's GoogLeNet"):
        watch(LeNet())


def test_recipes_give_the_options_the_chapters_describe() -> None:
    model = GoogLeNet()
    source = source_recipe(model)
    assert set(source) == {"optimizer"}
    assert source["optimizer"].defaults["lr"] == 0.1 and source["optimizer"].defaults["momentum"] == 0
    assert clipped_recipe(model)["clip_grad_norm"] == 2.0
    improved = improved_recipe(model)
    defaults = improved["optimizer"].defaults
    assert (defaults["lr"], defaults["momentum"], defaults["nesterov"]) == (0.1, 0.9, True)
    assert defaults["weight_decay"] == 5e-4
    assert (improved["scheduler"], improved["clip_grad_norm"]) == ("onecycle", 2.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -1}, "seed 必须是非负整数，传入的是 -1"),
        ({"seed": 1.5}, "seed 必须是非负整数，传入的是 1.5（不是整数）"),
        ({"train_size": 0}, "train_size 必须是"),
        ({"epochs": True}, "epochs 必须是"),
        ({"threads": 0}, "threads 必须是"),
        ({"recipe": "source"}, "recipe must be a function"),
        ({"init": "he"}, "init must be None or a function"),
        ({"network": "paper"}, "network must be a class or function"),
        ({"verbose": 1}, "verbose 必须是 True 或 False"),
    ],
)
def test_run_probe_refuses_bad_arguments_before_loading_data(
    kwargs: dict[str, Any], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_loading(*args: Any, **kw: Any) -> None:
        raise AssertionError("load_data was called before the arguments were checked")

    monkeypatch.setattr(probes, "load_data", no_loading)
    arguments: dict[str, Any] = {"seed": 0, "recipe": source_recipe, "train_size": 256, **kwargs}
    with pytest.raises(ValueError, match=message):
        run_probe(**arguments)


def test_run_probe_records_every_step_and_restores_threads() -> None:
    threads = torch.get_num_threads()
    model, watched = run_probe(0, clipped_recipe, train_size=256, epochs=2, threads=1)
    assert isinstance(model, GoogLeNet)
    assert torch.get_num_threads() == threads
    assert len(watched["loss"]) == len(watched["dead"]) == len(watched["grad_norm"]) == 4  # 2 epochs of 2 steps
    assert watched["outcome"] in ("trains", "stalled at chance")
    assert all(math.isfinite(v) for v in watched["loss"])


def test_run_probe_trains_the_network_it_is_given() -> None:
    model, watched = run_probe(3, source_recipe, train_size=256, network=PaperGoogLeNet)
    assert isinstance(model, PaperGoogLeNet) and len(watched["loss"]) == 2 and watched["channels"] == 20
    _, default = run_probe(3, source_recipe, train_size=256)
    _, named = run_probe(3, source_recipe, train_size=256, network=GoogLeNet)
    assert default["loss"] == named["loss"] and default["loss"] != watched["loss"]


def test_run_probe_refuses_a_network_without_conv2_and_relu2() -> None:
    with pytest.raises(ValueError, match="model must be chapter 5's GoogLeNet or PaperGoogLeNet"):
        run_probe(0, source_recipe, train_size=256, network=LeNet)


def test_run_probe_is_repeatable_for_a_seed() -> None:
    _, first = run_probe(3, source_recipe, train_size=256)
    _, again = run_probe(3, source_recipe, train_size=256)
    assert first["loss"] == again["loss"] and first["dead"] == again["dead"]


def test_run_probe_reports_divergence_and_prints_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    def explosive_recipe(model: nn.Module) -> dict[str, Any]:
        return {"optimizer": torch.optim.SGD(model.parameters(), lr=1e6)}

    _, watched = run_probe(0, explosive_recipe, train_size=512, epochs=3, verbose=True)
    assert watched["outcome"] == "diverged (NaN)"
    assert not math.isfinite(watched["loss"][-1])
    assert "diverged (NaN)" in describe_probe("explosive", watched)


def test_describe_probe_reads_like_the_chapters() -> None:
    stalled = record([2.3, 3.9, 2.5, 2.305], [0, 12, 20, 20])
    stalled["outcome"] = "stalled at chance"
    assert describe_probe("seed 1, source recipe", stalled) == (
        "seed 1, source recipe          stalled at chance after 4 steps: highest loss 3.9 (step 2), last 2.305, "
        "at most 20 of 20 channels dead, all 20 from step 3"
    )
    diverged = record([2.3, 6.85e9, float("nan")], [0, 19, 19], "diverged (NaN)")
    assert describe_probe("seed 1, 2 threads", diverged) == (
        "seed 1, 2 threads                 diverged (NaN) after 3 steps: highest loss 6.85e+09 (step 2), last nan, "
        "at most 19 of 20 channels dead"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"loss": [1.0]}, "record must be a record from run_probe"),
        (record([float("nan")], [0]), "no finite loss"),
        ("trains", "record must be a record from run_probe"),
    ],
)
def test_describe_probe_refuses_what_is_not_a_finished_record(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        describe_probe("seed 0", value)


def test_describe_probe_wants_a_text_label() -> None:
    label: Any = 1
    with pytest.raises(ValueError, match="name must be text"):
        describe_probe(label, record([2.3], [0]))


def test_plot_probes_draws_three_panels_with_one_line_per_probe() -> None:
    fig = plot_probes({"a": record([2.3, 2.0], [0, 1]), "b": record([2.3, 2.1, 1.9], [0, 0, 0])}, steps=2)
    axes = fig.axes
    assert len(axes) == 3
    assert [len(ax.get_lines()) for ax in axes] == [3, 2, 2]  # the loss panel adds the ln 10 line
    assert all(np.size(line.get_xdata()) <= 2 for ax in axes for line in ax.get_lines()[:2])
    assert axes[2].get_title() == "dead channels after ReLU 2 (of 20)"


@pytest.mark.parametrize(
    ("records", "steps", "message"),
    [({}, 40, "records must map"), (None, 40, "records must map"), ({"a": record([2.3], [0])}, 0, "steps 必须是")],
)
def test_plot_probes_refuses_bad_input(records: Any, steps: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plot_probes(records, steps)
