"""Batches of MNIST and Fashion-MNIST from memory: the loader interface, the fast loader and ``load_data``.

Also class-balanced subsets, augmentation, and torchvision's own dataset class over the same files
(the source course's pipeline, for comparison). Finding the files is :mod:`cnn_course.datasets`' job.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, overload, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

from ._checks import check_bool, check_int, check_pair
from .datasets import DOWNLOAD_TIMEOUT, DatasetInfo, dataset_info, display_folder, find_data, normalize, split_files
from .idx import DataError, read_idx, write_idx
from .runtime import resolve_device

if TYPE_CHECKING:  # torchvision is imported only when its dataset is asked for
    from torchvision.datasets.vision import VisionDataset

__all__ = ["Loader", "TensorLoader", "balanced_subset", "load_data", "torchvision_dataset"]

_MAX_SEED = 2**32 - 1  # what NumPy accepts, so that one seed works everywhere in the course


@runtime_checkable
class Loader(Protocol):
    """What the course's functions and notebooks rely on in a data iterator such as ``train_iter``.

    :class:`TensorLoader` is the course's own; any object with these members works wherever a
    loader is expected (training, evaluation, plots of mistakes, recorded results).
    """

    @property
    def classes(self) -> list[str]:
        """Class names, indexed by label."""
        ...

    @property
    def device(self) -> torch.device:
        """Device where batches are made."""
        ...

    @property
    def num_examples(self) -> int:
        """Number of images one pass yields."""
        ...

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of each image in a batch."""
        ...

    @property
    def total(self) -> int:
        """Number of images in the whole split before any subset was taken."""
        ...

    @property
    def shuffle(self) -> bool:
        """Whether each pass comes in a new order (so positions do not name images)."""
        ...

    def __len__(self) -> int:
        """Number of batches per pass."""
        ...

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(X, y)`` batches: float images ``(B, C, H, W)`` and int64 labels ``(B,)``."""
        ...

    def describe(self) -> str:
        """One line saying what the loader holds and where it came from."""
        ...

    def raw_images(self, indices: int | Sequence[int] | torch.Tensor) -> torch.Tensor:
        """The original uint8 images ``(n, H, W)`` at ``indices``, for display."""
        ...

    def raw_labels(self, indices: int | Sequence[int] | torch.Tensor) -> torch.Tensor:
        """The int64 labels at ``indices``."""
        ...

    def transform(self, images: torch.Tensor) -> torch.Tensor:
        """Turn uint8 images ``(n, H, W)`` into the float batch ``(n, C, H', W')`` the model sees."""
        ...


# --------------------------------------------------------------------------- reading a split


_CACHE: dict[str, tuple[tuple[int, int], torch.Tensor]] = {}


def _read_cached(path: Path) -> torch.Tensor:
    """Read ``path`` once per version of the file. The tensor returned is the cache: never hand it out."""
    stat = path.stat()
    key, version = str(path.resolve()), (stat.st_size, stat.st_mtime_ns)
    if key not in _CACHE or _CACHE[key][0] != version:
        _CACHE[key] = (version, read_idx(path))
    return _CACHE[key][1]


def _read_split(folder: Path, split: str, info: DatasetInfo) -> tuple[torch.Tensor, torch.Tensor]:
    """The cached uint8 images ``(N, H, W)`` and labels ``(N,)`` of ``split``, checked; copy before handing out."""
    img_path, lbl_path = split_files(folder, split)
    images, labels = _read_cached(img_path), _read_cached(lbl_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(
            f"{img_path}（{tuple(images.shape)}）和 {lbl_path}（{tuple(labels.shape)}）对不上："
            "应当是 N 张 HxW 的图像和 N 个标签；请用原始文件替换它们"
        )
    if len(labels) == 0:
        raise DataError(f"{img_path} 里没有图像；请用原始文件替换它")
    if int(labels.max()) >= len(info.classes):
        raise DataError(f"{lbl_path} 里有标签 {int(labels.max())}，但 {info.name} 只有 {len(info.classes)} 个类别"
                        f"（标签 0 到 {len(info.classes) - 1}）；它是不是另一个数据集的文件？请用原始文件替换它")
    return images, labels


def _copy_to(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A copy of a CPU tensor on ``device`` (NumPy copies on the CPU: about 3x faster than torch on one thread)."""
    if device.type == "cpu":
        return torch.from_numpy(tensor.numpy().copy())
    return tensor.to(device)


