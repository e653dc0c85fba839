"""Weights the course ships inside the package, saved with a record of how they were made and checked on loading.

Each set is two files in ``cnn_course/weights/``: ``<name>.pt`` (a ``state_dict``) and ``<name>.json``, the
record: the network (a class of :mod:`cnn_course.models`), the sha256 of the ``.pt`` file, the command
that reproduces it, the commit it was trained at and the data it saw. :func:`load_pretrained` refuses a
file whose digest or tensor shapes differ from the record, with a message that says what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import models
from ._checks import describe

__all__ = ["WEIGHTS_DIR", "PretrainedError", "available", "load_pretrained", "pretrained_record", "save_pretrained",
           "sha256_of"]

#: Where the package's own weights live (installed with it: ``[tool.setuptools.package-data]``).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


class PretrainedError(ValueError):
    """Shipped weights that cannot be used: unknown, missing, damaged or made for another network."""


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Return the sha256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _folder(folder: str | os.PathLike[str] | None) -> Path:
    return WEIGHTS_DIR if folder is None else Path(folder)


def available(folder: str | os.PathLike[str] | None = None) -> list[str]:
    """Return the names of the weight sets in ``folder`` (default: the package's), sorted."""
    place = _folder(folder)
    return sorted(p.stem for p in place.glob("*.json")) if place.is_dir() else []


def pretrained_record(name: str, folder: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Return the record saved next to the weights ``name``: network, sha256, command, commit, data, results.

    Raises:
        PretrainedError: for an unknown name (the message lists the known ones) or a record that is not valid.
    """
    known = available(folder)
    if not isinstance(name, str) or name not in known:
        raise PretrainedError(f"name 必须是课程自带的权重之一 {known or '（一个也没有找到）'}，"
                              f"传入的是 {describe(name)}")
    path = _folder(folder) / f"{name}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PretrainedError(f"记录文件 {path.name} 无法读取（{err}）；请重新安装课程"
                              "（python -m pip install -e .）来恢复它") from None
    missing = [key for key in ("network", "file", "sha256", "command") if key not in record]
    if not isinstance(record, dict) or missing:
        raise PretrainedError(f"记录文件 {path.name} 缺少 {missing or '应有的字段'}；请重新安装课程"
                              "（python -m pip install -e .）来恢复它")
    return record


def load_pretrained(name: str, folder: str | os.PathLike[str] | None = None) -> nn.Module:
    """Build the network that the weights ``name`` were trained for and load them, after checking them.

    The file's sha256 must be the one recorded when it was saved, and every tensor must have the name
    and shape the network expects. The model is returned in evaluation mode, on the CPU.

    Args:
        name: a weight set, e.g. ``"resnet_fashion"``; :func:`available` lists them.
        folder: where to look (default: the package's ``weights`` folder).

    Returns:
        The network with the weights loaded.

    Raises:
        PretrainedError: for an unknown name, a missing or damaged file (digest differs), or weights
            whose names or shapes do not fit the network; the message says which and what to do.
    """
    record = pretrained_record(name, folder)
    path = _folder(folder) / record["file"]
    again = f"请重新安装课程（python -m pip install -e .），或用这条命令重新生成：{record['command']}"
    if not path.is_file():
        raise PretrainedError(f"权重文件 {path.name} 不见了；{again}")
    digest = sha256_of(path)
    if digest != record["sha256"]:
        raise PretrainedError(f"权重文件 {path.name} 已损坏或被替换：它的 sha256 是 {digest[:12]}...，"
                              f"记录里是 {record['sha256'][:12]}...；{again}")
    network = getattr(models, str(record["network"]), None)
    if not (isinstance(network, type) and issubclass(network, nn.Module)):
        raise PretrainedError(f"记录里写的网络 {record['network']!r} 在 cnn_course.models 里没有定义；"
                              "请更新课程")
    model = network()
    state = torch.load(path, map_location="cpu", weights_only=True)
    expected = model.state_dict()
    problems = [f"{key} 的形状是 {tuple(state[key].shape)}，{record['network']} 需要 {tuple(value.shape)}"
                for key, value in expected.items() if key in state and state[key].shape != value.shape]
    problems += [f"缺少 {key}" for key in expected if key not in state]
    problems += [f"{key} 不是 {record['network']} 的张量" for key in state if key not in expected]
    if problems:
        more = f"（另有 {len(problems) - 3} 处）" if len(problems) > 3 else ""
        raise PretrainedError(f"{path.name} 里的权重与 {record['network']} 不相符："
                              f"{'；'.join(problems[:3])}{more}；{again}")
    model.load_state_dict(state)
    return model.eval()


def save_pretrained(model: nn.Module, name: str, folder: str | os.PathLike[str], **record: Any) -> Path:
    """Save ``model``'s weights as ``<folder>/<name>.pt`` and its record as ``<name>.json``; return the ``.pt`` path.

    Args:
        model: a network of :mod:`cnn_course.models` (its class name is recorded).
        name: the weight set's name (letters, digits, ``_``).
        folder: an existing folder.
        **record: what else to record; ``command`` (how to make the file again) is required.

    Raises:
        ValueError: for a model that is not a course network, a bad name or no ``command``.
    """
    network = type(model).__name__
    if not isinstance(model, nn.Module) or getattr(models, network, None) is not type(model):
        raise ValueError(f"model 必须是 cnn_course.models 里的网络，例如 ResNet()，传入的是 {describe(model)}")
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise ValueError(f"name 只能由字母、数字和 _ 组成，例如 'resnet_fashion'，传入的是 {describe(name)}")
    if not record.get("command"):
        raise ValueError("请给出 command=...，也就是重新生成这些权重的命令")
    place = Path(folder)
    path = place / f"{name}.pt"
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    torch.save(state, path)
    saved = {"network": network, "file": path.name, "sha256": sha256_of(path), "bytes": path.stat().st_size,
             "parameters": sum(p.numel() for p in model.parameters()), **record}
    (place / f"{name}.json").write_text(json.dumps(saved, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
