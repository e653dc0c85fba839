"""Training and evaluation: one loop that records a documented :class:`History`."""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Sized

import torch
from torch import nn

from .runtime import get_device, resolve_device, set_seed

__all__ = [
    "ChanceLevelWarning",
    "History",
    "TrainingDiverged",
    "confusion_matrix",
    "evaluate",
    "get_device",
    "predict",
    "set_seed",
    "train",
]

SCHEDULES = ("cosine", "onecycle")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; ``history`` holds what was recorded until then."""

    def __init__(self, message: str, history: "History") -> None:
        super().__init__(message)
        self.history = history


class ChanceLevelWarning(UserWarning):
    """The loss stayed at chance level (ln of the class count) for a whole epoch."""


@dataclass
class History:
    """What :func:`train` recorded; every plot and table of the course reads this.

    Attributes:
        step_losses: training loss of every mini-batch, in order.
        train_loss, train_acc, test_acc: one value per completed epoch (accuracies in [0, 1]).
        epoch_seconds: training time of each epoch (evaluation excluded).
        img_per_sec: training images per second in each epoch.
        steps_per_epoch: mini-batches per epoch.
        device: where the model trained, e.g. ``"cpu"`` or ``"cuda"``.
        interrupted: True when training was stopped with Ctrl-C / the stop button.
        notes: warnings raised during training, as text.
    """

    device: str = ""
    steps_per_epoch: int = 0
    step_losses: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    img_per_sec: list[float] = field(default_factory=list)
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.train_loss)

    @property
    def final_test_acc(self) -> float | None:
        """Test accuracy after the last completed epoch, or None."""
        return self.test_acc[-1] if self.test_acc else None

    @property
    def seconds(self) -> float:
        """Total training time of the completed epochs."""
        return float(sum(self.epoch_seconds))

    @property
    def mean_img_per_sec(self) -> float:
        """Training images per second over all completed epochs."""
        images = sum(s * r for s, r in zip(self.epoch_seconds, self.img_per_sec))
        return images / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain Python data (for JSON)."""
        return asdict(self)

    def summary(self) -> str:
        """One line: epochs, final losses and accuracies, time, speed and device."""
        if not self.epochs:
            return f"no completed epoch ({len(self.step_losses)} steps) on {self.device}"
        test = f", test acc {100 * self.final_test_acc:.2f} %" if self.final_test_acc is not None else ""
        stop = " (interrupted)" if self.interrupted else ""
        return (
            f"{self.epochs} epochs{stop}: train loss {self.train_loss[-1]:.4f}, "
            f"train acc {100 * self.train_acc[-1]:.2f} %{test}; {self.seconds:.1f} s, "
            f"{self.mean_img_per_sec:,.0f} img/s on {self.device}"
        )

    def __repr__(self) -> str:
        return f"History({self.summary()})"


