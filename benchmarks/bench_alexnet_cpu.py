"""AlexNet on a CPU: fp32, channels_last, bf16 autocast and the 112x112 input, side by side; and bf16's effect on accuracy.

Usage (from the repository root; about 10 minutes on a busy 2-core CPU):
    python benchmarks/bench_alexnet_cpu.py [--variants fp32,cl,bf16,bf16-cl,112-fp32,112-bf16-cl]
                                           [--steps 2] [--rounds 3] [--batch-size 64] [--acc-steps 150]

Speed: each variant trains its own copy of the same network with ``cnn_course.train`` on
Fashion-MNIST batches from ``cnn_course.load_data`` (resized on the fly); the variants take turns,
round after round, the order rotating, so that they share whatever else the machine is doing.
Ratios are the medians of per-round ratios to fp32 at 224. Peak memory: the high-water mark of a
fresh process that runs only that variant (``--probe``). Accuracy: chapter 4's improved recipe
at 112x112 for ``--acc-steps`` steps, in fp32 and in bf16 from the same seed and data order,
tested on ``--acc-test-size`` class-balanced test images. Writes ``<out>/<name>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

import cnn_course
from benchmarks.alexnet224_long import cpu_name, without_folder
from benchmarks.memory_probe import current_rss_mb, peak_rss_mb
from cnn_course.models import AlexNet, init_he
from cnn_course.results import markdown_table

REPO = Path(__file__).resolve().parents[1]
BENCH_LR = 0.01  # speed does not depend on the learning rate; a small one keeps a short run finite


@dataclass(frozen=True)
class Variant:
    """One way to train AlexNet: input size, precision asked for, memory layout."""

    label: str
    image_size: int
    precision: str
    channels_last: bool


VARIANTS: dict[str, Variant] = {
    "fp32": Variant("fp32 (the baseline)", 224, "fp32", False),
    "cl": Variant("channels_last", 224, "fp32", True),
    "bf16": Variant("bf16 autocast", 224, "bf16", False),
    "bf16-cl": Variant("bf16 + channels_last", 224, "bf16", True),
    "112-fp32": Variant("smaller input, fp32", 112, "fp32", False),
    "112-bf16-cl": Variant("smaller input, bf16 + channels_last", 112, "bf16", True),
}
BASELINE = "fp32"


def _load(batch_size: int, image_size: int, train_size: int, test_size: int) -> tuple[Any, Any]:
    return cnn_course.load_data("FashionMNIST", batch_size, resize=image_size, train_size=train_size,
                                test_size=test_size, device="cpu", download=False)


def _quiet_train(model: torch.nn.Module, train_iter: Any, test_iter: Any, **kwargs: Any) -> cnn_course.History:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cnn_course.ChanceLevelWarning)  # a few steps can look like chance
        return cnn_course.train(model, train_iter, test_iter, epochs=1, device="cpu", live_plot=False,
                                progress=False, verbose=False, **kwargs)


def make_runner(variant: Variant, batch_size: int, steps: int, seed: int = 0) -> Callable[[], cnn_course.History]:
    """A function that trains a fresh-at-start AlexNet for ``steps`` steps of ``variant`` and returns the History."""
    cnn_course.set_seed(seed)
    model = AlexNet(image_size=variant.image_size)
    train_iter, _ = _load(batch_size, variant.image_size, batch_size * steps, 10)

    def run() -> cnn_course.History:
        return _quiet_train(model, train_iter, None, lr=BENCH_LR, precision=variant.precision,
                            channels_last=variant.channels_last)

    return run


def probe_memory(key: str, batch_size: int, steps: int) -> dict[str, float]:
    """Peak resident memory of THIS process after ``steps`` training steps of variant ``key`` (MB).

    ``base_mb`` is measured after torch, the model and the data are loaded, before training.
    Meaningful only in a fresh process: the peak of a process never goes down.
    """
    variant = VARIANTS[key]
    cnn_course.set_seed(0)
    model = AlexNet(image_size=variant.image_size)
    train_iter, _ = _load(batch_size, variant.image_size, batch_size * steps, 10)
    base = current_rss_mb()
    _quiet_train(model, train_iter, None, lr=BENCH_LR, precision=variant.precision,
                 channels_last=variant.channels_last)
    peak = peak_rss_mb()
    return {"base_mb": round(base, 1), "peak_mb": round(peak, 1), "delta_mb": round(peak - base, 1)}


def _probe_in_fresh_process(key: str, batch_size: int, steps: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.bench_alexnet_cpu", "--probe", key, "--batch-size", str(batch_size),
           "--steps", str(steps), "--threads", str(torch.get_num_threads())]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=dict(os.environ))
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_speed(keys: Sequence[str], batch_size: int, steps: int, rounds: int, warmup: bool,
                log: Callable[..., None] = print) -> dict[str, Any]:
    """Time ``steps`` training steps of every variant in ``keys``, alternating, for ``rounds`` rounds."""
    runners = {k: make_runner(VARIANTS[k], batch_size, steps) for k in keys}
    if warmup:
        for k in keys:  # first calls pick kernels and allocate: keep them out of the timings
            make_runner(VARIANTS[k], batch_size, 1)()
    speeds: dict[str, list[float]] = {k: [] for k in keys}
    precision: dict[str, str] = {}
    for r in range(rounds):
        order = list(keys[r % len(keys):]) + list(keys[: r % len(keys)])
        for k in order:
            history = runners[k]()
            speeds[k].append(history.img_per_sec[0])
            precision[k] = history.precision
        log(f"  round {r + 1}/{rounds}: " + ", ".join(f"{k} {speeds[k][-1]:.1f}" for k in keys) + " img/s")
    rows = {}
    for k in keys:
        row: dict[str, Any] = {
            "label": VARIANTS[k].label, "image_size": VARIANTS[k].image_size,
            "precision_asked": VARIANTS[k].precision, "precision_used": precision[k],
            "channels_last": VARIANTS[k].channels_last,
            "img_per_sec": round(statistics.median(speeds[k]), 2), "per_round": [round(v, 2) for v in speeds[k]],
        }
        if BASELINE in speeds:
            per_round = [a / b for a, b in zip(speeds[k], speeds[BASELINE])]
            row["vs_fp32"] = round(statistics.median(per_round), 3)
            row["vs_fp32_per_round"] = [round(v, 3) for v in per_round]
        rows[k] = row
    return rows


def bench_accuracy(batch_size: int, steps: int, test_size: int, log: Callable[..., None] = print) -> dict[str, Any]:
    """Chapter 4's improved recipe at 112x112 for ``steps`` steps, once in fp32 and once in bf16 (same seed and data)."""
    runs = {}
    for precision in ("fp32", "bf16"):
        cnn_course.set_seed(0)
        train_iter, test_iter = _load(batch_size, 112, batch_size * steps, test_size)
        model = init_he(AlexNet(image_size=112), linear_std=0.01)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-4)
        history = _quiet_train(model, train_iter, None, optimizer=optimizer, scheduler="onecycle",
                               precision=precision, channels_last=True)
        runs[precision] = {
            "precision_used": history.precision, "test_acc": cnn_course.evaluate(model, test_iter),
            "train_loss": round(history.train_loss[-1], 4), "seconds": round(history.seconds, 1),
            "img_per_sec": round(history.mean_img_per_sec, 1),
        }
        log(f"  accuracy, {precision}: {history.summary()}")
    return {
        "recipe": "chapter 4's improved recipe: He init (dense layers N(0, 0.01)), SGD momentum 0.9, "
                  "weight decay 5e-4, one-cycle to lr 0.02, channels_last, seed 0",
        "steps": steps, "batch_size": batch_size,
        "train": without_folder(train_iter.describe()), "test": without_folder(test_iter.describe()),
        "runs": runs,
        "difference_points": round(100 * (runs["bf16"]["test_acc"] - runs["fp32"]["test_acc"]), 2),
    }


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: header, speed and memory table, accuracy table."""
    meta = report["meta"]
    lines = [
        f"# AlexNet training on a CPU: {meta['cpu']}",
        "",
        f"torch {meta['torch']}, {meta['threads']} torch threads, native bfloat16: {meta['bf16_native']}; "
        f"load average {meta['loadavg_start']} at start, {meta['loadavg_end']} at the end "
        f"({meta['started']}, {meta['seconds']:.0f} s).",
        f"Command: `{meta['command']}`",
    ]
    speed = report.get("speed")
    if speed:
        s = meta["speed"]
        lines += ["", f"## Speed: batch {s['batch_size']}, {s['steps']} training steps per variant per round, "
                      f"{s['rounds']} alternating rounds", "",
                  "img/s: median over rounds; vs fp32: median of the per-round ratios to fp32 at 224; memory: peak "
                  "resident memory of a fresh process running only that variant, and in brackets the increase "
                  "over the same process with torch, the model and the data loaded.", ""]
        cells = []
        for row in speed.values():
            mem = row.get("memory")
            shown = ("—" if not mem else "error" if "error" in mem
                     else f"{mem['peak_mb']:,.0f} (+{mem['delta_mb']:,.0f})")
            ratio = f"**{row['vs_fp32']:.2f}x**" if "vs_fp32" in row else "—"
            used = row["precision_used"] + ("" if row["precision_used"] == row["precision_asked"]
                                            else f" (asked {row['precision_asked']})")
            layout = ", channels_last" if row["channels_last"] else ""
            cells.append([row["label"], f"1x{row['image_size']}x{row['image_size']}", used + layout,
                          f"{row['img_per_sec']:,.1f}", ratio, shown])
        lines.append(markdown_table(["variant", "input", "precision", "img/s", "vs fp32", "peak memory, MB"], cells,
                                    align="lllrrr"))
    acc = report.get("accuracy")
    if acc:
        lines += ["", f"## Accuracy: fp32 vs bf16, {acc['steps']} steps of batch {acc['batch_size']} at 112x112", "",
                  f"Recipe: {acc['recipe']}.", f"Train: {acc['train']}.", f"Test: {acc['test']}.", "",
                  markdown_table(
                      ["precision asked", "precision used", "test accuracy", "final train loss", "training s", "img/s"],
                      [[asked, run["precision_used"], f"{100 * run['test_acc']:.2f} %", f"{run['train_loss']:.4f}",
                        f"{run['seconds']:.1f}", f"{run['img_per_sec']:,.1f}"] for asked, run in acc["runs"].items()],
                      align="llrrrr")]
        lines += ["", f"bf16 - fp32: **{acc['difference_points']:+.2f}** percentage points (one seed)."]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from {','.join(VARIANTS)}")
    parser.add_argument("--batch-size", type=int, default=64, help="batch of the speed runs")
    parser.add_argument("--steps", type=int, default=2, help="training steps per variant per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-warmup", dest="warmup", action="store_false", help="skip the untimed first step")
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="skip the fresh-process memory probes")
    parser.add_argument("--acc-steps", type=int, default=150, help="steps of each accuracy run (0: skip them)")
    parser.add_argument("--acc-batch-size", type=int, default=64, help="64: the batch of chapter 4's quick profile")
    parser.add_argument("--acc-test-size", type=int, default=2000, help="class-balanced test images")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"), help="folder for <name>.md and .json")
    parser.add_argument("--name", default="cpu-alexnet", help="file name without extension")
    parser.add_argument("--probe", default=None, help=argparse.SUPPRESS)  # internal: one variant's memory
    args = parser.parse_args(argv)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown or not args.variants:
        parser.error(f"unknown variant(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(VARIANTS)}")
    if args.probe is not None and args.probe not in VARIANTS:
        parser.error(f"--probe {args.probe!r} is not a variant; choose from {', '.join(VARIANTS)}")
    for option in ("batch_size", "steps", "rounds", "acc_batch_size", "acc_test_size", "threads"):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f"--{option.replace('_', '-')} must be a positive number, got {value}")
    if args.acc_steps < 0:
        parser.error(f"--acc-steps must be 0 (skip) or more, got {args.acc_steps}")
    return args


def _command_line(argv: Sequence[str]) -> str:
    """The command, with any folder given to --out shown by its name only (no machine's paths in results)."""
    parts, after_out = ["bench_alexnet_cpu.py"], False
    for arg in argv:
        if after_out:
            arg, after_out = Path(arg).name, False
        elif arg == "--out":
            after_out = True
        elif arg.startswith("--out="):
            arg = "--out=" + Path(arg.split("=", 1)[1]).name
        parts.append(arg)
    return " ".join(parts)


def run(args: argparse.Namespace, argv: Sequence[str] = (), log: Callable[..., None] = print) -> dict[str, Any]:
    """Run the benchmark described by ``args``; write and return the report."""
    if args.threads:
        torch.set_num_threads(args.threads)
    started, t0 = time.strftime("%Y-%m-%d %H:%M"), time.perf_counter()
    load0 = " ".join(f"{v:.1f}" for v in os.getloadavg())
    report: dict[str, Any] = {}
    log(f"CPU: {cpu_name()}, {torch.get_num_threads()} threads, load average {load0}")
    report["speed"] = bench_speed(args.variants, args.batch_size, args.steps, args.rounds, args.warmup, log)
    if args.memory:
        for key, row in report["speed"].items():
            row["memory"] = _probe_in_fresh_process(key, args.batch_size, min(args.steps, 2))
            log(f"  memory {key}: {row['memory']}")
    if args.acc_steps:
        report["accuracy"] = bench_accuracy(args.acc_batch_size, args.acc_steps, args.acc_test_size, log)
    report["meta"] = {
        "cpu": cpu_name(), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "bf16_native": cnn_course.bf16_supported("cpu"), "started": started,
        "seconds": time.perf_counter() - t0, "loadavg_start": load0,
        "loadavg_end": " ".join(f"{v:.1f}" for v in os.getloadavg()), "command": _command_line(argv),
        "speed": {"batch_size": args.batch_size, "steps": args.steps, "rounds": args.rounds},
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = render_markdown(report)
    (out / f"{args.name}.md").write_text(text, encoding="utf-8")
    (out / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    log("\n" + text)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point (``--probe VARIANT`` prints one variant's memory as JSON instead)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.probe is not None:
        if args.threads:
            torch.set_num_threads(args.threads)
        print(json.dumps(probe_memory(args.probe, args.batch_size, args.steps)))
        return 0
    run(args, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
