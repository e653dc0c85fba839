"""Tests for cnn_course.budget: the warm-up times real steps without touching the model; the plan fits the budget."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnn_course import budget
from cnn_course.budget import Plan, measure_speed, plan_training


def tiny_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 10))


def batches(count: int = 5, batch_size: int = 8) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [(torch.randn(batch_size, 1, 8, 8, generator=generator), torch.arange(batch_size) % 10)
            for _ in range(count)]


def test_measure_speed_leaves_the_model_and_the_random_state_alone() -> None:
    model = tiny_net()
    before = [p.detach().clone() for p in model.parameters()]
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    speed, precision = measure_speed(model, batches(), steps=2)
    assert speed > 0 and precision == "fp32"
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert torch.equal(torch.rand(3), expected)


def test_measure_speed_needs_one_batch_more_than_the_timed_steps() -> None:
    measure_speed(tiny_net(), batches(count=3), steps=2)
    with pytest.raises(ValueError, match="只给出了 3 个小批量；测量 3 步需要 4 个"):
        measure_speed(tiny_net(), batches(count=3), steps=3)


def test_plan_uses_whole_batches_that_fit_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "measure_speed", lambda *args, **kwargs: (100.0, "fp32"))
    plan = plan_training(tiny_net(), batches(), seconds=10, maximum=60_000, margin=1.0)
    assert (plan.train_size, plan.batch_size, plan.limited_by) == (1000, 8, "budget")  # 100 img/s x 10 s
    assert plan.expected_seconds == pytest.approx(10.0)
    assert str(plan) == "100 张/秒（fp32，这台 CPU） → 10 s 的预算内训练 1,000 张训练图像（125 步，每步 8 张）"
    odd = plan_training(tiny_net(), batches(), seconds=10.05, maximum=60_000, margin=1.0)
    assert odd.train_size == 1000 and odd.train_size % 8 == 0  # 1,005 rounds down to whole batches


def test_plan_for_a_slower_machine_and_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "measure_speed", lambda *args, **kwargs: (400.0, "bf16"))
    slow = plan_training(tiny_net(), batches(), seconds=10, maximum=60_000, slowdown=4, margin=1.0)
    assert (slow.train_size, slow.img_per_sec, slow.precision) == (1000, 100.0, "bf16")
    assert "一台比这台慢 4.0 倍的机器" in str(slow)
    careful = plan_training(tiny_net(), batches(), seconds=10, maximum=60_000)  # LONG_RUN_FACTOR of the speed
    assert (careful.train_size, careful.img_per_sec, careful.margin) == (3000, 300.0, 0.75)
    assert str(careful).startswith("300 张/秒（bf16，这台 CPU，按预热时速度的 75% 计） → 10 s 的预算内训练 3,000")
    capped = plan_training(tiny_net(), batches(), seconds=10, maximum=800)
    assert (capped.train_size, capped.limited_by) == (800, "maximum") and "全部 800 张训练图像" in str(capped)
    floor = plan_training(tiny_net(), batches(), seconds=0.01, maximum=800, minimum=64)
    assert (floor.train_size, floor.limited_by) == (64, "minimum") and "不够训练最少的量" in str(floor)


def test_no_budget_uses_the_maximum_without_measuring(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("measured without a budget")

    monkeypatch.setattr(budget, "measure_speed", fail)
    plan = plan_training(tiny_net(), batches(), seconds=None, maximum=60_000)
    assert plan == Plan(60_000, 8, None, None, "fp32", 1.0, "maximum")
    assert str(plan) == "这个档位没有时间预算：60,000 张训练图像（7,500 步，每步 8 张）"


def test_a_real_plan_times_the_batches() -> None:
    plan = plan_training(tiny_net(), batches(count=4), seconds=0.5, maximum=4_000, steps=2)
    assert plan.limited_by in ("budget", "maximum") and plan.train_size % 8 == 0
    assert plan.img_per_sec is not None and plan.img_per_sec > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seconds": 0}, "seconds 必须是正的秒数"),
        ({"seconds": "150"}, "seconds 必须是正的秒数.*传入的是 '150'（文本"),
        ({"seconds": 10, "slowdown": 0.5}, "slowdown 必须是至少为 1 的数"),
        ({"seconds": 10, "maximum": 4}, "maximum 必须是至少为 8 的整数，传入的是 4"),
        ({"seconds": 10, "minimum": 99_999}, "minimum 必须是从 1 到 60000 的整数，传入的是 99999"),
        ({"seconds": 10, "margin": 1.5}, "margin 必须是预热时速度的一个比例"),
    ],
)
def test_plan_rejects_bad_arguments_before_measuring(monkeypatch: pytest.MonkeyPatch, kwargs: dict,
                                                     message: str) -> None:
    monkeypatch.setattr(budget, "measure_speed", lambda *args, **kwargs: pytest.fail("measured"))
    with pytest.raises(ValueError, match=message):
        plan_training(tiny_net(), batches(), **{"maximum": 60_000, **kwargs})


def test_bad_model_or_data_is_named() -> None:
    with pytest.raises(ValueError, match="model 必须是一个网络"):
        plan_training(nn.Linear, batches(), seconds=10, maximum=100)
    with pytest.raises(ValueError, match="data_iter 必须是带 batch_size 的加载器"):
        plan_training(tiny_net(), 42, seconds=10, maximum=100)
    with pytest.raises(ValueError, match="data_iter 必须是加载器"):
        measure_speed(tiny_net(), 42)
    with pytest.raises(ValueError, match="steps 必须是"):
        measure_speed(tiny_net(), batches(), steps=0)