def _check_positive_int(value: Any, name: str, example: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int such as {example}, got {value!r}")
    return value


def _check_iter(data_iter: Any, name: str) -> None:
    if not isinstance(data_iter, Iterable):
        raise ValueError(f"{name} must yield (X, y) batches, e.g. from cnn_course.load_data; got {type(data_iter).__name__}")
    if isinstance(data_iter, Sized) and len(data_iter) == 0:
        raise ValueError(f"{name} is empty: it yields no batch")


def _model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _make_scheduler(
    schedule: str | Callable[[torch.optim.Optimizer, int], Any] | None,
    optimizer: torch.optim.Optimizer,
    total_steps: int,
):
    if schedule is None:
        return None
    if callable(schedule):
        return schedule(optimizer, total_steps)
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    if schedule == "onecycle":
        max_lr = [g["lr"] for g in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total_steps)
    raise ValueError(
        f"scheduler={schedule!r} is unknown; use None, 'cosine', 'onecycle' or a function "
        "(optimizer, total_steps) -> scheduler"
    )


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def train(
    model: nn.Module,
    train_iter: Iterable,
    test_iter: Iterable | None,
    *,
    epochs: int,
    lr: float | None = None,
    device: str | torch.device | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    scheduler: str | Callable[[torch.optim.Optimizer, int], Any] | None = None,
    live_plot: bool = True,
    progress: bool = True,
    verbose: bool = True,
    amp: bool = False,
    channels_last: bool = False,
) -> History:
    """Train ``model`` with mini-batch gradient descent and record a :class:`History`.

    The default is the source course's recipe: plain SGD with learning rate ``lr`` and
    cross-entropy loss. Pass ``optimizer`` (e.g. SGD with momentum) and ``scheduler``
    (``'cosine'``, ``'onecycle'`` or a factory, stepped every batch) for better recipes.

    Args:
        model: the network; it is moved to ``device``.
        train_iter, test_iter: iterables of ``(X, y)`` batches; ``test_iter`` may be None.
        epochs: passes over ``train_iter``.
        lr: learning rate of the default SGD (leave None when giving ``optimizer``).
        device: None picks CUDA, then MPS, then CPU.
        live_plot: redraw a loss curve while training (in a notebook only).
        progress: show a progress bar; verbose: print one line per epoch.
        amp: bfloat16 autocast (CUDA and CPU); channels_last: channels-last memory format.

    Returns:
        The :class:`History`. Ctrl-C (the notebook's stop button) ends training early and
        returns the history so far; the model keeps what it learned.

    Raises:
        ValueError: for a bad argument (the message names it).
        TrainingDiverged: when the loss becomes NaN or infinite.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_iter(train_iter, "train_iter")
    if test_iter is not None:
        _check_iter(test_iter, "test_iter")
    _check_positive_int(epochs, "epochs", "10")
    if optimizer is None:
        if lr is None:
            raise ValueError("give lr (e.g. lr=0.1) or an optimizer")
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"lr must be a positive number such as 0.1, got {lr!r}")
    else:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if lr is not None:
            raise ValueError("give either lr (for the default SGD) or optimizer (with its own lr), not both")
    dev = resolve_device(device)
    model.to(dev)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if optimizer is None:
        optimizer = torch.optim.SGD(model.parameters(), lr=float(lr))  # type: ignore[arg-type]
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    steps_per_epoch = len(train_iter) if isinstance(train_iter, Sized) else 0
    sched = _make_scheduler(scheduler, optimizer, max(1, steps_per_epoch) * epochs)
    classes = getattr(train_iter, "classes", None)
    num_classes = len(classes) if classes else None

    history = History(device=str(dev), steps_per_epoch=steps_per_epoch)
    from tqdm.auto import tqdm

    live = None
    if live_plot and _in_notebook():
        from .plotting import LivePlot

        live = LivePlot(total_steps=steps_per_epoch * epochs or None)
    # A device sync per step costs little on a CPU but stalls a GPU: there, read losses in groups.
    sync_every = 1 if dev.type == "cpu" else 25
    bar = None
    epoch = 0
    try:
        for epoch in range(epochs):
            model.train()
            bar = tqdm(total=steps_per_epoch or None, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress,
                       leave=False)
            pending: list[torch.Tensor] = []
            pending_sizes: list[int] = []
            loss_sum, correct, seen = 0.0, torch.zeros((), device=dev), 0
            start = time.perf_counter()
            drawing_before = live.seconds if live is not None else 0.0
            batches = iter(train_iter)
            while True:
                batch = next(batches, None)
                if batch is not None:
                    X, y = batch
                    X, y = X.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
                    if channels_last:
                        X = X.contiguous(memory_format=torch.channels_last)
                    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                        y_hat = model(X)
                        loss = loss_fn(y_hat, y)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    if sched is not None:
                        sched.step()
                    pending.append(loss.detach().float())
                    pending_sizes.append(len(y))
                    correct += (y_hat.detach().argmax(dim=1) == y).sum()
                    seen += len(y)
                    if num_classes is None:
                        num_classes = int(y_hat.shape[1])
                if pending and (batch is None or len(pending) >= sync_every):
                    values = torch.stack(pending).cpu().tolist()
                    loss_sum += sum(v * n for v, n in zip(values, pending_sizes))
                    pending.clear()
                    pending_sizes.clear()
                    history.step_losses.extend(values)
                    bad = next((v for v in values if not math.isfinite(v)), None)
                    if bad is not None:
                        current_lr = optimizer.param_groups[0]["lr"]
                        raise TrainingDiverged(
                            f"training diverged: the loss became {bad} at step {len(history.step_losses)} "
                            f"(epoch {epoch + 1}). The learning rate {current_lr:g} is probably too high for "
                            f"this model: try lr={current_lr / 10:g}, and check that the inputs are normalised. "
                            "The weights are no longer usable: create the model again before retraining.",
                            history,
                        )
                    bar.update(len(values))
                    bar.set_postfix(loss=f"{values[-1]:.4f}")
                    if live is not None:
                        live.update(history)
                if batch is None:
                    break
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            # Time spent drawing the live plot is not training time.
            seconds = time.perf_counter() - start - (live.seconds - drawing_before if live is not None else 0.0)
            bar.close()
            bar = None
            history.train_loss.append(loss_sum / max(seen, 1))
            history.train_acc.append(float(correct) / max(seen, 1))
            history.epoch_seconds.append(seconds)
            history.img_per_sec.append(seen / seconds if seconds > 0 else 0.0)
            if not history.steps_per_epoch:
                history.steps_per_epoch = len(history.step_losses) // (epoch + 1)
            if test_iter is not None:
                history.test_acc.append(evaluate(model, test_iter, dev))
            if live is not None:
                live.update(history, force=True)
            if verbose:
                test = f", test acc {100 * history.test_acc[-1]:.2f} %" if test_iter is not None else ""
                print(
                    f"epoch {epoch + 1}/{epochs}: train loss {history.train_loss[-1]:.4f}, "
                    f"train acc {100 * history.train_acc[-1]:.2f} %{test}, "
                    f"{history.img_per_sec[-1]:,.0f} img/s"
                )
            _warn_if_chance(history, num_classes, epoch, optimizer.param_groups[0]["lr"])
    except KeyboardInterrupt:
        history.interrupted = True
        print(
            f"Training interrupted during epoch {epoch + 1} after {len(history.step_losses)} steps; "
            f"the model keeps what it learned and the history holds {history.epochs} completed epoch(s)."
        )
    finally:
        if bar is not None:
            bar.close()
        if live is not None:
            live.close(history)
    return history


def _warn_if_chance(history: History, num_classes: int | None, epoch: int, lr: float) -> None:
    """Warn when a whole epoch's loss sat at ln(num_classes), i.e. the model only guessed."""
    if not num_classes or num_classes < 2:
        return
    chance = math.log(num_classes)
    loss, acc = history.train_loss[-1], history.train_acc[-1]
    if abs(loss - chance) < 0.02 * chance and acc < 1.5 / num_classes:
        message = (
            f"epoch {epoch + 1}: the training loss stayed at {loss:.3f}, chance level "
            f"(ln {num_classes} = {chance:.3f}), and accuracy at {100 * acc:.1f} %: the network is only guessing. "
            f"Try, in this order: another seed (cnn_course.set_seed); a lower learning rate (lr={lr / 2:g}) "
            "or SGD with momentum; He (Kaiming) initialisation of the weights; and check that inputs are "
            "normalised and labels match images."
        )
        history.notes.append(message)
        warnings.warn(message, ChanceLevelWarning, stacklevel=3)


def predict(
    model: nn.Module, data_iter: Iterable, device: str | torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(predicted, true)`` labels for every example of ``data_iter`` (CPU int64 tensors)."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_iter(data_iter, "data_iter")
    dev = resolve_device(device) if device is not None else _model_device(model)
    model.to(dev)
    was_training = model.training
    model.eval()
    preds, trues = [], []
    try:
        with torch.no_grad():
            for X, y in data_iter:
                preds.append(model(X.to(dev)).argmax(dim=1).cpu())
                trues.append(y.cpu())
    finally:
        model.train(was_training)
    return torch.cat(preds), torch.cat(trues)


def evaluate(model: nn.Module, data_iter: Iterable, device: str | torch.device | None = None) -> float:
    """Return the accuracy of ``model`` on ``data_iter``, in [0, 1] (on the model's device by default)."""
    pred, true = predict(model, data_iter, device)
    return float((pred == true).float().mean())


def confusion_matrix(
    model: nn.Module, data_iter: Iterable, num_classes: int | None = None, device: str | torch.device | None = None
) -> torch.Tensor:
    """Return the confusion matrix: entry ``[i, j]`` counts examples of class ``i`` predicted as ``j``."""
    pred, true = predict(model, data_iter, device)
    if num_classes is None:
        classes = getattr(data_iter, "classes", None)
        num_classes = len(classes) if classes else int(max(pred.max(), true.max())) + 1
    return torch.bincount(true * num_classes + pred, minlength=num_classes**2).reshape(num_classes, num_classes)