# --------------------------------------------------------------------------- subsets


def _balanced_indices(labels: torch.Tensor, size: int, num_classes: int, seed: int, name: str) -> torch.Tensor:
    counts = torch.bincount(labels.long(), minlength=num_classes)
    per_class = [size // num_classes + (1 if c < size % num_classes else 0) for c in range(num_classes)]
    short = [c for c in range(num_classes) if per_class[c] > counts[c]]
    if short:
        c = short[0]
        raise ValueError(
            f"{name}={size!r}：各类别数量均衡的 {size:,} 张子集需要类别 {c} 的 {per_class[c]:,} 张图像，"
            f"但它只有 {int(counts[c]):,} 张；最多只能用 {int(counts.min()) * num_classes:,}"
        )
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for c in range(num_classes):
        members = torch.nonzero(labels == c).flatten()
        chosen.append(members[torch.randperm(len(members), generator=generator)[: per_class[c]]])
    return torch.cat(chosen).sort().values


def balanced_subset(labels: torch.Tensor, size: int, num_classes: int, seed: int = 0) -> torch.Tensor:
    """Pick ``size`` indices with (nearly) the same number per class, deterministically from ``seed``.

    Args:
        labels: int labels ``(N,)`` from 0 to ``num_classes - 1``.
        size: how many indices to pick.
        num_classes: number of classes.
        seed: picks which images of each class.

    Returns:
        Sorted int64 indices into ``labels``.

    Raises:
        ValueError: for labels that are not a 1-D integer tensor, or a ``size`` the classes cannot supply.
    """
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1 or labels.dtype in (torch.bool,) \
            or labels.is_floating_point() or labels.is_complex():
        shown = (f"形状为 {tuple(labels.shape)}、dtype 为 {labels.dtype} 的张量"
                 if isinstance(labels, torch.Tensor) else f" {type(labels).__name__}")
        raise ValueError(f"labels 必须是由整数标签组成的一维张量，例如 dataset.targets，传入的是{shown}")
    num_classes = check_int(num_classes, "num_classes", 1)
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"num_classes={num_classes!r}，但标签从 {int(labels.min())} 到 "
                         f"{int(labels.max())}；请用 num_classes={int(labels.max()) + 1}")
    size = check_int(size, "size", 1, max(len(labels), 1))
    seed = check_int(seed, "seed", 0, _MAX_SEED)
    return _balanced_indices(labels.cpu(), size, num_classes, seed, "size")


# --------------------------------------------------------------------------- the loader


def _check_options(batch_size: Any, resize: Any, augment: Any, seed: Any,
                   ) -> tuple[int, tuple[int, int] | None, bool, int]:
    """A loader's settings, checked: ``(batch_size, (h, w) or None, augment, seed)``."""
    return (check_int(batch_size, "batch_size", 1), None if resize is None else check_pair(resize, "resize", 1),
            check_bool(augment, "augment"), check_int(seed, "seed", 0, _MAX_SEED))


