"""Training: the five steps of mini-batch gradient descent, in a loop that records a :class:`History`.

Chapter 3 writes this loop out by hand; :func:`train` is the same five steps with what a
longer run needs around them: a learning-rate schedule, gradient clipping, mixed precision,
checks that turn PyTorch's internal errors into plain advice, and a history that stays
consistent when a run is interrupted or diverges.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
import warnings
from collections.abc import Iterable, Sequence, Sized
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from ._checks import check_bool, check_int, check_model, is_positive_number
from .callbacks import Callback, EpochPrinter, LivePlot, ProgressBar
from .evaluation import (
    autocast,
    check_batches,
    check_labels,
    forward,
    label_error,
    no_batch_error,
    predict_batches,
    unpack_batch,
)
from .history import ChanceLevelWarning, History, TrainingDiverged
from .runtime import in_notebook, resolve_device, resolve_precision

__all__ = ["LOSS_READ_INTERVAL", "SCHEDULES", "train"]

#: The learning-rate schedules ``train`` knows by name (a function works too; see :func:`train`).
SCHEDULES = ("cosine", "onecycle")

#: Steps between two reads of the loss, per device type. Reading a loss makes the CPU wait for
#: the device: free on a CPU, but on a GPU it empties the queue of work, so there it reads in groups.
LOSS_READ_INTERVAL: dict[str, int] = {"cpu": 1, "cuda": 25, "mps": 25}

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
SchedulerFactory = Callable[[torch.optim.Optimizer, int], Any]


@dataclass
class _Recipe:
    """Everything one update step needs, fixed before training starts."""

    model: nn.Module
    loss_fn: LossFn
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: Any  # torch.amp.GradScaler; it does nothing unless precision is fp16
    device: torch.device
    precision: str
    clip_grad_norm: float | None
    channels_last: bool


@dataclass
class _EpochResult:
    loss: float
    accuracy: float
    images: int
    callback_seconds: float
    num_outputs: int | None


class _LossReader:
    """Keeps the losses of recent steps on the device and reads them to the CPU in one go."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.pending: list[torch.Tensor] = []
        self.sizes: list[int] = []
        self.loss_sum = 0.0  # sum over read steps of loss x batch size

    def add(self, loss: torch.Tensor, size: int) -> None:
        self.pending.append(loss.detach().float())
        self.sizes.append(size)

    def due(self) -> bool:
        return len(self.pending) >= self.every

    def read(self) -> list[float]:
        if not self.pending:
            return []
        values = torch.stack(self.pending).cpu().tolist()
        self.loss_sum += sum(v * n for v, n in zip(values, self.sizes))
        self.pending.clear()
        self.sizes.clear()
        return values


