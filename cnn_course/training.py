"""Training: the five steps of mini-batch gradient descent, in a loop that records a :class:`History`.

Chapter 3 writes this loop out by hand; :func:`train` is the same five steps with what a longer
run adds around them, each visible where it acts: a learning-rate schedule, gradient clipping and
mixed precision. Argument checks live in :mod:`cnn_course._checks`, batch handling in
:mod:`cnn_course.batches`, the advice when a run goes wrong in :mod:`cnn_course.history`.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Sequence, Sized
from typing import Any

import torch
from torch import nn

from ._checks import SCHEDULES, check_train_arguments
from .batches import DataIter, autocast, batches, check_labels, check_loss, forward
from .callbacks import Callback, EpochPrinter, LivePlot, ProgressBar
from .evaluation import evaluate_batches
from .history import History, TrainingDiverged, diverged_message, stabilisers, warn_if_chance
from .runtime import in_notebook, resolve_device, resolve_precision

__all__ = ["LOSS_READ_INTERVAL", "SCHEDULES", "train"]

#: Steps between two reads of the loss, per device type. Reading a loss makes the CPU wait for
#: the device: free on a CPU, but on a GPU it empties the queue of work, so there it reads in groups.
LOSS_READ_INTERVAL: dict[str, int] = {"cpu": 1, "cuda": 25, "mps": 25}

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
SchedulerFactory = Callable[[torch.optim.Optimizer, int], Any]


def train(
    model: nn.Module,
    train_iter: DataIter,
    valid_iter: DataIter | None,
    *,
    epochs: int,
    lr: float | None = None,
    device: str | torch.device | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    loss_fn: LossFn | None = None,
    scheduler: str | SchedulerFactory | None = None,
    clip_grad_norm: float | None = None,
    precision: str = "fp32",
    channels_last: bool = False,
    live_plot: bool = True,
    progress: bool = True,
    verbose: bool = True,
    callbacks: Sequence[Callback] = (),
) -> History:
    """Train ``model`` with mini-batch gradient descent and record a :class:`History`.

    The default is the source course's recipe: plain SGD with learning rate ``lr`` and
    cross-entropy loss. Better recipes pass an ``optimizer`` (e.g. SGD with momentum), a
    ``scheduler`` and ``clip_grad_norm``. After every epoch the model is evaluated on ``valid_iter``,
    always in fp32 (as :func:`cnn_course.evaluate`): the numbers a recipe is chosen by do not depend on
    the training precision. Keep the test set for one evaluation at the end.

    Args:
        model: the network; it is moved to ``device``.
        train_iter, valid_iter: a :class:`cnn_course.Loader` or any iterable of ``(X, y)`` batches
            (float images, int class labels), read once per epoch; ``valid_iter`` may be None.
        epochs: passes over ``train_iter``.
        lr: learning rate of the default SGD (leave None when giving ``optimizer``).
        device: None picks CUDA, then MPS, then CPU.
        optimizer: any ``torch.optim`` optimizer over ``model``'s parameters.
        loss_fn: default ``nn.CrossEntropyLoss()``.
        scheduler: ``'cosine'`` (anneal to 0), ``'onecycle'`` (warm up, then anneal) or a function
            ``(optimizer, total_steps) -> scheduler``; stepped after every batch.
        clip_grad_norm: when set, before each update the gradient of all parameters together
            is scaled down to this norm if it is longer (gradient clipping), e.g. ``2.0``.
        precision: ``'fp32'``; ``'bf16'`` (bfloat16 autocast, where the CPU or GPU supports it);
            ``'fp16'`` (float16 autocast with a gradient scaler, for GPUs without bf16); or
            ``'auto'`` (the fastest safe one). A one-line notice says when fp32 is used instead.
        channels_last: store images and weights channels-last (faster convolutions on many devices).
        live_plot: redraw the loss curve while training (shown in a notebook only).
        progress: show a progress bar (in a notebook, or on a terminal's stderr).
        verbose: print one line per epoch.
        callbacks: more :class:`cnn_course.callbacks.Callback` objects to call.

    Returns:
        The :class:`History`. Ctrl-C (the notebook's stop button), also during evaluation, ends
        training early and returns the history so far: the completed epochs, plus the losses of
        the unfinished one (``history.unfinished_epoch``). The model keeps what it learned.

    Raises:
        ValueError: for a bad argument, or data, a model output or a loss that cannot train; the
            message names it and says what works. The first batch is checked before the first update.
        ShapeError: when the model cannot take the images (the message names the layer).
        TrainingDiverged: when the loss becomes NaN or infinite; its ``history`` holds the record.
    """
    flags = dict(channels_last=channels_last, live_plot=live_plot, progress=progress, verbose=verbose)
    check_train_arguments(model, train_iter, valid_iter, epochs=epochs, lr=lr, optimizer=optimizer, loss_fn=loss_fn,
                          scheduler=scheduler, clip_grad_norm=clip_grad_norm, flags=flags, callbacks=callbacks)
    dev = resolve_device(device)
    precision, notice = resolve_precision(precision, dev)
    steps_per_epoch = len(train_iter) if isinstance(train_iter, Sized) else 0
    model.to(dev)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if optimizer is None:
        assert lr is not None  # check_train_arguments asks for lr when there is no optimizer
        optimizer = torch.optim.SGD(model.parameters(), lr=float(lr))
    if loss_fn is None:
        loss_fn = nn.CrossEntropyLoss()
    untried = stabilisers(scheduled=scheduler is not None, clipped=clip_grad_norm is not None)  # for advice
    lr_scheduler = _make_scheduler(scheduler, optimizer, steps_per_epoch * epochs)
    scaler = torch.amp.GradScaler(dev.type) if precision == "fp16" else None  # fp16 only: see step 4
    describe = getattr(valid_iter, "describe", None)
    history = History(device=str(dev), precision=precision, epochs_planned=epochs, steps_per_epoch=steps_per_epoch,
                      valid_data=str(describe()) if callable(describe) else "")
    if notice:
        print(notice)
        history.notes.append(notice)
    shown = _default_callbacks(live_plot, progress, verbose) + list(callbacks)
    pending: list[torch.Tensor] = []  # losses not yet read from the device
    every = LOSS_READ_INTERVAL.get(dev.type, 25)

    epoch, phase = 0, "before training"
    for callback in shown:
        callback.on_train_begin(history)
    try:
        for epoch in range(1, epochs + 1):
            phase = "training"
            model.train()
            start, drawing = time.perf_counter(), 0.0  # seconds spent drawing are not training time
            correct = torch.zeros((), device=dev)  # summed on the device: no wait per step
            sizes: list[int] = []
            for X, y in batches(train_iter, "train_iter", dev, channels_last, epoch):
                first = epoch == 1 and not sizes  # the first step: checked before any update
                with autocast(dev, precision):  # 16-bit arithmetic inside, where precision asks for it
                    y_hat = forward(model, X, "train_iter")  # 1. forward: one score per class for every image
                    if first:
                        check_labels(y_hat, y, "train_iter")  # a label with no score, said before the loss fails
                    loss = loss_fn(y_hat, y)  # 2. loss: the mean cross-entropy over the batch
                if first:
                    check_loss(loss, y_hat)  # a scalar tensor, finite before any update
                optimizer.zero_grad()  # 3. clear the gradients of the previous step
                if scaler is None:
                    loss.backward()  # 4. backward: d loss / d parameter, for every parameter
                else:  # fp16: scale the loss up so that small gradients do not round to 0, then back down
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimizer)
                if clip_grad_norm is not None:  # shorten the whole gradient to this length if it is longer
                    nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
                if scaler is None:
                    optimizer.step()  # 5. update: w <- w - lr * gradient
                else:
                    scaler.step(optimizer)  # skipped when fp16 overflowed
                    scaler.update()
                if lr_scheduler is not None:
                    lr_scheduler.step()  # the learning rate of the next step
                pending.append(loss.detach().float())  # read in groups: see LOSS_READ_INTERVAL
                correct += (y_hat.detach().argmax(dim=1) == y).sum()
                sizes.append(len(y))
                if len(pending) == every:
                    drawing += _read_losses(pending, history, shown, epoch, sizes, X, optimizer, untried)
            if pending:
                drawing += _read_losses(pending, history, shown, epoch, sizes, X, optimizer, untried)
            _synchronize(dev)  # the last update may still be running on a GPU: count it in this epoch
            seconds = time.perf_counter() - start - drawing
            phase = "evaluating"
            valid_acc = None if valid_iter is None else evaluate_batches(model, valid_iter, dev, "fp32", "valid_iter")
            images = sum(sizes)
            epoch_loss = sum(v * n for v, n in zip(history.step_losses[-len(sizes):], sizes, strict=True)) / images
            history.add_epoch(epoch_loss, float(correct) / images, seconds, images, valid_acc)
            history.steps_per_epoch = history.steps_per_epoch or len(sizes)  # known now if train_iter has no len
            phase = "after"
            for callback in shown:
                callback.on_epoch_end(history)
            classes = getattr(train_iter, "classes", None)
            warn_if_chance(history, len(classes) if classes else y_hat.shape[1], _lr(optimizer), untried)
    except KeyboardInterrupt:
        _interrupted(history, epoch, phase, pending)
    finally:
        for callback in shown:
            try:
                callback.on_train_end(history)
            except KeyboardInterrupt:  # a second Ctrl-C while the last picture is drawn: keep the history
                history.interrupted = True
    return history


def _read_losses(pending: list[torch.Tensor], history: History, callbacks: Sequence[Callback], epoch: int,
                 sizes: list[int], X: torch.Tensor, optimizer: torch.optim.Optimizer, untried: list[str]) -> float:
    """Move the losses kept on the device into ``history`` (one wait for the whole group) and call ``on_step``.

    Args:
        pending: the losses not read yet, emptied here.
        history, callbacks, epoch: the run.
        sizes: the batch sizes of this epoch so far.
        X: the last batch's images, examined only when its loss is not finite.
        optimizer, untried: for the advice when the loss is not finite (see :func:`diverged_message`).

    Returns:
        The seconds the callbacks took.

    Raises:
        TrainingDiverged: when a loss is not finite, with advice; ``history`` is marked as diverged.
    """
    values = torch.stack(pending).cpu().tolist()
    pending.clear()
    history.step_losses.extend(values)
    bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
    if bad is not None:
        history.diverged, history.unfinished_epoch = True, epoch
        step = len(history.step_losses) - len(values) + bad + 1
        broken = bad == len(values) - 1 and not bool(torch.isfinite(X).all())  # the last batch's own images
        message = diverged_message(values[bad], step, epoch, _lr(optimizer), untried, history.precision,
                                   broken_batch=len(sizes) if broken else None)
        raise TrainingDiverged(message, history)
    start = time.perf_counter()
    for callback in callbacks:
        callback.on_step(history, epoch, len(sizes), sum(sizes))
    return time.perf_counter() - start


def _interrupted(history: History, epoch: int, phase: str, pending: list[torch.Tensor]) -> None:
    """Ctrl-C: keep every loss already computed, mark the unfinished epoch and say so in one line."""
    with contextlib.suppress(Exception):  # pending may be empty, or the device gone
        history.step_losses.extend(torch.stack(pending).cpu().tolist())
    history.interrupted = True
    if history.epochs < epoch:
        history.unfinished_epoch = epoch
    doing = {"training": "训练", "evaluating": "评估"}.get(phase)
    where = f"在第 {epoch} 轮{doing}时" if doing else f"在第 {epoch} 轮之后"
    print(
        f"训练{where}被中断（已完成 {len(history.step_losses)} 步）；模型保留已经学到的东西，"
        f"history 里记录了 {history.epochs} 个完成的轮。"
    )


def _lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _default_callbacks(live_plot: bool, progress: bool, verbose: bool) -> list[Callback]:
    """The displays that someone can see here: all in a notebook, text on a terminal, lines in a log."""
    notebook = in_notebook()
    try:
        terminal = sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        terminal = False
    chosen: list[Callback] = []
    if live_plot and notebook:
        chosen.append(LivePlot())
    if progress and (notebook or terminal):
        chosen.append(ProgressBar())
    if verbose:
        chosen.append(EpochPrinter())
    return chosen


def _make_scheduler(schedule: str | SchedulerFactory | None, optimizer: torch.optim.Optimizer,
                    total_steps: int) -> Any:
    if schedule is None:
        return None
    if callable(schedule):
        made = schedule(optimizer, total_steps)
        if not callable(getattr(made, "step", None)):
            raise ValueError(f"scheduler 函数必须返回一个带 step() 方法的调度器，它返回的是 {made!r}")
        return made
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    max_lr = [g["lr"] for g in optimizer.param_groups]
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total_steps)
