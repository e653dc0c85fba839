"""The IDX file format of MNIST and Fashion-MNIST: the one reader and writer the course uses."""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

__all__ = ["DataError", "read_bytes", "read_idx", "write_idx"]

# The third byte of an IDX header names the element type; the course's files all hold unsigned bytes.
_UBYTE = 0x08
_TYPE_NAMES = {0x09: "有符号字节", 0x0B: "16 位整数", 0x0C: "32 位整数", 0x0D: "单精度浮点数", 0x0E: "双精度浮点数"}


class DataError(RuntimeError):
    """The data could not be found, read or downloaded; the message says what to do."""


def read_bytes(path: str | os.PathLike) -> bytes:
    """Return the contents of ``path``, decompressed when its name ends in ``.gz``.

    Raises:
        DataError: when the file is missing, unreadable, or a damaged or truncated gzip file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} 不存在，或者不是文件")
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as err:
        raise DataError(
            f"{path} 已损坏或不完整（{type(err).__name__}: {err}）。请删除它，然后重新复制或下载这个文件。"
        ) from None


def read_idx(path: str | os.PathLike) -> torch.Tensor:
    """Read an IDX file of unsigned bytes (``.gz`` or not) into a uint8 tensor.

    Args:
        path: the file, e.g. ``.../MNIST/raw/train-images-idx3-ubyte.gz``.

    Returns:
        A uint8 tensor with the shape the file's header gives, e.g. ``(60000, 28, 28)``.

    Raises:
        DataError: when the file is missing, truncated, not IDX, or its size does not match its header.
    """
    path = Path(path)
    raw = read_bytes(path)
    replace = "请用原始文件替换它"
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path} 不是 IDX 文件（它开头的字节是 {raw[:4]!r}）；{replace}")
    if raw[2] != _UBYTE:
        kind = _TYPE_NAMES.get(raw[2], f"类型码 {raw[2]:#04x}")
        raise DataError(f"{path} 是 IDX 文件，但数据类型是“{kind}”，本课程只读无符号字节（unsigned byte）；{replace}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim < 1 or len(raw) < header:
        raise DataError(f"{path} 的文件头不完整；{replace}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = math.prod(dims)
    if len(raw) - header != expected:
        raise DataError(
            f"{path} 有 {len(raw) - header:,} 个数据字节，但它的文件头说应当有 {expected:,} 个"
            f"（形状 {dims}）；文件不完整或已损坏，{replace}"
        )
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
    return torch.from_numpy(array.copy())  # a writable tensor that owns its memory


def write_idx(path: str | os.PathLike, data: np.ndarray | torch.Tensor) -> Path:
    """Write a uint8 array as an IDX file; gzip-compressed when ``path`` ends in ``.gz``.

    The file appears whole or not at all: it is written under a temporary name and renamed.

    Args:
        path: the file to write (its folder is created).
        data: a uint8 array or tensor with at least one dimension.

    Returns:
        ``path`` as a :class:`pathlib.Path`.

    Raises:
        ValueError: when ``data`` is not uint8 or has no dimension.
    """
    array = np.asarray(data.detach().cpu() if isinstance(data, torch.Tensor) else data)
    if array.dtype != np.uint8:
        raise ValueError(f"data 必须是 uint8（取值 0-255），传入的 dtype 是 {array.dtype}；"
                         "请用 .astype(np.uint8) 转换")
    if array.ndim < 1:
        raise ValueError(f"data 至少要有一个维度，传入的是标量 {array!r}")
    path = Path(path)
    payload = bytes([0, 0, _UBYTE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    if path.suffix == ".gz":
        payload = gzip.compress(payload, compresslevel=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(payload)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path