def _train_step(r: _Recipe, X: torch.Tensor, y: torch.Tensor, check: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of mini-batch gradient descent, the five steps of chapter 3; return ``(loss, y_hat)``."""
    with autocast(r.device, r.precision):  # 16-bit arithmetic inside, where precision asks for it
        y_hat = forward(r.model, X, "train_iter")  # 1. forward: one score per class for every image
        if check:
            check_labels(y_hat, y, "train_iter")  # before cross-entropy fails with an IndexError
        loss = r.loss_fn(y_hat, y)  # 2. loss: the mean over the batch
    r.optimizer.zero_grad(set_to_none=True)  # 3. clear the gradients of the previous step
    r.scaler.scale(loss).backward()  # 4. backward: d loss / d parameter (the scaler only acts in fp16)
    if r.clip_grad_norm is not None:
        r.scaler.unscale_(r.optimizer)  # clip the true gradient, not the fp16-scaled one
        nn.utils.clip_grad_norm_(r.model.parameters(), r.clip_grad_norm)
    r.scaler.step(r.optimizer)  # 5. update: w <- w - lr * gradient (skipped if fp16 overflowed)
    r.scaler.update()
    if r.scheduler is not None:
        r.scheduler.step()
    return loss, y_hat


def _read_losses(reader: _LossReader, history: History, r: _Recipe, epoch: int) -> None:
    """Move the pending losses into ``history``; stop with advice when one is not finite."""
    values = reader.read()
    history.step_losses.extend(values)
    bad = next((v for v in values if not math.isfinite(v)), None)
    if bad is not None:
        raise TrainingDiverged(_diverged_message(bad, len(history.step_losses), epoch, r), history)


def _train_epoch(r: _Recipe, train_iter: Iterable, history: History, epoch: int,
                 callbacks: Sequence[Callback]) -> _EpochResult:
    """One pass over ``train_iter``; losses go into ``history`` as they are read."""
    r.model.train()
    reader = _LossReader(LOSS_READ_INTERVAL.get(r.device.type, 25))
    correct = torch.zeros((), device=r.device)  # summed on the device: no wait per step
    images = steps = 0
    callback_seconds = 0.0
    num_outputs = None
    try:
        for batch in train_iter:
            X, y = unpack_batch(batch, "train_iter")
            X, y = X.to(r.device, non_blocking=True), y.to(r.device, non_blocking=True)
            if r.channels_last:
                X = X.contiguous(memory_format=torch.channels_last)
            try:
                loss, y_hat = _train_step(r, X, y, check=steps == 0)
            except IndexError:
                error = label_error(_scores(r, X), y, "train_iter")  # a clear message when labels are the cause
                if error is None:
                    raise
                raise error from None
            reader.add(loss, len(y))
            if y_hat.ndim == 2 and y.ndim == 1 and not y.is_floating_point():
                correct += (y_hat.detach().argmax(dim=1) == y).sum()
                num_outputs = y_hat.shape[1]
            images += len(y)
            steps += 1
            if reader.due():
                _read_losses(reader, history, r, epoch)
                callback_seconds += _notify_step(callbacks, history, epoch, steps, images)
    except BaseException:
        with contextlib.suppress(Exception):  # keep every loss already computed, also after Ctrl-C
            history.step_losses.extend(reader.read())
        raise
    if steps == 0:
        raise no_batch_error("train_iter", epoch)
    if reader.pending:
        _read_losses(reader, history, r, epoch)
        callback_seconds += _notify_step(callbacks, history, epoch, steps, images)
    _synchronize(r.device)  # the last update may still be running on a GPU: count it in this epoch
    return _EpochResult(reader.loss_sum / images, float(correct) / images, images, callback_seconds, num_outputs)


def _scores(r: _Recipe, X: torch.Tensor) -> torch.Tensor:
    """The model's scores for ``X``, computed only to explain an error (eval mode: no statistics change)."""
    r.model.eval()
    try:
        with torch.no_grad(), autocast(r.device, r.precision):
            return r.model(X)
    finally:
        r.model.train()


def _notify_step(callbacks: Sequence[Callback], history: History, epoch: int, steps: int, images: int) -> float:
    """Call every ``on_step``; return the seconds they took (drawing is not training)."""
    start = time.perf_counter()
    for callback in callbacks:
        callback.on_step(history, epoch, steps, images)
    return time.perf_counter() - start


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def train(
    model: nn.Module,
    train_iter: Iterable,
    test_iter: Iterable | None,
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
    ``scheduler`` and ``clip_grad_norm``. After every epoch the model is evaluated on ``test_iter``
    (in the same precision).

    Args:
        model: the network; it is moved to ``device``.
        train_iter, test_iter: iterables of ``(X, y)`` batches, read once per epoch;
            ``test_iter`` may be None.
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
        ValueError: for a bad argument or bad data (the message names it and says what works).
        ShapeError: when the model cannot take the images (the message names the layer).
        TrainingDiverged: when the loss becomes NaN or infinite; its ``history`` holds the record.
    """
    check_model(model)
    check_int(epochs, "epochs", low=1)
    check_batches(train_iter, "train_iter", passes=epochs)
    if test_iter is not None:
        check_batches(test_iter, "test_iter", passes=epochs)
    _check_lr_and_optimizer(model, lr, optimizer)
    _check_options(loss_fn, clip_grad_norm, channels_last, live_plot, progress, verbose, callbacks)
    dev = resolve_device(device)
    chosen, notice = resolve_precision(precision, dev)
    steps_per_epoch = len(train_iter) if isinstance(train_iter, Sized) else 0
    _check_scheduler(scheduler, steps_per_epoch)

    model.to(dev)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if optimizer is None:
        optimizer = torch.optim.SGD(model.parameters(), lr=float(lr))  # type: ignore[arg-type]
    recipe = _Recipe(
        model=model,
        loss_fn=loss_fn if loss_fn is not None else nn.CrossEntropyLoss(),
        optimizer=optimizer,
        scheduler=_make_scheduler(scheduler, optimizer, steps_per_epoch * epochs),
        scaler=_grad_scaler(dev, enabled=chosen == "fp16"),
        device=dev,
        precision=chosen,
        clip_grad_norm=None if clip_grad_norm is None else float(clip_grad_norm),
        channels_last=channels_last,
    )
    history = History(device=str(dev), precision=chosen, epochs_planned=epochs, steps_per_epoch=steps_per_epoch)
    if notice:
        print(notice)
        history.notes.append(notice)
    classes = getattr(train_iter, "classes", None)
    shown = _default_callbacks(live_plot, progress, verbose) + list(callbacks)

    epoch, phase = 0, "before training"
    for callback in shown:
        callback.on_train_begin(history)
    try:
        for epoch in range(1, epochs + 1):
            phase = "training"
            start = time.perf_counter()
            result = _train_epoch(recipe, train_iter, history, epoch, shown)
            seconds = time.perf_counter() - start - result.callback_seconds
            phase = "evaluating"
            test_acc = None
            if test_iter is not None:
                pred, true = predict_batches(model, test_iter, dev, chosen, "test_iter")
                test_acc = float((pred == true).float().mean())
            history.add_epoch(result.loss, result.accuracy, seconds, result.images, test_acc)
            if not history.steps_per_epoch:
                history.steps_per_epoch = len(history.step_losses) // epoch
            phase = "after"
            for callback in shown:
                callback.on_epoch_end(history)
            num_classes = len(classes) if classes else result.num_outputs
            _warn_if_chance(history, num_classes, recipe)
    except KeyboardInterrupt:
        history.interrupted = True
        if history.epochs < epoch:
            history.unfinished_epoch = epoch
        where = f"while {phase} epoch {epoch}" if phase in ("training", "evaluating") else f"after epoch {epoch}"
        print(
            f"Training interrupted {where} ({len(history.step_losses)} steps done); the model keeps what it "
            f"learned and the history holds {history.epochs} completed epoch(s)."
        )
    except TrainingDiverged:
        history.diverged = True
        history.unfinished_epoch = epoch
        raise
    finally:
        for callback in shown:
            try:
                callback.on_train_end(history)
            except KeyboardInterrupt:  # a second Ctrl-C while the last picture is drawn: keep the history
                history.interrupted = True
    return history


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


def _grad_scaler(device: torch.device, enabled: bool) -> Any:
    if hasattr(torch.amp, "GradScaler"):  # torch >= 2.3
        return torch.amp.GradScaler(device.type, enabled=enabled)
    return torch.cuda.amp.GradScaler(enabled=enabled)


def _check_lr_and_optimizer(model: nn.Module, lr: Any, optimizer: Any) -> None:
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError(f"model ({type(model).__name__}) has no trainable parameters: there is nothing to train")
    if optimizer is None:
        if lr is None:
            raise ValueError("give lr (e.g. lr=0.1) for plain SGD, or an optimizer (e.g. torch.optim.SGD(...))")
        if not is_positive_number(lr):
            raise ValueError(f"lr must be a positive number such as 0.1, got {lr!r}")
        return
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(
            f"optimizer must be a torch.optim.Optimizer such as torch.optim.SGD(model.parameters(), lr=0.1), "
            f"got {type(optimizer).__name__}"
        )
    if lr is not None:
        raise ValueError("give either lr (for the default SGD) or optimizer (with its own lr), not both")
    own = {id(p) for p in model.parameters()}
    if not any(id(p) in own for group in optimizer.param_groups for p in group["params"]):
        raise ValueError(
            "optimizer updates the parameters of another model, not of this one (was the model created "
            "again after the optimizer?): create the optimizer from this model, "
            "e.g. torch.optim.SGD(model.parameters(), lr=0.1)"
        )


def _check_options(loss_fn: Any, clip_grad_norm: Any, channels_last: Any, live_plot: Any, progress: Any,
                   verbose: Any, callbacks: Any) -> None:
    if loss_fn is not None and not callable(loss_fn):
        raise ValueError(f"loss_fn must be a function (y_hat, y) -> loss such as nn.CrossEntropyLoss(), "
                         f"got {loss_fn!r}")
    if clip_grad_norm is not None and not is_positive_number(clip_grad_norm):
        raise ValueError(f"clip_grad_norm must be None (no clipping) or a positive number such as 1.0, "
                         f"got {clip_grad_norm!r}")
    for name, value in (("channels_last", channels_last), ("live_plot", live_plot), ("progress", progress),
                        ("verbose", verbose)):
        check_bool(value, name)
    if isinstance(callbacks, Callback) or not isinstance(callbacks, Iterable):
        raise ValueError(f"callbacks must be a list of cnn_course.callbacks.Callback objects, got {callbacks!r}")
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise ValueError(f"callbacks must hold cnn_course.callbacks.Callback objects, got {callback!r}")


def _check_scheduler(scheduler: Any, steps_per_epoch: int) -> None:
    if scheduler is None:
        return
    if not callable(scheduler) and scheduler not in SCHEDULES:
        raise ValueError(
            f"scheduler={scheduler!r} is unknown; use None, 'cosine', 'onecycle' or a function "
            "(optimizer, total_steps) -> scheduler"
        )
    if not steps_per_epoch:
        raise ValueError(
            f"scheduler={scheduler!r} needs the number of steps in advance, but train_iter has no length "
            "(len(train_iter) fails): pass a list of batches, a DataLoader or the iterators from "
            "cnn_course.load_data, or use scheduler=None"
        )


def _make_scheduler(schedule: str | SchedulerFactory | None, optimizer: torch.optim.Optimizer,
                    total_steps: int) -> Any:
    if schedule is None:
        return None
    if callable(schedule):
        made = schedule(optimizer, total_steps)
        if not callable(getattr(made, "step", None)):
            raise ValueError(f"the scheduler function must return a scheduler with a step() method, got {made!r}")
        return made
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    max_lr = [g["lr"] for g in optimizer.param_groups]
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total_steps)


def _stabilisers(r: _Recipe) -> list[str]:
    """The remedies for too-large early steps that this training does not use yet."""
    remedies = []
    if r.scheduler is None:
        remedies.append("a warm-up (scheduler='onecycle')")
    if r.clip_grad_norm is None:
        remedies.append("gradient clipping (clip_grad_norm=1.0)")
    return remedies


def _diverged_message(bad: float, step: int, epoch: int, r: _Recipe) -> str:
    lr = r.optimizer.param_groups[0]["lr"]
    remedies = [f"a learning rate 10 times smaller (lr={lr / 10:g})", *_stabilisers(r)]
    if r.precision == "fp16":
        remedies.append("precision='fp32' (fp16 overflows above 65,504)")
    return (
        f"training diverged: the loss became {bad} at step {step} (epoch {epoch}). The steps were too large "
        f"for this model at learning rate {lr:g}: try {', '.join(remedies[:-1])}{' or ' if len(remedies) > 1 else ''}"
        f"{remedies[-1]}, and check that the inputs are normalised. The weights are no longer usable: "
        "create the model again before retraining."
    )


def _warn_if_chance(history: History, num_classes: int | None, r: _Recipe) -> None:
    """Warn when a whole epoch's loss sat at ln(num_classes), i.e. the model only guessed."""
    if not num_classes or num_classes < 2:
        return
    chance = math.log(num_classes)
    loss, acc = history.train_loss[-1], history.train_acc[-1]
    if abs(loss - chance) < 0.02 * chance and acc < 1.5 / num_classes:
        lr = r.optimizer.param_groups[0]["lr"]
        steps = [f"a lower learning rate (lr={lr / 2:g})", *_stabilisers(r)]
        message = (
            f"epoch {history.epochs}: the training loss stayed at {loss:.3f}, chance level "
            f"(ln {num_classes} = {chance:.3f}), and accuracy at {100 * acc:.1f} %: the network is only guessing. "
            f"Try, in this order: another seed (cnn_course.set_seed); {', '.join(steps[:-1])}"
            f"{' or ' if len(steps) > 1 else ''}{steps[-1]}; check that the inputs are normalised and the labels "
            "match the images. Another initialisation can help too, but try it on a short run first: "
            "He (Kaiming) initialisation suits layers followed by ReLU and can make other networks diverge."
        )
        history.notes.append(message)
        # Attributed to cnn_course.train rather than the calling cell, whose file is a temporary kernel path.
        warnings.warn_explicit(message, ChanceLevelWarning, filename="cnn_course.train", lineno=0,
                               module="cnn_course.training")
