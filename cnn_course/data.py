"""MNIST and Fashion-MNIST: finding the files, reading IDX, and fast in-memory batch iterators."""

from __future__ import annotations

import gzip
import math
import os
import shutil
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .runtime import resolve_device

__all__ = [
    "DATASETS",
    "DataError",
    "DatasetInfo",
    "TensorLoader",
    "find_data",
    "load_data",
    "read_idx",
    "torchvision_dataset",
    "write_idx",
    "write_synthetic_dataset",
]

ENV_VAR = "CNN_COURSE_DATA"
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DataError(RuntimeError):
    """The data could not be found, read or downloaded; the message says what to do."""


@dataclass(frozen=True)
class DatasetInfo:
    """What the course knows about one dataset."""

    name: str
    mean: float
    std: float
    classes: tuple[str, ...]
    system_dirs: tuple[str, ...] = ()


DATASETS: dict[str, DatasetInfo] = {
    "MNIST": DatasetInfo("MNIST", 0.1307, 0.3081, tuple(str(i) for i in range(10))),
    "FashionMNIST": DatasetInfo(
        "FashionMNIST",
        0.2860,
        0.3530,
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        ("/usr/share/datasets/fashion-mnist",),  # Debian's dataset-fashion-mnist package
    ),
}
_ALIASES = {"mnist": "MNIST", "fashionmnist": "FashionMNIST", "fashion-mnist": "FashionMNIST",
            "fashion_mnist": "FashionMNIST"}


def _dataset(name: str) -> DatasetInfo:
    key = _ALIASES.get(str(name).strip().lower()) if isinstance(name, str) else None
    if key is None:
        raise ValueError(f"name={name!r} is not a dataset of this course; use 'MNIST' or 'FashionMNIST'")
    return DATASETS[key]


def cache_dir() -> Path:
    """Folder for downloads: ``$XDG_CACHE_HOME/cnn_course`` (default ``~/.cache/cnn_course``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cnn_course"


# --------------------------------------------------------------------------- IDX files


def _open_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as err:
        raise DataError(
            f"{path} is damaged or incomplete ({type(err).__name__}: {err}). Delete it and copy or "
            "download the file again."
        ) from None


def read_idx(path: str | os.PathLike) -> torch.Tensor:
    """Read an IDX file (``.gz`` or not) into a uint8 tensor.

    Raises:
        DataError: when the file is missing, truncated, not IDX, or its size does not match its header.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    raw = _open_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file (bad header); replace it with the original file")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim < 1 or len(raw) < header:
        raise DataError(f"{path} has a truncated header; replace it with the original file")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + math.prod(dims)
    if len(raw) != expected:
        raise DataError(
            f"{path} holds {len(raw) - header:,} data bytes but its header promises {math.prod(dims):,} "
            f"(shape {dims}); the file is incomplete or damaged, replace it with the original file"
        )
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
    return torch.from_numpy(array.copy())


def write_idx(path: str | os.PathLike, data: np.ndarray | torch.Tensor) -> Path:
    """Write a uint8 array as an IDX file; gzip-compressed when ``path`` ends in ``.gz``."""
    array = np.asarray(data.cpu() if isinstance(data, torch.Tensor) else data)
    if array.dtype != np.uint8:
        raise ValueError(f"data must be uint8, got {array.dtype}")
    path = Path(path)
    payload = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with gzip.open(path, "wb", compresslevel=1) as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)
    return path


