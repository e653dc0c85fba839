"""Probe runs: short trainings of chapter 5's GoogLeNet that watch it stall (chapter 5 and appendix 05a).

A probe trains the network for a few dozen steps on a class-balanced subset and records, at every
step, the loss, the gradient norm of the second convolution (``net[4]``) and how many channels of
the ReLU after it (``net[5]``) are dead. A *recipe* is a function that takes the network and returns
the options for :func:`cnn_course.train` (the optimizer, and where it has them a scheduler and
``clip_grad_norm``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict, cast

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import nn

from ._checks import check_bool, check_int, describe
from .history import TrainingDiverged
from .loaders import load_data
from .models import GoogLeNet
from .runtime import set_seed
from .training import train

__all__ = ["ProbeRecord", "Recipe", "clipped_recipe", "describe_probe", "improved_recipe", "plot_probes", "run_probe",
           "source_recipe", "watch"]

#: A training recipe: takes the network, returns keyword arguments for :func:`cnn_course.train`.
Recipe = Callable[[nn.Module], dict[str, Any]]


class ProbeRecord(TypedDict):
    """What a probe records, one entry per training step (``outcome`` is set when the run ends).

    ``grad_norm``: norm of the gradient of conv2's weight; ``dead``: ReLU 2 channels that output 0
    for every image and position of the batch; ``loss``: the training loss; ``channels``: how many
    channels ReLU 2 has; ``outcome``: ``'trains'``, ``'stalled at chance'`` or ``'diverged (NaN)'``.
    """

    grad_norm: list[float]
    dead: list[int]
    loss: list[float]
    channels: int
    outcome: str


def watch(model: nn.Module) -> ProbeRecord:
    """Record, at every training step, conv2's gradient norm and the dead ReLU channels after it.

    Args:
        model: a :class:`cnn_course.models.GoogLeNet` or :class:`~cnn_course.models.PaperGoogLeNet`
            (``net[4]`` a ``Conv2d``, ``net[5]`` a ``ReLU``).

    Returns:
        A record whose ``grad_norm`` and ``dead`` lists grow by one entry per training step;
        evaluation passes are skipped. ``loss`` and ``outcome`` are filled in by :func:`run_probe`.

    Raises:
        ValueError: when ``model`` does not have that layout.
    """
    layers = getattr(model, "net", None)
    if not (isinstance(layers, nn.Sequential) and len(layers) > 5
            and isinstance(layers[4], nn.Conv2d) and isinstance(layers[5], nn.ReLU)):
        raise ValueError(
            "model must be chapter 5's GoogLeNet or PaperGoogLeNet (net[4] a Conv2d followed by net[5] a ReLU), "
            f"e.g. cnn_course.models.GoogLeNet(); got {describe(model)}"
        )
    conv, relu = layers[4], layers[5]
    record: ProbeRecord = {"grad_norm": [], "dead": [], "loss": [], "channels": conv.out_channels,
                           "outcome": "not run"}

    def on_relu(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if module.training:  # skip evaluation passes
            record["dead"].append(int((output == 0).flatten(2).all(dim=2).all(dim=0).sum()))

    relu.register_forward_hook(on_relu)
    conv.weight.register_hook(lambda grad: record["grad_norm"].append(grad.norm().item()))
    return record


def source_recipe(model: nn.Module) -> dict[str, Any]:
    """The course source's recipe: plain SGD, learning rate 0.1, no schedule."""
    return {"optimizer": torch.optim.SGD(model.parameters(), lr=0.1)}


def clipped_recipe(model: nn.Module) -> dict[str, Any]:
    """The source recipe plus gradient clipping: a gradient longer than 2 is scaled down to norm 2."""
    return {**source_recipe(model), "clip_grad_norm": 2.0}


