"""The course's datasets: what each one is, where its files are looked for, and how they are downloaded.

Loading the files into memory is :mod:`cnn_course.loaders`' job; reading one file is :mod:`cnn_course.idx`'s.
"""

from __future__ import annotations

import difflib
import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ._checks import check_bool, describe, is_positive_number
from .config import DATA_ENV
from .idx import DataError, read_idx

__all__ = [
    "DATASETS",
    "DOWNLOAD_TIMEOUT",
    "FILES",
    "DataError",
    "DatasetInfo",
    "cache_dir",
    "dataset_info",
    "display_folder",
    "find_data",
    "normalize",
    "split_files",
]

#: Seconds a download may wait for the server to send anything before it gives that mirror up.
DOWNLOAD_TIMEOUT = 30.0

#: The four files of each dataset (without ``.gz``; compressed or not are both accepted), by split.
FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_STEMS = tuple(stem for pair in FILES.values() for stem in pair)


@dataclass(frozen=True)
class DatasetInfo:
    """What the course knows about one dataset.

    ``name`` is torchvision's class name (and folder name); ``aliases`` are the lower-case spellings
    accepted for ``name`` and recognised in folder names; ``system_dirs`` are folders an operating
    system package installs the files into, and ``system_package`` says how to install it.
    """

    name: str
    mean: float
    std: float
    classes: tuple[str, ...]
    aliases: tuple[str, ...]
    system_dirs: tuple[str, ...] = ()
    system_package: str = ""


DATASETS: dict[str, DatasetInfo] = {
    "MNIST": DatasetInfo("MNIST", 0.1307, 0.3081, tuple(str(i) for i in range(10)), ("mnist",)),
    "FashionMNIST": DatasetInfo(
        "FashionMNIST",
        0.2860,
        0.3530,
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        ("fashionmnist", "fashion-mnist", "fashion_mnist", "fashion mnist"),
        ("/usr/share/datasets/fashion-mnist",),
        "apt-get install dataset-fashion-mnist  (Debian/Ubuntu)",
    ),
}


def dataset_info(name: str | DatasetInfo) -> DatasetInfo:
    """Return the catalogue entry for ``name`` (``'MNIST'``, ``'FashionMNIST'``; case and ``-``/``_`` ignored).

    Raises:
        ValueError: for any other name; the message suggests the closest dataset name.
    """
    if isinstance(name, DatasetInfo):
        return name
    names = " 或 ".join(repr(n) for n in DATASETS)
    if not isinstance(name, str):
        raise ValueError(f"name={name!r} 不是数据集名称；请用 {names}")
    key = name.strip().lower()
    for info in DATASETS.values():
        if key == info.name.lower() or key in info.aliases:
            return info
    spellings = {alias: info.name for info in DATASETS.values() for alias in (info.name.lower(), *info.aliases)}
    close = difflib.get_close_matches(key, spellings, n=1, cutoff=0.6)
    hint = f"（是不是想写 {spellings[close[0]]!r}？）" if close else ""
    raise ValueError(f"name={name!r} 不是本课程的数据集{hint}；请用 {names}")


def normalize(images: torch.Tensor, dataset: str | DatasetInfo = "MNIST") -> torch.Tensor:
    """Normalise images as :func:`cnn_course.load_data` does: ``(x - mean) / std`` with the dataset's mean and std.

    Args:
        images: pixel values as uint8 0-255 (divided by 255 first) or as floats 0-1, any shape;
            left unchanged.
        dataset: ``'MNIST'`` or ``'FashionMNIST'`` (or its :class:`DatasetInfo`): whose mean and std.

    Returns:
        A new float tensor of the same shape.

    Raises:
        ValueError: for anything but a uint8 or float tensor, or an unknown dataset.
    """
    info = dataset_info(dataset)
    if not isinstance(images, torch.Tensor) or not (images.dtype == torch.uint8 or images.is_floating_point()):
        got = f"dtype {images.dtype}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images 必须是张量，装着 0-255 的 uint8 像素值或 0-1 的浮点数，传入的是 {got}")
    if images.dtype == torch.uint8:
        return images.float().div_(255.0).sub_(info.mean).div_(info.std)
    return images.sub(info.mean).div_(info.std)


