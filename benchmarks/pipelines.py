"""The training pipelines the benchmarks compare: the source course's, the course package's, and the bare model.

- ``source``: torchvision's dataset with ``Compose([ToTensor(), (Resize(224),) Normalize(0.1307, 0.3081)])``
  and ``DataLoader(batch_size, shuffle=True)`` without workers, and the source's loop (``loss.item()``
  every step), exactly as the source course trains.
- ``course``: ``cnn_course.load_data`` on the training device and ``cnn_course.train`` itself.
- ``course_fast``: the same with ``precision="bf16"`` (bf16 autocast) and ``channels_last=True``.
- ``model`` / ``model_fast``: ``cnn_course.train`` on ONE batch reused, no data path: the ceiling.
"""

from __future__ import annotations

import copy
import itertools
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn

import cnn_course
from cnn_course.datasets import DATASETS, DataError, display_folder, find_data
from cnn_course.loaders import torchvision_dataset
from cnn_course.models import AlexNet, GoogLeNet, LeNet, ResNet

__all__ = ["PIPELINES", "SPECS", "ModelSpec", "Pipeline", "build_pipeline", "ensure_data", "sync"]

# Speed does not depend on the learning rate; a small one keeps the repeated-batch ceiling finite.
BENCH_LR = 0.01


@dataclass(frozen=True)
class ModelSpec:
    """One chapter's network and the data settings the source trained it with."""

    name: str
    factory: Callable[[], nn.Module]
    dataset: str
    batch_size: int
    resize: int | None

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one training image."""
        size = self.resize or 28
        return (1, size, size)


SPECS: dict[str, ModelSpec] = {
    "lenet": ModelSpec("lenet", LeNet, "MNIST", 256, None),
    "alexnet": ModelSpec("alexnet", AlexNet, "FashionMNIST", 128, 224),
    "googlenet": ModelSpec("googlenet", GoogLeNet, "FashionMNIST", 128, None),
    "resnet": ModelSpec("resnet", ResNet, "FashionMNIST", 128, None),
}
PIPELINES = ("source", "course", "course_fast", "model", "model_fast")


def sync(device: torch.device) -> None:
    """Wait for the device to finish queued work (so that timings cover it)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ensure_data(name: str, allow_synthetic: bool) -> str:
    """Make sure dataset ``name`` (``"MNIST"`` or ``"FashionMNIST"``) is found without downloading; say which files.

    With ``allow_synthetic``, a missing dataset is replaced by a synthetic stand-in of the real
    size (``$CNN_COURSE_DATA`` is pointed at it): good for timing, meaningless for accuracy.

    Raises:
        DataError: when the data is missing and ``allow_synthetic`` is False.
    """
    try:
        found = find_data(name, download=False)
    except DataError:
        if not allow_synthetic:
            raise
    else:
        made = os.environ.get("CNN_COURSE_SYNTHETIC_ROOT")
        if made and found.resolve().is_relative_to(Path(made).resolve()):  # real datasets there are symlinks
            return "SYNTHETIC stand-in (real files not found)"
        return f"real files from {display_folder(found)}"  # no machine's own paths in results
    root = Path(os.environ.get("CNN_COURSE_SYNTHETIC_ROOT") or tempfile.mkdtemp(prefix="cnn-bench-data-"))
    for other in DATASETS:  # keep the real datasets that are found when $CNN_COURSE_DATA moves to root
        if other.lower() != name.lower() and not (root / other).exists():
            try:
                found = find_data(other, download=False)
            except DataError:
                continue
            (root / other).mkdir(parents=True)
            (root / other / "raw").symlink_to(found.resolve(), target_is_directory=True)
    from tests.synthetic import write_synthetic_dataset  # the tests' stand-in, here for timing only

    per_class = (6000, 1000)  # the real datasets' 60,000 / 10,000
    write_synthetic_dataset(root, name, train_per_class=per_class[0], test_per_class=per_class[1])
    os.environ["CNN_COURSE_DATA"] = str(root)
    os.environ["CNN_COURSE_SYNTHETIC_ROOT"] = str(root)
    return "SYNTHETIC stand-in (real files not found)"


def _forever(iterable) -> Iterator:
    while True:
        yield from iterable


class _Take:
    """``steps`` batches from a never-ending batch stream, counting the images."""

    def __init__(self, stream: Iterator, steps: int) -> None:
        self.stream, self.steps, self.images = stream, steps, 0

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        for X, y in itertools.islice(self.stream, self.steps):
            self.images += len(y)
            yield X, y


