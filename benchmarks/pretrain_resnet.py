"""Train the weights chapter 7 ships: chapter 6's ResNet on all of Fashion-MNIST, saved inside the package.

Writes ``cnn_course/weights/resnet_fashion.pt`` and ``resnet_fashion.json`` (the record that
:func:`cnn_course.pretrained.load_pretrained` checks: sha256, command, commit, data, test accuracy).

Usage (from the repository root; about 2 minutes on a 2-core CPU):
    python benchmarks/pretrain_resnet.py
    python benchmarks/pretrain_resnet.py --train-size 2000 --test-size 1000 --epochs 1 --out /tmp/try  # a try

The recipe: seed 0, PyTorch's default initialisation, SGD with momentum 0.9 and weight decay 5e-4, a
one-cycle schedule up to lr 0.05, batch 128, 10 epochs, fp32 (the same arithmetic on every CPU), no
augmentation. The data are Fashion-MNIST's 60,000 training images; the record gives the accuracy on
its 10,000 test images.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

import cnn_course
from cnn_course.models import ResNet
from cnn_course.pretrained import WEIGHTS_DIR, save_pretrained

REPO = Path(__file__).resolve().parents[1]
NAME = "resnet_fashion"


def git_commit() -> str:
    """The commit hash of this checkout (``git rev-parse HEAD``), or ``""`` outside git."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train-size", type=int, default=None, help="a class-balanced subset (default: all)")
    parser.add_argument("--test-size", type=int, default=None, help="a class-balanced subset (default: all)")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="folder for the two files")
    args = parser.parse_args(argv)
    if not args.out.is_dir():
        parser.error(f"--out {args.out} is not a folder")
    command = "python benchmarks/pretrain_resnet.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])
                                                        ).rstrip()
    cnn_course.set_seed(0)
    train_iter, test_iter = cnn_course.load_data("FashionMNIST", 128, train_size=args.train_size,
                                                 test_size=args.test_size, device="cpu")
    model = ResNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    history = cnn_course.train(model, train_iter, None, epochs=args.epochs, optimizer=optimizer,
                               scheduler="onecycle", precision="fp32", device="cpu", live_plot=False,
                               progress=False)
    test_acc = cnn_course.evaluate(model, test_iter)
    path = save_pretrained(
        model.cpu(), NAME, args.out,
        command=command,
        commit=git_commit(),
        data=f"{train_iter.describe().split(', from ')[0]}; no augmentation",
        test_data=test_iter.describe().split(", from ")[0],
        test_acc=round(test_acc, 4),
        recipe="seed 0, default init, SGD momentum 0.9, weight decay 5e-4, one-cycle to lr 0.05, batch 128, "
               f"{args.epochs} epochs, fp32",
        seconds=round(history.seconds, 1),
        torch=torch.__version__,
        python=platform.python_version(),
    )
    print(f"wrote {path} ({path.stat().st_size:,} bytes): test accuracy {100 * test_acc:.2f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