def _file_in(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _complete_folder(folder: Path) -> bool:
    return all(_file_in(folder, stem) for pair in FILES.values() for stem in pair)


def _candidates(base: Path, info: DatasetInfo) -> list[Path]:
    """Folders under ``base`` that may hold the four files (torchvision's layout first)."""
    return [base / info.name / "raw", base / info.name, base]


def _search_places(info: DatasetInfo, root: str | os.PathLike | None) -> list[tuple[str, Path]]:
    places: list[tuple[str, Path]] = []
    if root is not None:
        places += [("root", p) for p in _candidates(Path(root), info)]
    env = os.environ.get(ENV_VAR)
    if env:
        places += [(ENV_VAR, p) for p in _candidates(Path(env), info)]
    places += [("system", Path(d)) for d in info.system_dirs]
    places.append(("cache", cache_dir() / info.name / "raw"))
    return places


def _download(info: DatasetInfo, target: Path) -> None:
    """Download with torchvision into a temporary folder, then move the files into ``target``.

    Nothing partial is left behind: the temporary folder is removed whatever happens.
    """
    from torchvision import datasets  # imported here: only a download needs it

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=target.parent))
    try:
        getattr(datasets, info.name)(root=str(tmp), train=True, download=True)
        getattr(datasets, info.name)(root=str(tmp), train=False, download=True)
        raw = tmp / info.name / "raw"
        files = []
        for pair in FILES.values():
            for stem in pair:
                gz = raw / f"{stem}.gz"
                src = gz if gz.is_file() else _file_in(raw, stem)
                if src is None:
                    raise DataError(f"the download did not produce {stem}")
                read_idx(src)  # refuse to keep a damaged file
                files.append(src)
        target.mkdir(parents=True, exist_ok=True)
        for src in files:
            # Never overwrite a file the user put there; complete the folder around it.
            if _file_in(target, src.name.removesuffix(".gz")) is None:
                os.replace(src, target / src.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def find_data(name: str, root: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Return the folder that holds the four IDX files of dataset ``name``.

    Looks in ``root``, then ``$CNN_COURSE_DATA``, then system folders (Debian's
    ``/usr/share/datasets/fashion-mnist``), then the download cache; downloads with
    torchvision as a last resort (into ``root`` when given, else the cache).

    Raises:
        DataError: when nothing is found and the download fails or is disabled; the
            message lists every place searched and how to provide the files offline.
    """
    info = _dataset(name)
    places = _search_places(info, root)
    for _, folder in places:
        if _complete_folder(folder):
            return folder
    target = Path(root) / info.name / "raw" if root is not None else cache_dir() / info.name / "raw"
    reason = "download=False"
    if download:
        try:
            _download(info, target)
            return target
        except Exception as err:  # noqa: BLE001 - any failure becomes one clear message
            reason = f"the download failed ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
    searched = "\n".join(f"  - {folder}  ({label})" for label, folder in places)
    names = ", ".join(f"{stem}.gz" for pair in FILES.values() for stem in pair)
    raise DataError(
        f"{info.name} was not found and {reason}.\nSearched:\n{searched}\n"
        f"To work offline, put the four files ({names}; .gz or uncompressed) in "
        f"<folder>/{info.name}/raw/ and set {ENV_VAR}=<folder>, or pass root=<folder>."
        + ("\nOn Debian/Ubuntu: apt-get install dataset-fashion-mnist" if info.name == "FashionMNIST" else "")
    )


_CACHE: dict[tuple[str, int, int], torch.Tensor] = {}


def _read_cached(path: Path) -> torch.Tensor:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _CACHE:
        _CACHE[key] = read_idx(path)
    return _CACHE[key]


def _read_split(folder: Path, split: str, info: DatasetInfo) -> tuple[torch.Tensor, torch.Tensor]:
    img_path, lbl_path = (_file_in(folder, stem) for stem in FILES[split])
    assert img_path is not None and lbl_path is not None
    images, labels = _read_cached(img_path), _read_cached(lbl_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(
            f"{img_path} ({tuple(images.shape)}) and {lbl_path} ({tuple(labels.shape)}) do not match: "
            "expected N images of HxW and N labels; replace them with the original files"
        )
    if len(labels) and int(labels.max()) >= len(info.classes):
        raise DataError(f"{lbl_path} has label {int(labels.max())}, but {info.name} has {len(info.classes)} classes")
    return images, labels.long()


def balanced_subset(labels: torch.Tensor, size: int, num_classes: int, seed: int = 0) -> torch.Tensor:
    """Pick ``size`` indices with (nearly) the same number per class, deterministically from ``seed``.

    Returns:
        Sorted int64 indices.

    Raises:
        ValueError: when ``size`` is not between 1 and what the classes can supply.
    """
    n = len(labels)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= n:
        raise ValueError(f"subset size must be an int from 1 to {n:,}, got {size!r}")
    counts = torch.bincount(labels, minlength=num_classes)
    per_class = [size // num_classes + (1 if c < size % num_classes else 0) for c in range(num_classes)]
    short = [c for c in range(num_classes) if per_class[c] > counts[c]]
    if short:
        c = short[0]
        raise ValueError(
            f"a class-balanced subset of {size:,} needs {per_class[c]:,} images of class {c}, "
            f"but only {int(counts[c]):,} exist; use at most {int(counts.min()) * num_classes:,}"
        )
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for c in range(num_classes):
        members = torch.nonzero(labels == c).flatten()
        chosen.append(members[torch.randperm(len(members), generator=generator)[: per_class[c]]])
    return torch.cat(chosen).sort().values


# --------------------------------------------------------------------------- the iterator


def _size_pair(resize: int | Sequence[int] | None) -> tuple[int, int] | None:
    if resize is None:
        return None
    if isinstance(resize, int) and not isinstance(resize, bool):
        pair = (resize, resize)
    else:
        try:
            pair = tuple(int(v) for v in resize)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            pair = ()
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"resize must be a positive int or an (h, w) pair, got {resize!r}")
    return pair  # type: ignore[return-value]


class TensorLoader:
    """Batches from one split held in memory as a uint8 tensor on the training device.

    Each epoch is shuffled afresh (when ``shuffle``): epoch ``k`` of the loader's life uses the
    order drawn from ``(seed, k)``, so every pass, including one made only to look at a batch,
    moves to the next order; make a new loader to start again. Each batch is converted to float,
    resized (bilinear, as torchvision's ``Resize`` on tensors) and normalised on the fly.
    Iterating yields ``(X, y)`` with ``X`` of shape ``(B, 1, H, W)``.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        batch_size: int,
        shuffle: bool,
        info: DatasetInfo,
        split: str = "train",
        source: str = "",
        total: int | None = None,
        resize: int | Sequence[int] | None = None,
        augment: bool = False,
        seed: int = 0,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.info = info
        self.split = split
        self.source = source
        self.total = len(labels) if total is None else total
        self.size = _size_pair(resize)
        self.augment = augment
        self.seed = seed
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
        """One line saying what this loader holds and where it came from."""
        subset = "" if self.num_examples == self.total else f" (class-balanced subset of {self.total:,})"
        h, w = self.images.shape[1:]
        size = f"{h}x{w}" + (f" resized to {self.size[0]}x{self.size[1]}" if self.size else "")
        aug = ", augmented" if self.augment else ""
        return (f"{self.info.name} {self.split}: {self.num_examples:,} images{subset}, {size}{aug}, "
                f"batch {self.batch_size}, on {self.device.type}, from {self.source}")

    __repr__ = describe

    # -- raw access for display
    def raw_images(self, indices: int | Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Return the original uint8 images ``(n, H, W)`` at ``indices`` (on the CPU)."""
        idx = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        self._check_indices(idx)
        return self.images[idx.to(self.device)].cpu()

    def raw_labels(self, indices: int | Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Return the int64 labels at ``indices`` (on the CPU)."""
        idx = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        self._check_indices(idx)
        return self.labels[idx.to(self.device)].cpu()

    def _check_indices(self, idx: torch.Tensor) -> None:
        if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= self.num_examples):
            raise ValueError(f"indices must be between 0 and {self.num_examples - 1}, got {idx.tolist()[:5]}...")

    def transform(self, images: torch.Tensor) -> torch.Tensor:
        """Turn uint8 images ``(B, H, W)`` into the normalised float batch ``(B, 1, H', W')`` the model sees."""
        X = images.unsqueeze(1).float().div_(255.0)
        if self.size is not None and tuple(X.shape[-2:]) != self.size:
            X = F.interpolate(X, size=self.size, mode="bilinear", align_corners=False, antialias=True)
        return X.sub_(self.info.mean).div_(self.info.std)

    def _augment(self, X: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Random shifts of up to 2 pixels (and horizontal flips for clothes), per image."""
        B, _, H, W = X.shape
        pad = 2
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
                images, y = self.images[start:start + bs], self.labels[start:start + bs]
            else:
                idx = order[start:start + bs]
                images, y = self.images[idx], self.labels[idx]
            X = self.transform(images)
            if self.augment:
                X = self._augment(X, generator)
            yield X, y


def load_data(
    name: str,
    batch_size: int,
    *,
    resize: int | Sequence[int] | None = None,
    root: str | os.PathLike | None = None,
    train_size: int | None = None,
    test_size: int | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    augment: bool = False,
    download: bool = True,
) -> tuple[TensorLoader, TensorLoader]:
    """Load MNIST or Fashion-MNIST as fast in-memory iterators.

    Args:
        name: ``'MNIST'`` or ``'FashionMNIST'``.
        batch_size: images per batch (both splits).
        resize: resize each batch to this size (int or ``(h, w)``), e.g. 224 for AlexNet.
        root: a folder to look in first (and to download into).
        train_size, test_size: take a deterministic class-balanced subset of this many images.
        device: where to keep the data; None picks :func:`get_device`.
        seed: seeds the subset choice and the shuffling (epoch ``k`` uses ``seed`` and ``k``).
        augment: random 2-pixel shifts (and flips for Fashion-MNIST) on training batches.
        download: allow torchvision's download when the files are not found.

    Returns:
        ``(train_iter, test_iter)``; the training iterator reshuffles every epoch.

    Raises:
        ValueError: for a bad argument (the message names it).
        DataError: when the data cannot be found, read or downloaded.
    """
    info = _dataset(name)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int such as 128 or 256, got {batch_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    _size_pair(resize)
    dev = resolve_device(device)
    folder = find_data(info.name, root=root, download=download)
    loaders = []
    for split, size, label in (("train", train_size, "train_size"), ("test", test_size, "test_size")):
        images, labels = _read_split(folder, split, info)
        total = len(labels)
        if size is not None:
            try:
                idx = balanced_subset(labels, size, len(info.classes), seed=seed)
            except ValueError as err:
                raise ValueError(f"{label}: {err}") from None
            images, labels = images[idx], labels[idx]
        loaders.append(
            TensorLoader(
                images.to(dev), labels.to(dev), batch_size=batch_size, shuffle=split == "train", info=info,
                split=split, source=str(folder), total=total, resize=resize,
                augment=augment and split == "train", seed=seed,
            )
        )
    return loaders[0], loaders[1]


# --------------------------------------------------------------------------- torchvision and test data


def torchvision_dataset(name: str, train: bool, transform=None, root: str | os.PathLike | None = None):
    """Return torchvision's own dataset class over the files :func:`find_data` finds.

    torchvision reads uncompressed IDX files under ``<root>/<Name>/raw``; they are
    written once into the cache folder. This is the "source's" pipeline, for comparison.
    """
    from torchvision import datasets

    info = _dataset(name)
    folder = find_data(info.name, root=root)
    tv_root = cache_dir() / "torchvision"
    raw = tv_root / info.name / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    # The copy is valid only for the exact source files it was made from.
    sources = [_file_in(folder, stem) for pair in FILES.values() for stem in pair]
    stamp = "\n".join(f"{p.resolve()} {p.stat().st_size} {p.stat().st_mtime_ns}" for p in sources if p)
    stamp_file = raw / "SOURCE"
    if not stamp_file.is_file() or stamp_file.read_text() != stamp:
        for src in sources:
            assert src is not None
            dst = raw / src.name.removesuffix(".gz")
            tmp = dst.with_suffix(".partial")
            tmp.write_bytes(_open_bytes(src))
            os.replace(tmp, dst)
        stamp_file.write_text(stamp)
    return getattr(datasets, info.name)(root=str(tv_root), train=train, download=False, transform=transform)


def write_synthetic_dataset(
    root: str | os.PathLike, name: str, train_per_class: int = 100, test_per_class: int = 20, seed: int = 0,
    compress: bool = True,
) -> Path:
    """Write a small learnable stand-in for a dataset, in torchvision's raw IDX layout.

    Class ``c`` is a bright bar whose position and angle depend on ``c``, plus noise: easy
    for a CNN, clearly not real data. For tests only; normal use never substitutes data.

    Returns:
        The folder ``<root>/<Name>/raw`` holding the four files.
    """
    info = _dataset(name)
    rng = np.random.default_rng(seed)
    folder = Path(root) / info.name / "raw"
    yy, xx = np.mgrid[0:28, 0:28]
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        labels = np.repeat(np.arange(10, dtype=np.uint8), per_class)
        rng.shuffle(labels)
        images = np.empty((len(labels), 28, 28), dtype=np.uint8)
        for i, c in enumerate(labels):
            angle = np.pi * int(c) / 10
            shift = rng.integers(-2, 3, size=2)
            d = np.abs((xx - 14 - shift[0]) * np.sin(angle) - (yy - 14 - shift[1]) * np.cos(angle))
            img = 220 * np.exp(-(d**2) / 4.0) + rng.normal(0, 20, size=(28, 28))
            images[i] = np.clip(img, 0, 255).astype(np.uint8)
        suffix = ".gz" if compress else ""
        write_idx(folder / f"{FILES[split][0]}{suffix}", images)
        write_idx(folder / f"{FILES[split][1]}{suffix}", labels)
    return folder
