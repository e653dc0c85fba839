"""Following one batch from a data iterator to the model's scores, with the checks that explain bad data in plain words.

Training and evaluation both read batches through :func:`batches` and call the model through
:func:`forward`; the checks that cost nothing (shapes and dtypes) run on every batch, the ones that
make the CPU wait for the device (values) on the first batch only.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn

from .loaders import Loader
from .shapes import ShapeError, layer_shapes

__all__ = ["DataIter", "autocast", "batches", "check_labels", "check_loss", "forward", "no_batch_error"]

#: What ``train_iter``, ``test_iter`` and ``data_iter`` accept: a course loader or any iterable of ``(X, y)``.
DataIter = Loader | Iterable[tuple[torch.Tensor, torch.Tensor]]

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}

# Normalised images stay within a few units of 0 (MNIST's brightest pixel becomes 2.8); raw pixel
# values 0-255 go far beyond this.
_NORMALISED_LIMIT = 20.0

_NORMALISE = ("请像 cnn_course.load_data 那样把它们标准化：cnn_course.datasets.normalize(images, 'MNIST')，"
              "或者先 transforms.ToTensor() 再 transforms.Normalize(mean, std)")


def no_batch_error(name: str, epoch: int | None = None) -> ValueError:
    """The error for an iterable that yielded nothing (in ``epoch``, when given)."""
    when = f"在第 {epoch} 轮" if epoch is not None else ""
    again = (
        "它之前给出过小批量：它很可能只能读一遍（像生成器那样）。请传入由小批量组成的列表、"
        "DataLoader 或 cnn_course.load_data 返回的迭代器。"
        if epoch is not None and epoch > 1
        else "请检查数据集的大小和 batch_size。"
    )
    return ValueError(f"{name} {when}没有给出任何小批量。{again}")


def _unpack(batch: Any, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, y)`` from one batch, checked for what costs nothing to check: kinds, shapes and dtypes."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        if isinstance(batch, torch.Tensor):
            got = f"一个形状为 {tuple(batch.shape)} 的 {type(batch).__name__}（只有图像、没有标签？）"
        elif isinstance(batch, (tuple, list)):
            got = f"一个有 {len(batch)} 项的 {type(batch).__name__}"
        else:
            got = f"一个 {type(batch).__name__}"
        raise ValueError(
            f"{where}必须是一对 (X, y)：一个图像张量和一个对应的标签张量；传入的是{got}。"
            "请用 cnn_course.load_data，或者在返回 (image, label) 的数据集上建 DataLoader。"
        )
    X, y = batch
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor) or X.ndim == 0 or y.ndim == 0:
        X_kind, y_kind = (f"形状为 {tuple(v.shape)} 的张量" if isinstance(v, torch.Tensor) else type(v).__name__
                          for v in (X, y))
        raise ValueError(f"{where}必须是一对张量 (X, y)，每张图像占一行；传入的 X 是 {X_kind}，y 是 {y_kind}")
    if len(X) != len(y):
        raise ValueError(f"{where}有 {len(X)} 张图像，却有 {len(y)} 个标签；两者必须一样多")
    if len(X) == 0:
        raise ValueError(f"{where}里没有图像（空的小批量）：请把空的小批量从数据里去掉")
    if not X.is_floating_point():
        raise ValueError(
            f"{where}的图像是 {X.dtype}（原始像素值？），但模型用浮点数计算：{_NORMALISE}"
        )
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        hint = "（独热向量？请传 y.argmax(dim=1)）" if y.ndim == 2 else "（请用 y.long() 转换）"
        raise ValueError(f"{where}的标签是 {y.dtype}；标签必须是整数类型的类别编号 0, 1, 2, ...{hint}")
    if y.ndim != 1:
        one_hot = "（独热向量？请传 y.argmax(dim=1)）"
        hint = f"；y.flatten() 得到形状 ({len(y)},)" if y[0].numel() == 1 else one_hot
        raise ValueError(
            f"{where}的标签形状是 {tuple(y.shape)}，但每张图像只能有一个类别编号，"
            f"形状应为 ({len(y)},){hint}"
        )
    return X, y


def _check_values(X: torch.Tensor, where: str) -> None:
    """Check that images are finite and normalised (one wait for the device: first batch only)."""
    peak = float(X.detach().abs().max())  # NaN when any value is NaN
    if not math.isfinite(peak):
        bad = int((~torch.isfinite(X)).sum())
        raise ValueError(
            f"{where}的 {X.numel():,} 个像素值里有 {bad:,} 个是 NaN 或无穷大：坏的是数据（这是在任何训练步之前"
            "发现的，所以不是学习率的问题）。请检查图像是怎样生成或读入的。"
        )
    if peak > _NORMALISED_LIMIT:
        raise ValueError(
            f"{where}的图像数值达到 {peak:g}：看起来是 0-255 的原始像素值，而不是标准化后的值，"
            f"会让最初几步大得离谱；{_NORMALISE}"
        )


def batches(data_iter: DataIter, name: str, device: torch.device, channels_last: bool = False,
            epoch: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield the ``(X, y)`` batches of ``data_iter`` on ``device``, checked; labels become int64.

    Args:
        data_iter: the iterable, read once.
        name: its argument name, used in messages (e.g. ``'train_iter'``).
        device: where the batches go.
        channels_last: store the images channels-last.
        epoch: the training epoch (from 1), for messages; the values of the first batch are checked
            when it is None or 1.

    Raises:
        ValueError: for a batch that is not ``(X, y)``, an empty batch, images that are not floats or not
            finite or not normalised, labels that are not one class number per image, or no batch at all.
    """
    count = 0
    for count, batch in enumerate(data_iter, start=1):
        where = f"{name} 的第 {count} 个小批量" + (f"（第 {epoch} 轮）" if epoch is not None else "")
        X, y = _unpack(batch, where)
        if count == 1 and epoch in (None, 1):
            _check_values(X, where)
        X, y = X.to(device, non_blocking=True), y.to(device, torch.long, non_blocking=True)
        if channels_last:
            X = X.contiguous(memory_format=torch.channels_last)
        yield X, y
    if count == 0:
        raise no_batch_error(name, epoch)


