"""All GPU checks in one run: pipeline speeds (source vs course, fp32 and bf16 + channels-last) and
an accuracy check that bf16 autocast and channels-last leave accuracy unchanged.

Usage (from the repository root; about 3-6 minutes on one H200):
    python benchmarks/gpu_check.py                       # CUDA; writes benchmarks/results/gpu.md and .json
    python benchmarks/gpu_check.py --device cpu --steps 2 --out /tmp/check   # tiny dry run on a CPU

Missing datasets are replaced by a synthetic stand-in (clearly labelled): fine for speed, not for
accuracy. Parts that would overrun ``--budget-s`` are skipped and listed in the report.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Sequence

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

import cnn_course
from benchmarks import bench_pipelines
from benchmarks.pipelines import SPECS, ensure_data
from cnn_course.results import markdown_table

REPO = Path(__file__).resolve().parents[1]
# (model, source learning rate, epochs on a GPU): the source's recipes, shortened.
ACCURACY_RUNS = (("lenet", 0.9, 5), ("resnet", 0.1, 2), ("alexnet", 0.1, 1))
TINY = {"train_size": 500, "test_size": 200, "epochs": 1}


def accuracy_check(name: str, lr: float, epochs: int, device: torch.device, tiny: bool) -> dict[str, Any]:
    """Train one network twice from the same seed, fp32 vs bf16 autocast + channels-last; compare test accuracy."""
    spec = SPECS[name]
    sizes = {"train_size": TINY["train_size"], "test_size": TINY["test_size"]} if tiny else {}
    epochs = TINY["epochs"] if tiny else epochs
    result: dict[str, Any] = {"model": name, "lr": lr, "epochs": epochs, "batch_size": spec.batch_size}
    for label, fast in (("fp32", False), ("bf16_cl", True)):
        cnn_course.set_seed(0)
        model = spec.factory()
        train_iter, test_iter = cnn_course.load_data(spec.dataset, spec.batch_size, resize=spec.resize,
                                                     device=device, seed=0, **sizes)
        try:
            with warnings.catch_warnings():  # a chance-level epoch is kept in history.notes and shown in the table
                warnings.simplefilter("ignore", cnn_course.ChanceLevelWarning)
                history = cnn_course.train(model, train_iter, None, epochs=epochs, lr=lr, device=device,
                                           live_plot=False, progress=False, verbose=False,
                                           precision="bf16" if fast else "fp32", channels_last=fast)
        except cnn_course.TrainingDiverged as err:
            history = err.history
            result[f"{label}_note"] = "diverged"
        result[label] = {"test_acc": cnn_course.evaluate(model, test_iter) if history.epochs else None, "seconds": round(history.seconds, 2),
                         "img_per_sec": round(history.mean_img_per_sec, 1), "notes": history.notes}
        result["data"] = test_iter.describe()
    a, b = result["fp32"]["test_acc"], result["bf16_cl"]["test_acc"]
    result["diff_points"] = None if a is None or b is None else round(100 * (b - a), 2)
    return result


def _pct(value: Any) -> str:
    return f"{100 * value:.2f} %" if isinstance(value, (int, float)) else "—"


def render_accuracy(rows: Sequence[dict[str, Any]]) -> str:
    """The accuracy check as a Markdown section."""
    header = ["model", "epochs", "lr", "fp32 test acc", "bf16+CL test acc", "difference (points)", "fp32 img/s",
              "bf16+CL img/s", "notes"]
    cells: list[list[Any]] = []
    for r in rows:
        if "error" in r:
            cells.append([r["model"], "—", "—", f"error: {r['error']}", "", "", "", "", ""])
            continue
        diff = "—" if r["diff_points"] is None else f"{r['diff_points']:+.2f}"
        notes = [f"{label}: " + ("diverged" if r.get(f"{label}_note") else "chance-level epoch")
                 for label in ("fp32", "bf16_cl") if r.get(f"{label}_note") or r[label]["notes"]]
        cells.append([r["model"], r["epochs"], r["lr"], _pct(r["fp32"]["test_acc"]), _pct(r["bf16_cl"]["test_acc"]),
                      diff, f"{r['fp32']['img_per_sec']:,.0f}", f"{r['bf16_cl']['img_per_sec']:,.0f}",
                      "; ".join(notes) or "—"])
    lines = ["## Accuracy: fp32 vs bf16 autocast + channels-last (same seed, same data order)", "",
             markdown_table(header, cells, align="lrrrrrrrl")]
    lines += ["", "Measured on:"] + [f"- {r['model']}: {r['data']} ({r.get('data_source', '')})" for r in rows if "data" in r]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run every check that fits the time budget and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--steps", type=int, default=None, help="steps per pipeline per round (default: per model)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 3 on CUDA, 1 on CPU)")
    parser.add_argument("--models", default=",".join(SPECS))
    parser.add_argument("--accuracy", choices=("auto", "full", "tiny", "off"), default="auto",
                        help="accuracy check size (auto: full on CUDA, tiny on CPU)")
    parser.add_argument("--budget-s", type=float, default=420.0, help="skip parts that would start after this")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("--name", default=None, help="report file name (default: gpu on CUDA, gpu_check_cpu on CPU)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but torch sees no CUDA GPU; for a dry run use --device cpu --steps 2")
    t0 = time.perf_counter()
    device = torch.device(args.device)
    name = args.name or ("gpu" if device.type == "cuda" else "gpu_check_cpu")
    out = Path(args.out)
    rounds = args.rounds or (3 if device.type == "cuda" else 1)
    if device.type == "cuda":
        print(f"GPU: {torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda}",
              flush=True)
    skipped: list[str] = []
    errors: list[str] = []
    report: dict[str, Any] = {"device_name": bench_pipelines.device_name(device), "skipped": skipped, "errors": errors}

    # 1. Speeds: one model at a time, so that an overrun loses only the last ones.
    peaks = bench_pipelines.measure_peaks(device, 1.0 if device.type == "cuda" else 0.2)
    print("matmul peak: " + ", ".join(f"{k} {v:,.2f} TFLOP/s" for k, v in peaks["measured_tflops"].items()), flush=True)
    bench_reports = []
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        if time.perf_counter() - t0 > args.budget_s:
            skipped.append(f"speed {model} (time budget)")
            continue
        bench_argv = ["--device", args.device, "--models", model, "--rounds", str(rounds), "--fast", "on",
                      "--no-memory", "--synthetic-if-missing", "--out", str(out), "--name", f"{name}.speed.{model}"]
        if args.steps:
            bench_argv += ["--steps", str(args.steps)]
        if device.type == "cpu":
            bench_argv += ["--warmup", "1"]
        try:
            bench_args = bench_pipelines.parse_args(bench_argv)
            bench_reports.append(bench_pipelines.run(bench_args, log=lambda *a: print(*a, flush=True), peaks=peaks))
        except Exception as err:  # noqa: BLE001 - report it and go on with the other checks
            traceback.print_exc()
            errors.append(f"speed {model}: {type(err).__name__}: {err}")
        for ext in ("md", "json"):  # the per-model files are merged below
            (out / f"{name}.speed.{model}.{ext}").unlink(missing_ok=True)
    if bench_reports:
        peaks = bench_pipelines.merge_peaks(peaks, bench_pipelines.measure_peaks(device, 1.0 if device.type == "cuda" else 0.2))
        merged = {"meta": dict(bench_reports[0]["meta"]), "results": [r for b in bench_reports for r in b["results"]]}
        bench_pipelines.add_peak_fractions(merged["results"], peaks)
        merged["meta"]["peaks"] = peaks
        merged["meta"]["loadavg_end"] = bench_reports[-1]["meta"]["loadavg_end"]
        merged["meta"]["seconds"] = sum(b["meta"]["seconds"] for b in bench_reports)
        report["speed"] = merged

    # 2. Accuracy: fp32 vs bf16 + channels-last.
    mode = args.accuracy if args.accuracy != "auto" else ("full" if device.type == "cuda" else "tiny")
    accuracy = []
    if mode != "off":
        for model, lr, epochs in ACCURACY_RUNS:
            if time.perf_counter() - t0 > args.budget_s:
                skipped.append(f"accuracy {model} (time budget)")
                continue
            data = ensure_data(SPECS[model].dataset, allow_synthetic=True)
            print(f"accuracy check {model} ({mode}), data: {data}", flush=True)
            try:
                row = accuracy_check(model, lr, epochs, device, tiny=mode == "tiny")
                row["data_source"] = data
            except Exception as err:  # noqa: BLE001
                traceback.print_exc()
                row = {"model": model, "error": f"{type(err).__name__}: {err}"}
                errors.append(f"accuracy {model}: {row['error']}")
            accuracy.append(row)
            print(f"  {row}", flush=True)
    report["accuracy"] = accuracy
    report["seconds"] = round(time.perf_counter() - t0, 1)

    parts = [f"# GPU check on {report['device_name']}", "",
             f"torch {torch.__version__}, finished in {report['seconds']:.0f} s (budget {args.budget_s:.0f} s).", ""]
    if "speed" in report:
        speed = bench_pipelines.render_markdown(report["speed"]).split("\n", 2)[2]  # drop its title
        parts.append(speed)
    if accuracy:
        parts.append(render_accuracy(accuracy))
    if errors:
        parts += ["## Errors", ""] + [f"- {e}" for e in errors] + [""]
    if skipped:
        parts += ["## Skipped", ""] + [f"- {s}" for s in skipped] + [""]
    text = "\n".join(parts)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text(text, encoding="utf-8")
    (out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print("\n" + text)
    print(f"wrote {out / (name + '.md')} and {out / (name + '.json')}")
    if os.environ.get("OUT") and Path(os.environ["OUT"]).is_dir():  # the device machine's return folder
        for ext in ("md", "json"):
            shutil.copy(out / f"{name}.{ext}", Path(os.environ["OUT"]) / f"{name}.{ext}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