class TensorLoader:
    """Batches from one split held in memory as a uint8 tensor on the training device.

    Each epoch is shuffled afresh (when ``shuffle``): epoch ``k`` of the loader's life uses the
    order drawn from ``(seed, k)``, so every pass, including one made only to look at a batch,
    moves to the next order; make a new loader to start again. Each batch is converted to float,
    resized (bilinear, as torchvision's ``Resize`` on tensors) and normalised on the fly.
    Iterating yields ``(X, y)`` with ``X`` of shape ``(B, 1, H, W)``; both are new tensors, so
    editing a batch never changes the loader. :func:`load_data` makes these; it is the usual way.

    Args:
        images: uint8 images ``(N, H, W)``; the loader keeps this very tensor.
        labels: int labels ``(N,)`` on the same device.
        batch_size: images per batch.
        shuffle: draw a new order each epoch.
        info: the dataset (``'MNIST'``, ``'FashionMNIST'`` or its :class:`DatasetInfo`): classes, mean, std.
        split, source, total: what :meth:`describe` says (split name, folder, images before any subset).
        origin: how the images were chosen, said by :meth:`describe` instead of the subset note
            (e.g. ``"held out from the 60,000 training images"``); empty for a plain split or subset.
        resize: resize each batch to this size (int or ``(h, w)``).
        augment: random shifts of up to 2 original pixels (and flips for clothes) on each batch.
        seed: seeds the shuffling and the augmentation.

    Raises:
        ValueError: for a bad argument (the message names it).
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        batch_size: int,
        shuffle: bool,
        info: str | DatasetInfo,
        split: str = "train",
        source: str = "",
        total: int | None = None,
        resize: int | Sequence[int] | None = None,
        augment: bool = False,
        seed: int = 0,
        origin: str = "",
    ) -> None:
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 3 or not len(images):
            shown = f"形状为 {tuple(images.shape)}、dtype 为 {images.dtype} 的张量" \
                if isinstance(images, torch.Tensor) else f" {type(images).__name__}"
            raise ValueError(f"images 必须是非空的 uint8 张量 (N, H, W)，装着 0-255 的像素值，传入的是{shown}")
        if not isinstance(labels, torch.Tensor) or labels.shape != images.shape[:1] \
                or labels.is_floating_point() or labels.dtype == torch.bool or labels.device != images.device:
            shown = f"{labels.device} 上形状为 {tuple(labels.shape)}、dtype 为 {labels.dtype} 的张量" \
                if isinstance(labels, torch.Tensor) else type(labels).__name__
            raise ValueError(f"labels 必须是 {images.device} 上形状为 ({len(images)},) 的整数张量，"
                             f"每张图像一个标签，传入的是 {shown}")
        info = dataset_info(info)
        if int(labels.min()) < 0 or int(labels.max()) >= len(info.classes):
            raise ValueError(f"labels 从 {int(labels.min())} 到 {int(labels.max())}，但 {info.name} "
                             f"的标签只有 0 到 {len(info.classes) - 1}")
        self.batch_size, self.size, self.augment, self.seed = _check_options(batch_size, resize, augment, seed)
        self.total = len(labels) if total is None else check_int(total, "total", len(labels))
        self.shuffle = check_bool(shuffle, "shuffle")
        self.images, self.labels, self.info = images, labels.long(), info
        self.split, self.source, self.origin = str(split), str(source), str(origin)
        self.epoch = 0

    # -- facts
    @property
    def classes(self) -> list[str]:
        """Class names, indexed by label."""
        return list(self.info.classes)

    @property
    def device(self) -> torch.device:
        """Device where the images are kept and batches are made."""
        return self.images.device

    @property
    def num_examples(self) -> int:
        """Number of images in this split (after any subset)."""
        return len(self.labels)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of the batches this loader yields."""
        h, w = self.size or tuple(self.images.shape[1:])
        return (1, h, w)

    def __len__(self) -> int:
        return math.ceil(self.num_examples / self.batch_size)

    def describe(self) -> str:
        """One line saying what this loader holds and where it came from (:func:`display_folder`)."""
        subset = f" ({self.origin})" if self.origin else \
            "" if self.num_examples == self.total else f" (class-balanced subset of {self.total:,})"
        h, w = self.images.shape[1:]
        size = f"{h}x{w}" + (f" resized to {self.size[0]}x{self.size[1]}" if self.size else "")
        aug = ", augmented" if self.augment else ""
        source = f", from {display_folder(self.source)}" if self.source else ""
        return (f"{self.info.name} {self.split}: {self.num_examples:,} images{subset}, {size}{aug}, "
                f"batch {self.batch_size}, on {self.device.type}{source}")

    __repr__ = describe

    # -- raw access for display
    def raw_images(self, indices: int | Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Return copies of the original uint8 images ``(n, H, W)`` at ``indices`` (on the CPU).

        Raises:
            ValueError: for positions outside ``0 .. num_examples - 1``, a True/False mask, or non-integers.
        """
        return self.images[self._indices(indices).to(self.device)].cpu()

    def raw_labels(self, indices: int | Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Return copies of the int64 labels at ``indices`` (on the CPU).

        Raises:
            ValueError: for positions outside ``0 .. num_examples - 1``, a True/False mask, or non-integers.
        """
        return self.labels[self._indices(indices).to(self.device)].cpu()

    def _indices(self, indices: Any) -> torch.Tensor:
        wanted = f"从 0 到 {self.num_examples - 1:,} 的位置（一个整数、整数列表或整数张量）"
        if isinstance(indices, (bool, np.bool_)):
            raise ValueError(f"indices={indices!r} 是布尔值；请用{wanted}")
        try:
            idx = torch.as_tensor(indices)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"indices={indices!r} 不是位置；请用{wanted}") from None
        if idx.dtype == torch.bool:
            raise ValueError(f"indices 是 True/False 掩码；请用{wanted}，例如 mask.nonzero().flatten()")
        if idx.numel() == 0:
            return idx.reshape(-1).long()
        if idx.is_floating_point() or idx.is_complex():
            raise ValueError(f"indices={indices!r} 不是整数；请用{wanted}")
        idx = idx.reshape(-1).long()
        if int(idx.min()) < 0 or int(idx.max()) >= self.num_examples:
            bad = [i for i in idx.tolist() if not 0 <= i < self.num_examples][:5]
            raise ValueError(f"indices 里的 {bad} 超出了这个加载器的 {self.num_examples:,} 张图像；请用{wanted}")
        return idx

    def transform(self, images: torch.Tensor) -> torch.Tensor:
        """Turn uint8 images ``(n, H, W)`` (or one ``(H, W)``) into the normalised float batch ``(n, 1, H', W')``.

        This is what each batch goes through; the input is left unchanged.

        Raises:
            ValueError: for anything but uint8 pixel values 0-255 in 2 or 3 dimensions.
        """
        if isinstance(images, np.ndarray):
            images = torch.from_numpy(images)
        wanted = "像素值为 0-255 的 uint8 图像 (n, H, W)，就像 raw_images 给出的那样"
        if not isinstance(images, torch.Tensor):
            raise ValueError(f"images 必须是{wanted}，传入的是 {type(images).__name__}")
        if images.dtype != torch.uint8:
            raise ValueError(f"images 必须是{wanted}，传入的 dtype 是 {images.dtype}（已经变换过了？）")
        if images.ndim not in (2, 3):
            raise ValueError(f"images 必须是{wanted}，传入的形状是 {tuple(images.shape)}")
        return self._to_float(images.reshape(-1, *images.shape[-2:]))

    def _to_float(self, images: torch.Tensor) -> torch.Tensor:
        X = images.unsqueeze(1).float().div_(255.0)  # .float() copies, so the in-place step touches only X
        if self.size is not None and tuple(X.shape[-2:]) != self.size:
            X = F.interpolate(X, size=self.size, mode="bilinear", align_corners=False, antialias=True)
        return normalize(X, self.info)

    def _augment(self, X: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Random shifts of up to 2 pixels of the original image (and horizontal flips for clothes), per image."""
        B, _, H, W = X.shape
        # Shift after resizing by the same fraction of the image as 2 of the original 28 pixels.
        pad = 2 * max(1, round(H / self.images.shape[-2]))
        background = -self.info.mean / self.info.std  # a black pixel after normalisation
        padded = F.pad(X, (pad, pad, pad, pad), value=background)
        oy = torch.randint(0, 2 * pad + 1, (B,), generator=generator).to(X.device)
        ox = torch.randint(0, 2 * pad + 1, (B,), generator=generator).to(X.device)
        rows = (oy[:, None] + torch.arange(H, device=X.device))[:, :, None]
        cols = (ox[:, None] + torch.arange(W, device=X.device))[:, None, :]
        batch = torch.arange(B, device=X.device)[:, None, None]
        X = padded[batch, 0, rows, cols].unsqueeze(1)
        if self.info.name == "FashionMNIST":
            flip = (torch.rand(B, generator=generator) < 0.5).to(X.device)
            X = torch.where(flip[:, None, None, None], X.flip(-1), X)
        return X

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, bs = self.num_examples, self.batch_size
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        self.epoch += 1
        order = torch.randperm(n, generator=generator).to(self.device) if self.shuffle else None
        for start in range(0, n, bs):
            if order is None:
                # Slices are views: clone the labels so that editing y cannot change later epochs.
                images, y = self.images[start:start + bs], self.labels[start:start + bs].clone()
            else:
                idx = order[start:start + bs]
                images, y = self.images[idx], self.labels[idx]  # indexing with a tensor copies
            X = self._to_float(images)
            if self.augment:
                X = self._augment(X, generator)
            yield X, y


# --------------------------------------------------------------------------- load_data


@overload
def load_data(
    name: str, batch_size: int, *, resize: int | Sequence[int] | None = ..., root: str | os.PathLike | None = ...,
    train_size: int | None = ..., valid_size: None = ..., test_size: int | None = ...,
    device: str | torch.device | None = ..., seed: int = ..., augment: bool = ..., download: bool = ...,
    download_timeout: float = ...,
) -> tuple[TensorLoader, TensorLoader]: ...


@overload
def load_data(
    name: str, batch_size: int, *, resize: int | Sequence[int] | None = ..., root: str | os.PathLike | None = ...,
    train_size: int | None = ..., valid_size: int, test_size: int | None = ...,
    device: str | torch.device | None = ..., seed: int = ..., augment: bool = ..., download: bool = ...,
    download_timeout: float = ...,
) -> tuple[TensorLoader, TensorLoader, TensorLoader]: ...


def load_data(
    name: str,
    batch_size: int,
    *,
    resize: int | Sequence[int] | None = None,
    root: str | os.PathLike | None = None,
    train_size: int | None = None,
    valid_size: int | None = None,
    test_size: int | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    augment: bool = False,
    download: bool = True,
    download_timeout: float = DOWNLOAD_TIMEOUT,
) -> tuple[TensorLoader, TensorLoader] | tuple[TensorLoader, TensorLoader, TensorLoader]:
    """Load MNIST or Fashion-MNIST as fast in-memory iterators, optionally with a validation split.

    With ``valid_size``, that many training images (class-balanced, chosen by ``seed``) are held out
    as a validation set: choose recipes on it, and evaluate the test set once, at the end. The
    training images (or the ``train_size`` subset) are drawn from the rest, so no image is in two splits.
    Each call gives loaders with their own copy of the data: editing their tensors or batches
    never changes what another call gives.

    Args:
        name: ``'MNIST'`` or ``'FashionMNIST'``.
        batch_size: images per batch (every split).
        resize: resize each batch to this size (int or ``(h, w)``), e.g. 224 for AlexNet.
        root: an existing folder to look in first (and to download into); see :func:`find_data`.
        train_size, test_size: take a deterministic class-balanced subset of this many images.
        valid_size: hold out this many training images as a validation set (None: no validation set).
        device: where to keep the data; None picks :func:`get_device`.
        seed: seeds the subset choices and the shuffling (epoch ``k`` uses ``seed`` and ``k``).
        augment: random shifts of up to 2 original pixels (and flips for Fashion-MNIST) on training batches.
        download: allow the download when the files are not found.
        download_timeout: seconds without data from a server before a download mirror is given up.

    Returns:
        ``(train_iter, test_iter)``, or ``(train_iter, valid_iter, test_iter)`` with ``valid_size``;
        the training iterator reshuffles every epoch, the others keep their order.

    Raises:
        ValueError: for a bad argument (the message names it, the value given and what would work).
        DataError: when the data cannot be found, read or downloaded.
    """
    info = dataset_info(name)
    *_, seed = _check_options(batch_size, resize, augment, seed)  # before any download
    sizes = {
        split: None if size is None else check_int(size, f"{split}_size", 1)
        for split, size in (("train", train_size), ("valid", valid_size), ("test", test_size))
    }
    dev = resolve_device(device)
    folder = find_data(info, root=root, download=download, download_timeout=download_timeout)

    def make(split: str, images: torch.Tensor, labels: torch.Tensor, total: int, origin: str = "") -> TensorLoader:
        return TensorLoader(images.to(dev), labels.to(dev, torch.long), batch_size=batch_size, info=info,
                            shuffle=split == "train", split=split, source=str(folder), total=total, resize=resize,
                            augment=augment and split == "train", seed=seed, origin=origin)

    images, labels = _read_split(folder, "train", info)  # the cache: indexing below makes new tensors
    total = len(labels)
    pool = torch.arange(total)
    valid, n = None, sizes["valid"]
    if n is not None:
        if n >= total:
            raise ValueError(f"valid_size={n!r} 会让训练图像一张不剩：{info.name} 只有 {total:,} 张训练图像；"
                             f"请少留出很多，例如 {total // 12:,}")
        held = _balanced_indices(labels, n, len(info.classes), seed, "valid_size")
        keep = torch.ones(total, dtype=torch.bool)
        keep[held] = False
        pool = pool[keep]
        valid = make("valid", images[held], labels[held], total,
                     f"class-balanced, held out from the {total:,} training images, seed {seed}")
    train_n = sizes["train"]
    if train_n is not None and train_n > len(pool):
        rest = f"留出验证集后剩下的 {len(pool):,} 张" if valid is not None else f"全部 {total:,} 张"
        raise ValueError(f"train_size={train_n!r} 超过了 {info.name} 的训练图像数（{rest}，在 {folder} 里）；"
                         f"最多只能用 {len(pool):,}，或者用 None 表示全部")
    origin = "" if n is None else f"the {total:,} training images minus the {n:,} held out"
    if train_n is not None and train_n < len(pool):
        pool = pool[_balanced_indices(labels[pool], train_n, len(info.classes), seed, "train_size")]
        origin = "" if n is None else f"class-balanced subset of the {total - n:,} not held out for validation"
    whole = len(pool) == total  # the whole split: a plain copy is about 3x faster than indexing
    train = make("train", _copy_to(images, dev) if whole else images[pool], labels[pool], total, origin)

    images, labels = _read_split(folder, "test", info)
    total = len(labels)
    test_n = sizes["test"]
    if test_n is None:
        test = make("test", _copy_to(images, dev), labels, total)
    elif test_n > total:
        raise ValueError(f"test_size={test_n!r} 超过了 {info.name} 的测试图像数（{total:,} 张，在 {folder} 里）；"
                         f"最多只能用 {total:,}，或者用 None 表示全部")
    else:
        idx = _balanced_indices(labels, test_n, len(info.classes), seed, "test_size")
        test = make("test", images[idx], labels[idx], total)
    return (train, test) if valid is None else (train, valid, test)


# --------------------------------------------------------------------------- torchvision's pipeline


def torchvision_dataset(
    name: str,
    train: bool,
    transform: Callable[[Any], Any] | None = None,
    root: str | os.PathLike | None = None,
) -> VisionDataset:
    """Return torchvision's own dataset (``datasets.MNIST`` or ``datasets.FashionMNIST``) over the course's files.

    The files are the ones :func:`find_data` finds. torchvision reads them as usual, with
    ``download=False``: straight from a folder laid out as it expects (``<root>/<Name>/raw/`` with
    uncompressed files), otherwise from uncompressed copies in a temporary folder, removed once read.
    ``__getitem__`` gives a PIL image through ``transform``, exactly as in the source course;
    ``.root`` names the folder the files came from.

    Raises:
        ValueError: for a bad argument.
        DataError: when the data cannot be found or read.
    """
    from torchvision import datasets

    info = dataset_info(name)
    train = check_bool(train, "train")
    if transform is not None and not callable(transform):
        raise ValueError(f"transform={transform!r} 不能调用；请用 transforms.ToTensor() 之类的变换，或者 None")
    folder = find_data(info, root=root)
    files = [path for split in ("train", "test") for path in split_files(folder, split)]
    for split in ("train", "test"):
        _read_split(folder, split, info)  # the course's checks, with messages that say which file to replace
    cls = getattr(datasets, info.name)
    if folder.name == "raw" and folder.parent.name == info.name and not any(p.suffix == ".gz" for p in files):
        return cls(root=str(folder.parent.parent), train=train, transform=transform, download=False)
    with tempfile.TemporaryDirectory(prefix="cnn-course-") as tmp:
        for path in files:  # torchvision reads only uncompressed files, all four in <root>/<Name>/raw
            write_idx(Path(tmp) / info.name / "raw" / path.name.removesuffix(".gz"), _read_cached(path))
        dataset = cls(root=tmp, train=train, transform=transform, download=False)
    dataset.root = str(folder)  # the data is in memory now; say where it came from, not the removed copy
    return dataset