def forward(model: nn.Module, X: torch.Tensor, name: str) -> torch.Tensor:
    """Return ``model(X)``, checked to be one row of class scores per image.

    Raises:
        ShapeError: when a layer cannot take the images of ``name`` (e.g. a model built for
            another image size); the message names the layer and the shape it got.
        ValueError: when the model returns something other than a tensor of shape ``(N, classes)``.
    """
    try:
        y_hat = model(X)
    except RuntimeError as err:
        if isinstance(err, torch.cuda.OutOfMemoryError):
            raise
        # Run the shape table on one image to find the layer that cannot take it.
        try:
            layer_shapes(model, tuple(X.shape[1:]))
        except ShapeError as shape_err:
            raise ShapeError(
                f"模型接收不了 {name} 的图像（每张的形状是 {tuple(X.shape[1:])}）：{shape_err}"
            ) from None
        except Exception:  # the diagnosis itself failed: the original error says more
            pass
        raise
    if not isinstance(y_hat, torch.Tensor):
        raise ValueError(
            f"model 返回的是一个 {type(y_hat).__name__}，不是张量：forward() 必须返回一个装着类别分数的张量，"
            "形状为 (N, classes)。如果它计算了好几个输出（例如辅助分类器的输出），只返回最后的分数。"
        )
    if y_hat.ndim != 2 or len(y_hat) != len(X):
        if y_hat.ndim > 2 and math.prod(y_hat.shape[2:]) == 1:
            fix = f"在模型末尾加上 nn.Flatten()，把它变成 ({len(X)}, {y_hat.shape[1]})"
        elif y_hat.ndim > 2:
            fix = ("在最后一个 nn.Linear 层之前加上 nn.Flatten()（卷积的输出 (N, C, H, W) 必须先展平成 "
                   "(N, C*H*W)）")
        elif y_hat.ndim < 2:
            fix = "让最后一层对每个类别给出一个分数，例如 nn.Linear(..., 10)"
        else:
            fix = "用 nn.Flatten() 或 x.flatten(1) 展平，它们让各张图像保持分开；不要用 x.view(-1, ...)"
        raise ValueError(
            f"对 {name} 里一个有 {len(X)} 张图像的小批量，model 返回的形状是 {tuple(y_hat.shape)}，但训练和评估"
            f"需要每张图像一行类别分数，形状为 ({len(X)}, classes)：{fix}"
        )
    return y_hat


def check_labels(y_hat: torch.Tensor, y: torch.Tensor, name: str) -> None:
    """Check class labels against the model's scores, before the loss reads them (one wait for the device).

    Raises:
        ValueError: when a label is negative, or the model gives fewer scores per image than the labels need.
    """
    low, high = int(y.min()), int(y.max())
    if low < 0:
        raise ValueError(f"{name} 的标签必须是类别编号 0, 1, 2, ...；却出现了 {low}")
    if high >= y_hat.shape[1]:
        raise ValueError(
            f"模型对每张图像给出 {y_hat.shape[1]} 个分数，但 {name} 的标签最大到 {high}（至少 {high + 1} 个类别）："
            f"请让模型最后一层对每个类别输出一个分数，例如 nn.Linear(..., {high + 1}) 或 num_classes={high + 1}。"
        )


def check_loss(loss: Any, y_hat: torch.Tensor) -> None:
    """Check what ``loss_fn`` returned for the first batch, before any update (one wait for the device).

    Raises:
        ValueError: when it is not a scalar tensor computed from the model's scores, or is already not finite.
    """
    wanted = "loss_fn 必须返回一个由模型输出计算出来的标量张量，例如 nn.CrossEntropyLoss()"
    if not isinstance(loss, torch.Tensor):
        raise ValueError(f"{wanted}；它返回的是一个 {type(loss).__name__}（loss_fn 里不要用 .item() 或 float()）")
    if loss.numel() != 1:
        raise ValueError(f"{wanted}；它返回的是形状为 {tuple(loss.shape)} 的张量：请用 .mean() 把它归约成一个数"
                         "（nn.CrossEntropyLoss 默认的 reduction='mean' 就是这样做的）")
    if not loss.requires_grad:
        raise ValueError(f"{wanted}；它的结果和模型的输出没有连在一起，梯度无法传回去"
                         "（是不是 y_hat 被 detach 了，或者用 torch.tensor(...) 重新构造了损失？）")
    value = float(loss.detach())
    if not math.isfinite(value):
        fp16 = "，也可能是 float16 溢出了（请用 precision='bf16' 或 'fp32'）" if y_hat.dtype == torch.float16 else ""
        raise ValueError(
            f"第一个小批量的损失在任何更新之前就是 {value}，所以原因不在学习率：模型的分数不是有限值。"
            f"它的权重可能在之前一次发散的训练之后含有 NaN（请重新创建模型）{fp16}。"
        )


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context for ``precision`` (``'fp32'`` gives one that does nothing)."""
    dtype = _DTYPES.get(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
