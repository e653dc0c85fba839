"""The record of one training run (:class:`History`) and the two ways a run can go wrong."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["ChanceLevelWarning", "History", "TrainingDiverged"]

# The per-epoch lists; an epoch is added to all of them at once, or to none.
EPOCH_FIELDS = ("train_loss", "train_acc", "epoch_seconds", "img_per_sec")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; ``history`` holds what was recorded until then."""

    def __init__(self, message: str, history: History) -> None:
        super().__init__(message)
        self.history = history


class ChanceLevelWarning(UserWarning):
    """The loss stayed at chance level (ln of the class count) for a whole epoch."""


@dataclass
class History:
    """What :func:`cnn_course.train` recorded; every plot and table of the course reads this.

    An epoch counts as completed when both its training pass and its evaluation finished; only
    then is it added, at once, to every per-epoch list. So the per-epoch lists always have the
    same length (``test_acc`` is empty when training had no test set), and an epoch cut short by
    Ctrl-C or by divergence is never mistaken for a finished one: its steps are in
    ``step_losses`` and its number is in ``unfinished_epoch``.

    Attributes:
        device: where the model trained, e.g. ``"cpu"`` or ``"cuda"``.
        precision: the arithmetic actually used: ``"fp32"``, ``"bf16"`` or ``"fp16"``.
        epochs_planned: the ``epochs`` that training was asked for.
        steps_per_epoch: mini-batches per epoch.
        step_losses: training loss of every mini-batch, in order, including an unfinished epoch's.
        train_loss, train_acc: one value per completed epoch (accuracies in [0, 1]).
        test_acc: one value per completed epoch, or empty when there was no test set.
        epoch_seconds: training time of each completed epoch (evaluation and drawing excluded).
        img_per_sec: training images per second in each completed epoch.
        interrupted: True when training was stopped with Ctrl-C / the notebook's stop button.
        diverged: True when training stopped because the loss became NaN or infinite.
        unfinished_epoch: the number (from 1) of the epoch that was cut short, or None.
        notes: warnings raised during training, as text.

    Raises:
        ValueError: when constructed with per-epoch lists of different lengths.
    """

    device: str = ""
    precision: str = "fp32"
    epochs_planned: int = 0
    steps_per_epoch: int = 0
    step_losses: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    img_per_sec: list[float] = field(default_factory=list)
    interrupted: bool = False
    diverged: bool = False
    unfinished_epoch: int | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        lengths = {name: len(getattr(self, name)) for name in EPOCH_FIELDS}
        if self.test_acc:
            lengths["test_acc"] = len(self.test_acc)
        if len(set(lengths.values())) > 1:
            raise ValueError(f"a History needs one entry per completed epoch in every per-epoch list, got {lengths}")

    def add_epoch(self, train_loss: float, train_acc: float, seconds: float, images: int,
                  test_acc: float | None = None) -> None:
        """Record one completed epoch in every per-epoch list at once."""
        if test_acc is None and self.test_acc:
            raise ValueError("test_acc is missing: the earlier epochs of this History have one")
        if test_acc is not None and len(self.test_acc) != self.epochs:
            raise ValueError("test_acc given, but the earlier epochs of this History have none")
        self.train_loss.append(float(train_loss))
        self.train_acc.append(float(train_acc))
        self.epoch_seconds.append(float(seconds))
        self.img_per_sec.append(images / seconds if seconds > 0 else 0.0)
        if test_acc is not None:
            self.test_acc.append(float(test_acc))

    @property
    def epochs(self) -> int:
        """Number of completed epochs (training and evaluation both finished)."""
        return len(self.train_loss)

    @property
    def completed(self) -> bool:
        """True when every planned epoch completed: not interrupted, not diverged."""
        return self.unfinished_epoch is None and self.epochs >= self.epochs_planned

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

    @property
    def stop_reason(self) -> str:
        """How the run ended, in words: ``''`` when it completed, else e.g. ``'interrupted in epoch 3'``."""
        if self.unfinished_epoch is None:
            return "interrupted" if self.interrupted else ""
        how = "diverged" if self.diverged else "interrupted"
        return f"{how} in epoch {self.unfinished_epoch}"

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain Python data (for JSON); non-finite losses become None."""
        data = asdict(self)
        data["step_losses"] = [v if math.isfinite(v) else None for v in self.step_losses]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild a History from :meth:`to_dict`'s output (e.g. read back from a JSON file).

        A loss saved as None (it was not finite) comes back as NaN.

        Raises:
            ValueError: when ``data`` is not a dict, names a field a History does not have, or
                has per-epoch lists of different lengths.
        """
        if not isinstance(data, dict):
            raise ValueError(f"data must be the dict that History.to_dict() gave, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"data has field(s) {', '.join(map(repr, unknown))} that a History does not have; "
                             f"it holds {', '.join(sorted(known))}")
        values = dict(data)
        if "step_losses" in values:
            values["step_losses"] = [math.nan if v is None else float(v) for v in values["step_losses"]]
        for name in ("train_loss", "train_acc", "test_acc", "epoch_seconds", "img_per_sec", "notes"):
            if name in values:
                values[name] = list(values[name])
        return cls(**values)

    def summary(self) -> str:
        """One line: epochs, final losses and accuracies, time, speed, device and how the run ended."""
        stop = f" ({self.stop_reason})" if self.stop_reason else ""
        if not self.epochs:
            return f"no completed epoch ({len(self.step_losses)} steps){stop} on {self.device}"
        test = f", test acc {100 * self.final_test_acc:.2f} %" if self.final_test_acc is not None else ""
        return (
            f"{self.epochs} epochs{stop}: train loss {self.train_loss[-1]:.4f}, "
            f"train acc {100 * self.train_acc[-1]:.2f} %{test}; {self.seconds:.1f} s, "
            f"{self.mean_img_per_sec:,.0f} img/s on {self.device} ({self.precision})"
        )

    def __repr__(self) -> str:
        return f"History({self.summary()})"