def cache_dir() -> Path:
    """Folder for downloads: ``$XDG_CACHE_HOME/cnn_course`` (default ``~/.cache/cnn_course``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base).expanduser() / "cnn_course"


def _file_in(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def split_files(folder: str | os.PathLike, split: str) -> tuple[Path, Path]:
    """Return the ``(images, labels)`` files of ``split`` (``'train'`` or ``'test'``) in ``folder``.

    Raises:
        ValueError: for another split name.
        DataError: when either file is missing (the message names it).
    """
    if split not in FILES:
        raise ValueError(f"split={split!r} 不是数据划分；请用 'train' 或 'test'")
    folder = Path(folder)
    found = []
    for stem in FILES[split]:
        path = _file_in(folder, stem)
        if path is None:
            raise DataError(f"{folder} 里没有 {stem}（或 {stem}.gz）；请把这个文件复制到那里")
        found.append(path)
    return found[0], found[1]


def display_folder(folder: str | os.PathLike) -> str:
    """Say where a data folder is without this machine's own paths, for outputs others read.

    ``$CNN_COURSE_DATA/MNIST/raw`` for a folder under that variable, ``~/...`` under the home
    folder, a path relative to the working folder under it; any other folder as it is
    (e.g. ``/usr/share/datasets/fashion-mnist``).
    """
    path = Path(folder).expanduser().absolute()
    env = os.environ.get(DATA_ENV, "").strip()
    bases = ([(Path(env).expanduser().absolute(), f"${DATA_ENV}")] if env else []) + [
        (Path.cwd(), "."), (Path.home(), "~"),
    ]
    for base, name in bases:
        if path.is_relative_to(base):
            relative = path.relative_to(base)
            return name if relative == Path() else f"{name}/{relative.as_posix()}"
    return str(path)


# --------------------------------------------------------------------------- the search


#: A searched folder that does not exist (listed in the not-found message only when ``shown``).
_ABSENT = "不存在"
#: The words that mark a download that timed out, which the not-found message answers with a longer timeout.
_TIMED_OUT = "超时"


@dataclass
class _Place:
    """One folder searched, why it was searched, and what was found there."""

    folder: Path
    label: str
    shown: bool = False  # named in the not-found message even when it does not exist
    flat: bool = False  # files directly in a user's folder: could be another dataset's
    state: str = "还没查看"
    complete: bool = False


def _names_other_dataset(folder: Path, info: DatasetInfo) -> str | None:
    """The other dataset a folder's name names (e.g. ``fashion-mnist/raw`` when looking for MNIST), if any."""
    parts = {part.lower() for part in folder.parts[-2:]}  # the folder and its parent, as in <Name>/raw
    for other in DATASETS.values():
        if other.name != info.name and parts & {other.name.lower(), *other.aliases}:
            return other.name
    return None


def _inspect(place: _Place, info: DatasetInfo) -> None:
    folder = place.folder
    if not folder.exists():
        place.state = _ABSENT
        return
    if not folder.is_dir():
        place.state = "是文件，不是文件夹"
        return
    missing = [stem for stem in _STEMS if _file_in(folder, stem) is None]
    if not missing:
        other = _names_other_dataset(folder, info) if place.flat else None
        if other is not None:
            place.state = (f"有四个 IDX 文件，但路径里写的是 {other}；已跳过，以免把 {other} 当作 "
                           f"{info.name} 读入")
            return
        place.state, place.complete = "齐全", True
    elif len(missing) == len(_STEMS):
        place.state = "四个文件一个也没有"
    else:
        names = "、".join(f"{stem}(.gz)" for stem in missing)
        place.state = f"四个文件里只有 {len(_STEMS) - len(missing)} 个；缺少 {names}"


def _places(info: DatasetInfo, root: Path | None) -> list[_Place]:
    """The folders to search, in order."""
    places: list[_Place] = []

    def add(base: Path, label: str) -> None:
        places.append(_Place(base / info.name / "raw", label, shown=True))  # torchvision's layout
        places.append(_Place(base / info.name, label))
        if base.name.lower() in (info.name.lower(), *info.aliases):  # root points at the dataset's own folder
            places.append(_Place(base / "raw", label, flat=True))
        places.append(_Place(base, label, flat=True))

    if root is not None:
        add(root, "root")
    env = os.environ.get(DATA_ENV, "").strip()
    if env:
        add(Path(env).expanduser(), f"${DATA_ENV}")
    for folder in info.system_dirs:
        places.append(_Place(Path(folder), f"系统文件夹，{info.system_package}", shown=True))
    places.append(_Place(cache_dir() / info.name / "raw", "下载缓存", shown=True))
    return places


