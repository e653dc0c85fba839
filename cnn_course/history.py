"""The record of one training run (:class:`History`), the two ways a run can go wrong, and the advice for each."""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["ChanceLevelWarning", "History", "TrainingDiverged", "diverged_message", "stabilisers", "warn_if_chance"]

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
    same length (``valid_acc`` is empty when training had no validation set), and an epoch cut short by
    Ctrl-C or by divergence is never mistaken for a finished one: its steps are in
    ``step_losses`` and its number is in ``unfinished_epoch``.

    Attributes:
        device: where the model trained, e.g. ``"cpu"`` or ``"cuda"``.
        precision: the arithmetic actually used: ``"fp32"``, ``"bf16"`` or ``"fp16"``.
        epochs_planned: the ``epochs`` that training was asked for.
        steps_per_epoch: mini-batches per epoch.
        step_losses: training loss of every mini-batch, in order, including an unfinished epoch's.
        train_loss, train_acc: one value per completed epoch (accuracies in [0, 1]).
        valid_acc: one value per completed epoch, on the validation iterator, or empty when there was none.
        epoch_seconds: training time of each completed epoch (evaluation and drawing excluded).
        img_per_sec: training images per second in each completed epoch.
        interrupted: True when training was stopped with Ctrl-C / the notebook's stop button.
        diverged: True when training stopped because the loss became NaN or infinite.
        unfinished_epoch: the number (from 1) of the epoch that was cut short, or None.
        notes: warnings raised during training, as text.
        valid_data: what ``valid_acc`` was measured on (the validation iterator's ``describe()``), or ``""``.

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
    valid_acc: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    img_per_sec: list[float] = field(default_factory=list)
    interrupted: bool = False
    diverged: bool = False
    unfinished_epoch: int | None = None
    notes: list[str] = field(default_factory=list)
    valid_data: str = ""

    def __post_init__(self) -> None:
        lengths = {name: len(getattr(self, name)) for name in EPOCH_FIELDS}
        if self.valid_acc:
            lengths["valid_acc"] = len(self.valid_acc)
        if len(set(lengths.values())) > 1:
            raise ValueError(f"History 里每个按轮记录的列表都必须是每个完成的轮一项，传入的长度是 {lengths}")

    def add_epoch(self, train_loss: float, train_acc: float, seconds: float, images: int,
                  valid_acc: float | None = None) -> None:
        """Record one completed epoch in every per-epoch list at once."""
        if valid_acc is None and self.valid_acc:
            raise ValueError("缺少 valid_acc：这个 History 之前的轮都有它")
        if valid_acc is not None and len(self.valid_acc) != self.epochs:
            raise ValueError("给了 valid_acc，但这个 History 之前的轮都没有它")
        self.train_loss.append(float(train_loss))
        self.train_acc.append(float(train_acc))
        self.epoch_seconds.append(float(seconds))
        self.img_per_sec.append(images / seconds if seconds > 0 else 0.0)
        if valid_acc is not None:
            self.valid_acc.append(float(valid_acc))

    @property
    def epochs(self) -> int:
        """Number of completed epochs (training and evaluation both finished)."""
        return len(self.train_loss)

    @property
    def completed(self) -> bool:
        """True when every planned epoch completed: not interrupted, not diverged."""
        return self.unfinished_epoch is None and self.epochs >= self.epochs_planned

    @property
    def final_valid_acc(self) -> float | None:
        """Validation accuracy after the last completed epoch, or None."""
        return self.valid_acc[-1] if self.valid_acc else None

    @property
    def seconds(self) -> float:
        """Total training time of the completed epochs."""
        return float(sum(self.epoch_seconds))

    @property
    def mean_img_per_sec(self) -> float:
        """Training images per second over all completed epochs."""
        images = sum(s * r for s, r in zip(self.epoch_seconds, self.img_per_sec, strict=True))
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

        A loss saved as None (it was not finite) comes back as NaN. Files saved before the course had a
        validation split call the per-epoch accuracy ``test_acc``; it is read into ``valid_acc``.

        Raises:
            ValueError: when ``data`` is not a dict, names a field a History does not have, or
                has per-epoch lists of different lengths.
        """
        if not isinstance(data, dict):
            raise ValueError(f"data 必须是 History.to_dict() 给出的 dict，传入的是 {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"test_acc"})
        if unknown:
            raise ValueError(f"data 里有 History 没有的字段 {', '.join(map(repr, unknown))}；"
                             f"History 的字段是 {', '.join(sorted(known))}")
        values = dict(data)
        if "test_acc" in values and "valid_acc" not in values:  # files saved before the validation split
            values["valid_acc"] = values.pop("test_acc")
        if "step_losses" in values:
            values["step_losses"] = [math.nan if v is None else float(v) for v in values["step_losses"]]
        for name in ("train_loss", "train_acc", "valid_acc", "epoch_seconds", "img_per_sec", "notes"):
            if name in values:
                values[name] = list(values[name])
        return cls(**values)

    def summary(self) -> str:
        """One line: epochs, final losses and accuracies, time, speed, device and how the run ended."""
        stop = f" ({self.stop_reason})" if self.stop_reason else ""
        if not self.epochs:
            return f"no completed epoch ({len(self.step_losses)} steps){stop} on {self.device}"
        valid = f", valid acc {100 * self.final_valid_acc:.2f} %" if self.final_valid_acc is not None else ""
        return (
            f"{self.epochs} epochs{stop}: train loss {self.train_loss[-1]:.4f}, "
            f"train acc {100 * self.train_acc[-1]:.2f} %{valid}; {self.seconds:.1f} s, "
            f"{self.mean_img_per_sec:,.0f} img/s on {self.device} ({self.precision})"
        )

    def __repr__(self) -> str:
        return f"History({self.summary()})"


# --------------------------------------------------------------------------- advice when a run goes wrong


def stabilisers(scheduled: bool, clipped: bool) -> list[str]:
    """The remedies for too-large early steps that a run does not use yet."""
    remedies = []
    if not scheduled:
        remedies.append("预热（scheduler='onecycle'）")
    if not clipped:
        remedies.append("梯度裁剪（clip_grad_norm=2.0，本课程各章用的值）")
    return remedies


def _either(options: list[str]) -> str:
    """``'a、b 或 c'``."""
    return f"{'、'.join(options[:-1])}{'或' if len(options) > 1 else ''}{options[-1]}"


def diverged_message(loss: float, step: int, epoch: int, lr: float, untried: list[str], precision: str,
                     broken_batch: int | None = None) -> str:
    """The message of :class:`TrainingDiverged`: what happened and what to try, in order.

    Args:
        loss: the first loss that was not finite, at ``step`` (counted over the whole run) of ``epoch``.
        lr: the learning rate at that step.
        untried: :func:`stabilisers` this run does not use.
        precision: the arithmetic training used.
        broken_batch: the number of the batch of ``epoch`` whose images hold NaN or infinite values,
            when that batch gave the loss: then the data is the cause, not the steps.
    """
    if broken_batch is not None:
        return (
            f"训练已停止：train_iter 第 {epoch} 轮的第 {broken_batch} 个小批量里有 NaN 或无穷大的像素值，所以它的"
            f"损失是 {loss}（第 {step} 步）：坏的是数据，不是学习率。请检查图像是怎样生成或读入的，然后重新创建模型："
            "这一步已经让它的权重无法再用。"
        )
    remedies = [f"把学习率减小到十分之一（lr={lr / 10:g}）", *untried]
    if precision == "fp16":
        remedies.append("precision='fp32'（fp16 超过 65,504 就会溢出）")
    return (
        f"训练发散（diverged）：损失在第 {step} 步（第 {epoch} 轮）变成了 {loss}。对这个模型来说，学习率 {lr:g} "
        f"下每一步走得太大：请试试{_either(remedies)}，并检查输入是否已标准化。权重已经无法再用：重新训练之前请重新创建模型。"
    )


def warn_if_chance(history: History, num_classes: int | None, lr: float, untried: list[str]) -> None:
    """Warn (:class:`ChanceLevelWarning`) when the last epoch's loss sat at ln(num_classes): the model only guessed.

    The warning's text is also added to ``history.notes``.
    """
    if not num_classes or num_classes < 2:
        return
    chance = math.log(num_classes)
    loss, acc = history.train_loss[-1], history.train_acc[-1]
    if abs(loss - chance) < 0.02 * chance and acc < 1.5 / num_classes:
        steps = [f"更小的学习率（lr={lr / 2:g}）", *untried]
        message = (
            f"第 {history.epochs} 轮：训练损失停在 {loss:.3f}，也就是随机水平（chance level，ln {num_classes} = "
            f"{chance:.3f}），准确率 {100 * acc:.1f} %：网络只是在猜。请按这个顺序尝试：换一个随机种子"
            f"（cnn_course.set_seed）；{_either(steps)}；检查输入是否已标准化、标签是否与图像对应。换一种初始化也可能"
            "有帮助，但请先在短训练里试：He（Kaiming）初始化适合后面接 ReLU 的层，用在别的网络上可能让训练发散。"
        )
        history.notes.append(message)
        # Attributed to cnn_course.train rather than the calling cell, whose file is a temporary kernel path.
        warnings.warn_explicit(message, ChanceLevelWarning, filename="cnn_course.train", lineno=0,
                               module="cnn_course.training")