@dataclass
class Pipeline:
    """A named way to run training steps; ``run(steps)`` returns ``(images, seconds)``."""

    name: str
    run: Callable[[int], tuple[int, float]]
    describe: str
    data_bytes_on_device: int = 0


def _source_pipeline(spec: ModelSpec, model: nn.Module, device: torch.device) -> Pipeline:
    from torch.utils.data import DataLoader
    from torchvision import transforms

    steps = [transforms.ToTensor()]
    if spec.resize:
        steps.append(transforms.Resize(spec.resize))
    steps.append(transforms.Normalize(0.1307, 0.3081))  # the source used MNIST's statistics everywhere
    dataset = torchvision_dataset(spec.dataset, train=True, transform=transforms.Compose(steps))
    loader = DataLoader(dataset, batch_size=spec.batch_size, shuffle=True)
    stream = _forever(loader)
    model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=BENCH_LR)
    loss_fn = nn.CrossEntropyLoss()
    losses: list[float] = []

    def run(n: int) -> tuple[int, float]:
        model.train()
        images = 0
        sync(device)
        start = time.perf_counter()
        for _ in range(n):
            X, y = next(stream)
            X, y = X.to(device), y.to(device)
            y_hat = model(X)
            loss = loss_fn(y_hat, y)
            losses.append(loss.item())  # the source records every loss, which waits for the device
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            images += len(y)
        sync(device)
        return images, time.perf_counter() - start

    text = f"torchvision {spec.dataset} ({len(dataset):,} train images) + DataLoader(batch {spec.batch_size}, shuffle, no workers)"
    return Pipeline("source", run, text)


def _course_runner(model: nn.Module, device: torch.device, make_batches: Callable[[int], _Take], fast: bool):
    optimizer = torch.optim.SGD(model.parameters(), lr=BENCH_LR)

    def run(n: int) -> tuple[int, float]:
        batches = make_batches(n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", cnn_course.ChanceLevelWarning)  # a few steps look like chance
            history = cnn_course.train(model, batches, None, epochs=1, optimizer=optimizer, device=device,
                                       live_plot=False, progress=False, verbose=False,
                                       precision="bf16" if fast else "fp32", channels_last=fast)
        return batches.images, history.epoch_seconds[0]

    return run


def build_pipeline(
    name: str, spec: ModelSpec, model: nn.Module, device: torch.device, random_batch: bool = False
) -> Pipeline:
    """Build pipeline ``name`` (one of :data:`PIPELINES`) for ``spec``, training ``model`` on ``device``.

    ``model`` is trained in place: give each pipeline its own copy. ``random_batch`` makes the
    ``model`` pipelines use a random batch instead of loading the dataset (for memory probes).
    """
    if name == "source":
        return _source_pipeline(spec, model, device)
    if name not in PIPELINES:
        raise ValueError(f"pipeline {name!r} is unknown; use one of {', '.join(PIPELINES)}")
    fast = name.endswith("_fast")
    model.to(device)
    if name.startswith("model") and random_batch:
        X = torch.randn(spec.batch_size, *spec.input_shape, device=device)
        y = torch.randint(0, 10, (spec.batch_size,), device=device)
        run = _course_runner(model, device, lambda n: _Take(itertools.repeat((X, y)), n), fast)
        return Pipeline(name, run, f"one random batch {tuple(X.shape)} reused, no data path")
    train_iter, _ = cnn_course.load_data(spec.dataset, spec.batch_size, resize=spec.resize, device=device)
    if name.startswith("course"):
        stream = _forever(train_iter)
        run = _course_runner(model, device, lambda n: _Take(stream, n), fast)
        text = repr(train_iter) + (" + bf16 autocast + channels_last" if fast else "")
        return Pipeline(name, run, text, train_iter.images.numel() * train_iter.images.element_size())
    X, y = next(iter(train_iter))
    del train_iter  # the ceiling keeps one batch, not the dataset
    batch = itertools.repeat((X, y))
    run = _course_runner(model, device, lambda n: _Take(batch, n), fast)
    text = f"one batch {tuple(X.shape)} reused, no data path" + (" + bf16 autocast + channels_last" if fast else "")
    return Pipeline(name, run, text)


def fresh_models(spec: ModelSpec, count: int, seed: int = 0) -> list[nn.Module]:
    """``count`` copies of the same freshly initialised network."""
    cnn_course.set_seed(seed)
    model = spec.factory()
    return [copy.deepcopy(model) for _ in range(count)]