def find_data(
    name: str | DatasetInfo,
    root: str | os.PathLike | None = None,
    download: bool = True,
    download_timeout: float = DOWNLOAD_TIMEOUT,
) -> Path:
    """Return the folder that holds the four IDX files of dataset ``name``.

    Looks in ``root``, then ``$CNN_COURSE_DATA``, then system folders (Debian's
    ``/usr/share/datasets/fashion-mnist``), then the download cache. In each of ``root`` and
    ``$CNN_COURSE_DATA`` it accepts torchvision's layout ``<folder>/<Name>/raw/``, ``<folder>/<Name>/``
    and the four files directly in ``<folder>``. As a last resort it downloads from torchvision's
    mirrors into ``<root>/<Name>/raw`` (when ``root`` is given) or the cache, adding only the
    missing files: nothing already there is overwritten, and nothing partial is ever left behind.

    Args:
        name: ``'MNIST'`` or ``'FashionMNIST'``.
        root: an existing folder to look in first, and to download into.
        download: allow the download when the files are not found.
        download_timeout: seconds without any data from a server before that mirror is given up.

    Returns:
        The folder holding the four files.

    Raises:
        ValueError: for a bad argument, such as a ``root`` that does not exist.
        DataError: when nothing is found and the download fails or is disabled; the message lists
            every place searched (and what each holds), the cause of a failed download, and how to
            provide the files offline.
    """
    info = dataset_info(name)
    root_path = _check_root(root) if root is not None else None
    download = check_bool(download, "download")
    timeout = _check_timeout(download_timeout)
    places = _places(info, root_path)
    for place in places:
        _inspect(place, info)
        if place.complete:
            return place.folder
    target = (root_path if root_path is not None else cache_dir()) / info.name / "raw"
    if not download:
        reason = "download=False，所以没有下载"
    else:
        try:
            _download(info, target, timeout)
            return target
        except _DownloadFailed as err:
            reason = f"下载到 {target} 时失败：\n{err}"
    raise DataError(_not_found_message(info, places, reason, timeout))


def _check_root(root: Any) -> Path:
    """``root`` as an existing folder (``~`` expanded); a missing folder is an error, never skipped."""
    if not isinstance(root, (str, os.PathLike)):
        raise ValueError(f"root 必须是文件夹路径（str 或 pathlib.Path，例如 './data'），传入的是 {describe(root)}")
    if not str(root).strip():
        raise ValueError("root 必须是文件夹路径，例如 './data'，传入的是 ''（空的）；或者干脆不传 root")
    path = Path(root).expanduser()
    if not path.exists():
        raise ValueError(
            f"root={str(root)!r} 不存在（找的是 {path.absolute()}）。请检查拼写；如果要把数据下载到这里，"
            "请先创建这个文件夹；或者不传 root，使用通常的那些位置"
        )
    if not path.is_dir():
        raise ValueError(f"root={str(root)!r} 是文件，不是文件夹；请用包含它的文件夹："
                         f"{str(path.parent)!r}")
    return path


def _check_timeout(value: Any) -> float:
    wanted = "大于 0 的秒数，例如 30"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"download_timeout 必须是{wanted}，传入的是 {describe(value)}")
    if not is_positive_number(value):
        raise ValueError(f"download_timeout 必须是{wanted}，传入的是 {value!r}")
    return float(value)


def _not_found_message(info: DatasetInfo, places: list[_Place], reason: str, timeout: float) -> str:
    shown = [place for place in places if place.shown or place.state != _ABSENT]
    searched = "\n".join(f"  - {place.folder}（{place.label}）：{place.state}" for place in shown)
    names = ", ".join(f"{stem}.gz" for stem in _STEMS)
    lines = [
        f"没有找到 {info.name}；{reason}",
        f"查找过的位置：\n{searched}",
        f"要离线使用，请把这四个文件（{names}；.gz 或解压后的都可以）放进 <folder>/{info.name}/raw/，"
        f"并设置 {DATA_ENV}=<folder>，或者传入 root=<folder>。",
    ]
    if info.system_package:
        lines.append(f"也可以安装它们：{info.system_package}。")
    if _TIMED_OUT in reason:
        lines.append(f"网速慢的话，请传入更长的 download_timeout=（这次是 {timeout:g} s）。")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the download


