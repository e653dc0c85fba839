"""Long CPU run: the source's AlexNet at 1x224x224 with the improved recipe, in bf16, on all of Fashion-MNIST.

Chapter 4 reads what this writes (``benchmarks/results/alexnet224-cpu.json``): the test accuracy
on the full 10,000-image test set, the training history and the confusion matrix.

Usage (from the repository root; on an idle 2-core CPU with AVX512-BF16, 3 epochs took 50 minutes
at 63 img/s, 91.00 % on the full test set: the committed ``alexnet224-cpu.json``):
    python benchmarks/alexnet224_long.py --epochs 3
    python benchmarks/alexnet224_long.py --train-size 256 --test-size 100 --epochs 1 --out try.json  # a 1-minute try

The recipe is chapter 4's improved one: He initialisation for the convolutions and N(0, 0.01)
for the dense layers, SGD with momentum 0.9 and weight decay 5e-4, a one-cycle schedule up to
lr 0.02, batch 128, no augmentation, channels_last memory layout. On a CPU without native bfloat16,
training falls back to fp32 with a one-line notice (``history.precision`` in the JSON says which ran).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import torch

import cnn_course
from cnn_course.callbacks import Callback
from cnn_course.history import History
from cnn_course.models import AlexNet, init_he
from cnn_course.results import check_output

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "alexnet224-cpu.json"
RECIPE = ("AlexNet (the source's layers) at 1x{size}x{size}, improved recipe: He init for convolutions, "
          "N(0, 0.01) for dense layers, SGD momentum 0.9, weight decay 5e-4, one-cycle to lr 0.02, "
          "batch {batch}, no augmentation, precision {precision}{layout}")


def cpu_name() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str:
    """The short commit hash of this checkout, or ``""`` outside git."""
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def without_folder(description: str) -> str:
    """A loader's ``describe()`` without the trailing ``, from <folder>``: no machine's paths in results."""
    return description.split(", from ")[0]


class LogLines(Callback):
    """One line on stderr every ``every`` steps (step, last loss, img/s), for a log file of a long run."""

    def __init__(self, every: int) -> None:
        self.every = every
        self._start = 0.0

    def on_train_begin(self, history: History) -> None:
        self._start = time.perf_counter()

    def on_step(self, history: History, epoch: int, step: int, images: int) -> None:
        if step % self.every:
            return
        seconds = time.perf_counter() - self._start
        loss = history.step_losses[-1] if history.step_losses else float("nan")
        print(f"epoch {epoch}/{history.epochs_planned} step {step}/{history.steps_per_epoch}: loss {loss:.4f}, "
              f"{images / seconds:,.0f} img/s", file=sys.stderr, flush=True)

    def on_epoch_end(self, history: History) -> None:
        self._start = time.perf_counter()


def run(args: argparse.Namespace) -> dict[str, Any] | None:
    """Train, evaluate on the test set, and return the result (also written to ``args.out``).

    Returns None, writing nothing, when training was interrupted (Ctrl-C): a partial run must not
    stand in for the result chapter 4 shows. A diverged run raises ``TrainingDiverged`` and writes nothing.
    """
    if args.threads:
        torch.set_num_threads(args.threads)
    cnn_course.set_seed(args.seed)
    train_iter, test_iter = cnn_course.load_data(
        "FashionMNIST", args.batch_size, resize=args.image_size, train_size=args.train_size,
        test_size=args.test_size, seed=args.seed, device="cpu",
    )
    model = init_he(AlexNet(image_size=args.image_size), linear_std=0.01)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-4)
    start = time.perf_counter()
    # No recipe is chosen from this run, so it may follow the test set epoch by epoch (its curve, in 04a).
    history = cnn_course.train(model, train_iter, test_iter, epochs=args.epochs, optimizer=optimizer,
                               scheduler="onecycle", precision=args.precision, device="cpu",
                               channels_last=args.channels_last, live_plot=False, progress=False,
                               callbacks=[LogLines(args.log_every)] if args.log_every else [])
    wall = time.perf_counter() - start
    if history.stop_reason:
        print(f"training {history.stop_reason}, after {history.epochs} of {args.epochs} epochs; "
              f"{args.out} was not written", file=sys.stderr)
        return None
    # One fp32 evaluation gives the headline accuracy and the matrix, so that they agree to the image.
    pred, true = cnn_course.predict(model, test_iter)
    matrix = torch.bincount(true * 10 + pred, minlength=100).reshape(10, 10)
    result = {
        "what": RECIPE.format(size=args.image_size, batch=args.batch_size, precision=history.precision,
                              layout=", channels_last" if args.channels_last else ""),
        "train": without_folder(train_iter.describe()),
        "test": without_folder(test_iter.describe()),
        "epochs": history.epochs,
        "test_acc": int((pred == true).sum()) / len(true),
        "history": history.to_dict(),
        "confusion_matrix": matrix.tolist(),
        "wall_seconds": round(wall, 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": cpu_name(),
        "commit": git_commit(),
        "precision": history.precision,
        "channels_last": args.channels_last,
        "image_size": args.image_size,
        "seed": args.seed,
        "loadavg_start": [round(v, 2) for v in args.loadavg_start],
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    if args.save_model:
        torch.save(model.state_dict(), args.save_model)
    return result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="the JSON file to write")
    parser.add_argument("--train-size", type=int, default=None, help="class-balanced subset (default: all 60,000)")
    parser.add_argument("--test-size", type=int, default=None, help="class-balanced subset (default: all 10,000)")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--precision", choices=("bf16", "fp32", "auto"), default="bf16")
    parser.add_argument("--no-channels-last", dest="channels_last", action="store_false",
                        help="keep the default (NCHW) memory layout")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--save-model", default=None, help="also save the trained weights (state_dict) here")
    parser.add_argument("--log-every", type=int, default=50, help="a line on stderr every N steps (0: none)")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    args = parser.parse_args(argv)
    if args.log_every < 0:
        parser.error(f"--log-every must be 0 or a positive number, got {args.log_every}")
    for option, path in (("--out", args.out), ("--save-model", args.save_model)):
        try:  # before training: a result that cannot be written would be lost after the run
            if path:
                check_output(Path(path).parent, [path], force=args.force, option=option)
        except ValueError as err:
            parser.exit(2, f"{parser.prog}: error: {err}\n")
    for option in ("epochs", "train_size", "test_size", "batch_size", "threads"):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f"--{option.replace('_', '-')} must be a positive number, got {value}")
    if args.image_size < 65:
        parser.error(f"--image-size must be at least 65 (AlexNet's layers shrink smaller images to nothing), "
                     f"got {args.image_size}")
    args.loadavg_start = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    result = run(parse_args(argv))
    if result is None:
        return 130
    history = cnn_course.History.from_dict(result["history"])
    print(history.summary())
    print(f"test accuracy {100 * result['test_acc']:.2f} % on {result['test']}; "
          f"{result['wall_seconds'] / 3600:.2f} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
