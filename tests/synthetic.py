"""Test data: a small learnable stand-in for MNIST or Fashion-MNIST, written in torchvision's raw IDX layout.

Used by the root ``conftest.py`` (when the real files are missing), by the tests, and by the
benchmarks as a timing stand-in. Normal use of the course never substitutes data.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cnn_course.datasets import FILES, dataset_info
from cnn_course.idx import write_idx

__all__ = ["write_synthetic_dataset"]


def write_synthetic_dataset(
    root: str | os.PathLike, name: str, train_per_class: int = 100, test_per_class: int = 20, seed: int = 0,
    compress: bool = True,
) -> Path:
    """Write a small learnable stand-in for a dataset into ``<root>/<Name>/raw`` (files there are replaced).

    Class ``c`` is a bright bar whose position and angle depend on ``c``, plus noise: easy
    for a CNN, clearly not real data.

    Args:
        root: the folder to write under.
        name: ``'MNIST'`` or ``'FashionMNIST'``.
        train_per_class, test_per_class: images of each of the 10 classes per split.
        seed: seeds the noise, the shifts and the order.
        compress: write ``.gz`` files (else uncompressed IDX).

    Returns:
        The folder ``<root>/<Name>/raw`` holding the four files.
    """
    info = dataset_info(name)
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