class _DownloadFailed(Exception):
    """Why a download failed, every mirror tried included (becomes part of a DataError)."""


def _describe(err: BaseException, timeout: float) -> str:
    """Say in plain words why one transfer failed, keeping the library's own text."""
    reason: object = err
    if isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError):
        reason = err.reason  # e.g. the socket's TimeoutError
    if isinstance(reason, TimeoutError):
        return f"{_TIMED_OUT}：服务器 {timeout:g} s 内没有发来任何数据"
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP 错误 {err.code}（{err.reason}）"
    if isinstance(reason, http.client.RemoteDisconnected):
        return "服务器没有应答就关闭了连接"
    if isinstance(reason, ConnectionResetError):
        return "连接被服务器重置了"
    return f"{type(reason).__name__}: {reason}"


def _fetch(url: str, dest: Path, md5: str | None, timeout: float) -> None:
    """Download ``url`` into ``dest``, checking its length and MD5; raise on any shortfall."""
    request = urllib.request.Request(url, headers={"User-Agent": "cnn-course"})
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as fh:
        expected = response.headers.get("Content-Length")
        while chunk := response.read(1 << 16):
            fh.write(chunk)
            digest.update(chunk)
            received += len(chunk)
    if expected is not None and expected.isdigit() and received != int(expected):
        raise _DownloadFailed(f"连接在收到 {received:,} 字节后就关闭了（应有 {int(expected):,} 字节）")
    if md5 and digest.hexdigest() != md5:
        raise _DownloadFailed(f"文件的 MD5 是 {digest.hexdigest()}，不是 {md5}：它在传输途中损坏了")


def _download(info: DatasetInfo, target: Path, timeout: float) -> None:
    """Download the files ``target`` lacks from torchvision's mirrors, then move them into ``target``.

    Files go to a temporary folder next to ``target`` and are moved in only once all of them
    arrived whole and read as IDX, so ``target`` never holds a partial file; the temporary folder
    (and any folder this created) is removed whatever happens, Ctrl-C included.

    Raises:
        _DownloadFailed: with every mirror tried and what each answered.
    """
    from torchvision import datasets  # imported here: only a download needs torchvision's mirror list

    source = getattr(datasets, info.name)
    created = [folder for folder in (target, *target.parents) if not folder.exists()]
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _DownloadFailed(
            f"  无法创建 {target}（{type(err).__name__}: {err}）；请传入一个可以写入的 root=<folder>"
        ) from None
    tmp = None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=target.parent))
        fetched: list[Path] = []
        for filename, md5 in source.resources:
            if _file_in(target, filename.removesuffix(".gz")) is not None:
                continue  # the user's own file stays as it is
            tried = []
            for mirror in source.mirrors:
                url = f"{mirror}{filename}"
                try:
                    _fetch(url, tmp / filename, md5, timeout)
                except (OSError, http.client.HTTPException, ValueError) as err:
                    tried.append(f"    试过 {url}，结果：{_describe(err, timeout)}")
                except _DownloadFailed as err:
                    tried.append(f"    试过 {url}，结果：{err}")
                else:
                    break
            else:
                raise _DownloadFailed(f"  哪个镜像都下载不了 {filename}：\n" + "\n".join(tried))
            try:
                read_idx(tmp / filename)
            except DataError as err:
                raise _DownloadFailed(f"  {filename} 下载下来了，但不能用：{err}") from None
            fetched.append(tmp / filename)
        for src in fetched:
            if _file_in(target, src.name.removesuffix(".gz")) is None:  # never overwrite, even now
                os.replace(src, target / src.name)
    except OSError as err:
        raise _DownloadFailed(f"  无法写入 {target.parent}（{type(err).__name__}: {err}）") from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if not any(_file_in(target, stem) for stem in _STEMS):
            for folder in created:  # deepest first; only folders this call made, and only if empty
                try:
                    folder.rmdir()
                except OSError:
                    break
