"""A time budget for training: measure a few steps, then choose how many training images fit.

A profile that must finish within minutes on any CPU cannot fix the number of images: a laptop
without native bf16 may train several times slower than the machine a chapter was written on.
:func:`plan_training` times a short warm-up on a copy of the network and returns a :class:`Plan`
whose ``train_size`` fits the budget there; its text says what was measured and what was chosen.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ._checks import check_int, check_model, describe, is_positive_number
from .batches import DataIter, autocast, batches, forward
from .runtime import resolve_device, resolve_precision

__all__ = ["LONG_RUN_FACTOR", "Plan", "measure_speed", "plan_training"]

#: A long training run's speed as a fraction of a few warm-up steps' speed: measured in chapter 4's quick
#: profile on a 2-core CPU as 0.76 (bf16) and 0.79 (fp32) for AlexNet, 0.93 for VGG. Plans use this much of
#: the measured speed, so that a run ends within its budget.
LONG_RUN_FACTOR = 0.75


@dataclass(frozen=True)
class Plan:
    """How many training images a time budget allows, and why.

    Attributes:
        train_size: training images to use: whole batches, at most ``maximum``.
        batch_size: images per step.
        seconds: the budget for the training steps, or None when the profile has none.
        img_per_sec: the speed planned with: the warm-up's, times ``margin``, divided by ``slowdown`` (None when
            not measured).
        precision: the arithmetic the warm-up (and training) uses: ``'fp32'``, ``'bf16'`` or ``'fp16'``.
        slowdown: the speed was divided by this to plan for a slower machine (1.0: this one).
        margin: the fraction of the warm-up's speed planned with (see :data:`LONG_RUN_FACTOR`).
        limited_by: ``'budget'``, ``'maximum'`` (all the images asked for fit) or ``'minimum'``
            (the budget allows fewer than ``minimum``; ``minimum`` is used anyway).
    """

    train_size: int
    batch_size: int
    seconds: float | None
    img_per_sec: float | None
    precision: str
    slowdown: float = 1.0
    limited_by: str = "budget"
    margin: float = 1.0

    @property
    def expected_seconds(self) -> float | None:
        """Seconds the training steps should take at the measured speed (None when not measured)."""
        return None if self.img_per_sec is None else self.train_size / self.img_per_sec

    def __str__(self) -> str:
        steps = f"{self.train_size:,} 张训练图像（{self.train_size // self.batch_size:,} 步，" \
                f"每步 {self.batch_size} 张）"
        if self.seconds is None or self.img_per_sec is None:
            return f"这个档位没有时间预算：{steps}"
        where = "这台 CPU" if self.slowdown == 1 else f"一台比这台慢 {self.slowdown:.1f} 倍的机器"
        speed = f"{self.img_per_sec:,.0f} 张/秒（{self.precision}，{where}"
        speed += "）" if self.margin == 1 else f"，按预热时速度的 {self.margin:.0%} 计）"
        if self.limited_by == "maximum":
            return f"{speed}：全部 {steps} 都能在 {self.seconds:g} s 的预算内训练完（约 {self.expected_seconds:.0f} s）"
        if self.limited_by == "minimum":
            return (f"{speed}：{self.seconds:g} s 的预算不够训练最少的量；仍然用 {steps}，"
                    f"约 {self.expected_seconds:.0f} s")
        return f"{speed} → {self.seconds:g} s 的预算内训练 {steps}"


def measure_speed(
    model: nn.Module,
    data_iter: DataIter,
    *,
    precision: str = "fp32",
    channels_last: bool = False,
    steps: int = 3,
    device: str | torch.device | None = None,
) -> tuple[float, str]:
    """Time ``steps`` training steps (batch, forward, loss, backward, SGD update) on a copy of ``model``.

    The batches come from ``data_iter``, so reading and resizing them is timed too; ``model`` and the
    global random state are left as they were. One untimed step first lets the libraries choose their
    algorithms.

    Args:
        model: the network to time (not changed).
        data_iter: a :class:`cnn_course.Loader` or any iterable of ``(X, y)`` batches, as training reads them;
            it needs ``steps + 1`` batches.
        precision: as in :func:`cnn_course.train` (``'auto'`` picks what training would).
        channels_last: time the channels-last memory layout, as training with it would run.
        steps: timed steps (at least 1).
        device: None picks CUDA, then MPS, then CPU.

    Returns:
        ``(training images per second, precision used)``.

    Raises:
        ValueError: for a bad argument, too few batches, or batches the model cannot take.
    """
    check_model(model)
    steps = check_int(steps, "steps", 1)
    if not isinstance(data_iter, Iterable):
        raise ValueError(f"data_iter 必须是加载器，或能逐个给出 (X, y) 小批量的可迭代对象，例如 cnn_course.load_data "
                         f"返回的 train_iter，传入的是 {describe(data_iter)}")
    dev = resolve_device(device)
    chosen, _ = resolve_precision(precision, dev)
    copied = copy.deepcopy(model).to(dev).train()
    if channels_last:
        copied = copied.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(copied.parameters(), lr=1e-6, momentum=0.9)
    images, start, count = 0, 0.0, 0
    with torch.random.fork_rng(devices=[]):  # the loader's shuffling and any dropout draw here, not globally
        for count, (X, y) in enumerate(batches(data_iter, "data_iter", dev, channels_last), start=1):
            with autocast(dev, chosen):
                y_hat = forward(copied, X, "data_iter")
                loss = nn.functional.cross_entropy(y_hat.float(), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            if count == 1:  # untimed: the first step chooses algorithms and allocates memory
                start = time.perf_counter()
                continue
            images += len(y)
            if count == steps + 1:
                return images / (time.perf_counter() - start), chosen
    raise ValueError(f"data_iter 只给出了 {count} 个小批量；测量 {steps} 步需要 {steps + 1} 个"
                     "（先有一步不计时，然后是计时的那些步）：请用更多训练图像或更小的 batch_size")


def plan_training(
    model: nn.Module,
    data_iter: DataIter,
    *,
    seconds: float | None,
    maximum: int,
    minimum: int | None = None,
    precision: str = "fp32",
    channels_last: bool = False,
    slowdown: float = 1.0,
    margin: float = LONG_RUN_FACTOR,
    steps: int = 3,
    device: str | torch.device | None = None,
) -> Plan:
    """Choose how many training images fit ``seconds`` of training steps, from a measured warm-up.

    Args:
        model: the network to be trained (timed on a copy, see :func:`measure_speed`).
        data_iter: training batches as the run will read them (their size is the plan's batch size),
            e.g. a ``train_iter`` of :func:`cnn_course.load_data` over all the training images.
        seconds: the budget for the training steps of one run (None: no budget, use ``maximum``).
        maximum: the most training images to use (e.g. the size of the training set).
        minimum: the fewest, even when the budget allows less (default: one batch).
        precision, channels_last: as the training will use them.
        slowdown: plan for a machine this many times slower than this one (1.0: this machine).
        margin: plan with this fraction of the warm-up's speed, since a long run is slower than a few steps
            (default :data:`LONG_RUN_FACTOR`; 1.0 trusts the warm-up).
        steps: timed warm-up steps.
        device: None picks CUDA, then MPS, then CPU.

    Returns:
        A :class:`Plan` with whole batches; ``str(plan)`` says what was measured and what was chosen.

    Raises:
        ValueError: for a bad argument (named, with what would work), before anything is timed.
    """
    check_model(model)
    batch_size = getattr(data_iter, "batch_size", None)
    if batch_size is None and isinstance(data_iter, Sequence) and data_iter:
        batch_size = len(data_iter[0][1])
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"data_iter 必须是带 batch_size 的加载器，或由 (X, y) 小批量组成的列表，"
                         f"传入的是 {describe(data_iter)}")
    maximum = check_int(maximum, "maximum", batch_size)
    minimum = batch_size if minimum is None else check_int(minimum, "minimum", 1, maximum)
    if seconds is not None and not is_positive_number(seconds):
        raise ValueError(f"seconds 必须是正的秒数，例如 150，或者用 None 表示没有时间预算，"
                         f"传入的是 {describe(seconds)}")
    if not is_positive_number(slowdown) or slowdown < 1:
        raise ValueError(f"slowdown 必须是至少为 1 的数（计划所针对的机器比这台慢几倍），"
                         f"传入的是 {describe(slowdown)}")
    if not is_positive_number(margin) or margin > 1:
        raise ValueError(f"margin 必须是预热时速度的一个比例，大于 0 且至多为 1，例如 0.75，"
                         f"传入的是 {describe(margin)}")
    if seconds is None:
        chosen, _ = resolve_precision(precision, resolve_device(device))
        return Plan(maximum, batch_size, None, None, chosen, float(slowdown), "maximum")
    speed, chosen = measure_speed(model, data_iter, precision=precision, channels_last=channels_last, steps=steps,
                                  device=device)
    speed = speed * margin / slowdown
    fits = math.floor(seconds * speed / batch_size) * batch_size
    limited_by = "maximum" if fits >= maximum else "minimum" if fits < minimum else "budget"
    size = {"maximum": maximum, "minimum": minimum, "budget": fits}[limited_by]
    return Plan(size, batch_size, float(seconds), speed, chosen, float(slowdown), limited_by, float(margin))