def improved_recipe(model: nn.Module) -> dict[str, Any]:
    """Chapter 5's improved recipe: SGD with Nesterov momentum 0.9 and weight decay 5e-4, a one-cycle
    warm-up to learning rate 0.1 and then annealing, gradients clipped to norm 2."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    return {"optimizer": optimizer, "scheduler": "onecycle", "clip_grad_norm": 2.0}


def run_probe(
    seed: int,
    recipe: Recipe,
    *,
    train_size: int,
    epochs: int = 1,
    init: Callable[[nn.Module], Any] | None = None,
    network: Callable[[], nn.Module] = GoogLeNet,
    threads: int = 1,
    verbose: bool = False,
) -> tuple[nn.Module, ProbeRecord]:
    """Train a fresh network briefly on a Fashion-MNIST subset, watching it step by step.

    ``seed`` fixes the initial weights, which images the subset holds and their order in every epoch.
    Training uses exactly ``threads`` CPU threads (restored afterwards): the outcome near the edge of
    stability depends on the order of floating-point additions.

    Args:
        seed: random seed, 0 or more.
        recipe: function from the network to options for :func:`cnn_course.train`, e.g. :func:`source_recipe`.
        train_size: training images of the class-balanced subset (128 per step).
        epochs: passes over the subset.
        init: called on the network before training, e.g. :func:`cnn_course.models.init_he`; None keeps
            PyTorch's default initialisation.
        network: builds the network to train: :class:`~cnn_course.models.GoogLeNet` (the course's block)
            or :class:`~cnn_course.models.PaperGoogLeNet` (the paper's), or any network laid out like them.
        threads: CPU threads while training.
        verbose: print each epoch's line, and each warning raised while training as one line
            (``ChanceLevelWarning: ...``) without a file path.

    Returns:
        The trained network and its :class:`ProbeRecord`. The outcome is ``'diverged (NaN)'`` when the
        loss became NaN, ``'stalled at chance'`` when every ReLU 2 channel is dead at the last step,
        otherwise ``'trains'``.

    Raises:
        ValueError: for a seed, size, epoch or thread count that is not a whole number in range, a
            recipe, init or network that is not callable, or a network without conv2 and ReLU 2 at
            ``net[4]`` and ``net[5]``.
    """
    check_int(seed, "seed", low=0)
    check_int(train_size, "train_size", low=1)
    check_int(epochs, "epochs", low=1)
    check_int(threads, "threads", low=1)
    check_bool(verbose, "verbose")
    if not callable(recipe):
        raise ValueError(f"recipe must be a function that takes the network and returns options for "
                         f"cnn_course.train, e.g. source_recipe; got {describe(recipe)}")
    if not callable(network):
        raise ValueError(f"network must be a class or function that builds the network, e.g. GoogLeNet or "
                         f"PaperGoogLeNet; got {describe(network)}")
    if init is not None and not callable(init):
        raise ValueError(f"init must be None or a function that initialises the network in place, e.g. "
                         f"init_he; got {describe(init)}")
    probe_iter, _ = load_data("FashionMNIST", 128, train_size=train_size, test_size=500, seed=seed)
    set_seed(seed)
    model = network()
    record = watch(model)  # before init: a network of the wrong layout fails here, before any training
    if init is not None:
        init(model)
    options = recipe(model)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)  # a fixed number of threads: the same order of floating-point additions
    with warnings.catch_warnings(record=True) as caught:  # shown below as one line each, without a file path
        warnings.simplefilter("always")
        try:
            history = train(model, probe_iter, None, epochs=epochs, **options,
                            live_plot=False, progress=False, verbose=verbose)
            record["outcome"] = "trains"
        except TrainingDiverged as err:
            history = err.history
            record["outcome"] = "diverged (NaN)"
        finally:
            torch.set_num_threads(before)
    if verbose:
        for warning in caught:
            print(f"{warning.category.__name__}: {warning.message}")
    if record["outcome"] == "trains" and record["dead"][-1] == record["channels"]:
        record["outcome"] = "stalled at chance"  # every channel dead: the output no longer depends on the image
    record["loss"] = list(history.step_losses)
    return model, record


def _check_record(record: Any, name: str) -> ProbeRecord:
    keys = set(ProbeRecord.__annotations__)
    if not isinstance(record, Mapping) or not keys <= set(record):
        raise ValueError(f"{name} must be a record from run_probe (a dict with keys {sorted(keys)}); "
                         f"got {describe(record)}")
    if not any(math.isfinite(v) for v in record["loss"]):
        raise ValueError(f"{name} has no finite loss: run_probe did not train a single step")
    return cast(ProbeRecord, record)


def describe_probe(name: str, record: ProbeRecord) -> str:
    """One line: outcome, highest loss and its step, last loss, most dead channels and when all died.

    Args:
        name: label at the start of the line (padded to 30 characters).
        record: a record from :func:`run_probe`.

    Raises:
        ValueError: when ``record`` is not a finished probe record.
    """
    if not isinstance(name, str):
        raise ValueError(f"name must be text, e.g. 'seed 1, source recipe'; got {describe(name)}")
    record = _check_record(record, "record")
    losses, channels = record["loss"], record["channels"]
    peak, peak_step = max((v, step) for step, v in enumerate(losses, start=1) if math.isfinite(v))
    all_dead = next((step for step, n in enumerate(record["dead"], start=1) if n == channels), None)
    line = (f"{name:30s} {record['outcome']:>17s} after {len(losses)} steps: highest loss {peak:.3g} "
            f"(step {peak_step}), last {losses[-1]:.3f}, at most {max(record['dead'])} of {channels} "
            "channels dead")
    return line + (f", all {channels} from step {all_dead}" if all_dead else "")


def plot_probes(records: Mapping[str, ProbeRecord], steps: int = 40) -> Figure:
    """Plot loss, conv2's gradient norm (log scale) and dead ReLU channels, step by step, per probe.

    Args:
        records: label -> record from :func:`run_probe`, one line each.
        steps: the first this many steps are drawn.

    Returns:
        The figure with three panels.

    Raises:
        ValueError: for an empty ``records`` or ``steps`` below 1.
    """
    check_int(steps, "steps", low=1)
    if not isinstance(records, Mapping) or not records:
        raise ValueError(f"records must map a label to a record from run_probe, e.g. {{'seed 1': record}}; "
                         f"got {describe(records)}")
    checked = {name: _check_record(record, f"records[{name!r}]") for name, record in records.items()}
    channels = max(record["channels"] for record in checked.values())
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for name, record in checked.items():
        panels: list[Sequence[float]] = [record["loss"], record["grad_norm"], record["dead"]]
        for ax, series in zip(axes, panels, strict=True):
            values = series[:steps]
            ax.plot(range(1, len(values) + 1), values, label=name)  # steps counted from 1, as in describe_probe
    axes[1].set_yscale("log")
    titles = ["training loss (dashed: ln 10)", "gradient norm of conv2 (log)",
              f"dead channels after ReLU 2 (of {channels})"]
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].axhline(math.log(10), color="gray", linestyle="--", linewidth=0.8)
    axes[0].set_ylim(0, 5)
    axes[2].set_ylim(-0.5, channels + 0.5)
    axes[2].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig
