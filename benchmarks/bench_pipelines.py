"""Training speed of each chapter's network: the source course's data pipeline vs the course package's.

Usage (from the repository root; MNIST from ``$CNN_COURSE_DATA``):
    python benchmarks/bench_pipelines.py [--device cpu|cuda] [--models lenet,alexnet,googlenet,resnet]
                                         [--steps N] [--rounds 3]

The pipelines are measured alternately, in rounds (the order rotates each round), so that they
share the machine's noise; speeds are medians over rounds, ratios the medians of per-round
ratios. Prints a table and writes ``<out>/<name>.md`` and ``.json``. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from benchmarks.flops import TRAIN_FLOPS_PER_MAC, known_peak_tflops, matmul_peak_tflops
from benchmarks.pipelines import SPECS, build_pipeline, ensure_data, fresh_models, sync
from cnn_course.models import count_macs
from cnn_course.results import markdown_table

REPO = Path(__file__).resolve().parents[1]
DEFAULT_STEPS = {
    "cpu": {"lenet": 16, "alexnet": 2, "googlenet": 8, "resnet": 8},
    "cuda": {"lenet": 40, "alexnet": 40, "googlenet": 40, "resnet": 40},
}
GOALS = {  # (device type, model, numerator pipeline, goal): what the course promises
    ("cpu", "lenet"): ("course", 1.9),
    ("cuda", "alexnet"): ("course_fast", 8.0),
}
LABELS = {"source": "source", "course": "course", "course_fast": "course bf16+CL",
          "model": "model only", "model_fast": "model only bf16+CL"}


def device_name(device: torch.device) -> str:
    """A readable name of the device: the GPU's name, or the CPU model and thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu} ({os.cpu_count()} logical CPUs), torch threads: {torch.get_num_threads()}"


def measure_peaks(device: torch.device, seconds: float = 1.0) -> dict[str, Any]:
    """Measured matmul peaks (TFLOP/s) for the dtypes the pipelines use, plus data-sheet peaks on known GPUs.

    On a CPU many short 1024x1024 matmuls are timed and the best kept: on a shared machine that
    is the closest reading of what one uncontended moment can do.
    """
    if device.type == "cuda":
        peaks = {"fp32": matmul_peak_tflops(device, torch.float32, 8192, seconds),
                 "bf16": matmul_peak_tflops(device, torch.bfloat16, 8192, seconds)}
        spec = known_peak_tflops(device_name(device))
    else:
        peaks = {"fp32": matmul_peak_tflops(device, torch.float32, 1024, seconds)}
        spec = None
    return {"measured_tflops": peaks, "spec_tflops": spec}


def merge_peaks(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Keep the higher of two peak readings per dtype (measured before and after the pipelines)."""
    merged = {k: max(v, second["measured_tflops"].get(k, 0.0)) for k, v in first["measured_tflops"].items()}
    return {"measured_tflops": merged, "spec_tflops": first["spec_tflops"],
            "readings_tflops": [first["measured_tflops"], second["measured_tflops"]]}


def _probe_memory(model: str, pipeline: str, steps: int) -> dict[str, Any]:
    """Run :mod:`benchmarks.memory_probe` for one pipeline in a fresh Python process (same torch threads)."""
    cmd = [sys.executable, "-m", "benchmarks.memory_probe", model, pipeline, "--steps", str(steps),
           "--threads", str(torch.get_num_threads())]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=dict(os.environ))
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": tail}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["delta_mb"] = round(result["peak_mb"] - result["base_mb"], 1)
    return result


def bench_model(
    name: str,
    device: torch.device,
    *,
    steps: int,
    rounds: int,
    warmup: int,
    pipelines: Sequence[str],
    memory: bool,
    log=print,
) -> dict[str, Any]:
    """Benchmark one network's pipelines alternately; return speeds, ratios, memory and FLOP use."""
    spec = SPECS[name]
    models = fresh_models(spec, len(pipelines))
    macs = count_macs(spec.factory(), spec.input_shape)["total"]
    flops_per_img = TRAIN_FLOPS_PER_MAC * macs
    built = {p: build_pipeline(p, spec, m, device) for p, m in zip(pipelines, models)}
    for p in pipelines:  # warm-up: allocations, kernel choice, first DataLoader iterator
        if warmup:
            built[p].run(warmup)
    speeds: dict[str, list[float]] = {p: [] for p in pipelines}
    cuda_peak: dict[str, float] = {p: 0.0 for p in pipelines}
    for r in range(rounds):
        order = list(pipelines[r % len(pipelines):]) + list(pipelines[: r % len(pipelines)])
        for p in order:
            if device.type == "cuda":
                sync(device)
                torch.cuda.reset_peak_memory_stats(device)
                base = torch.cuda.memory_allocated(device)
            images, seconds = built[p].run(steps)
            speeds[p].append(images / seconds)
            if device.type == "cuda":
                cuda_peak[p] = max(cuda_peak[p], (torch.cuda.max_memory_allocated(device) - base) / 2**20)
        log(f"  {name} round {r + 1}/{rounds}: " + ", ".join(f"{p} {speeds[p][-1]:,.0f}" for p in pipelines) + " img/s")
    result: dict[str, Any] = {
        "model": name, "dataset": spec.dataset, "batch_size": spec.batch_size, "image": "x".join(map(str, spec.input_shape)),
        "steps": steps, "rounds": rounds, "macs_forward": macs, "gflop_per_image_train": flops_per_img / 1e9,
        "pipelines": {},
    }
    for p in pipelines:
        median = statistics.median(speeds[p])
        dtype = "bf16" if p.endswith("_fast") and device.type == "cuda" else "fp32"
        achieved = flops_per_img * median / 1e12
        entry: dict[str, Any] = {
            "img_per_sec": round(median, 1), "per_round": [round(v, 1) for v in speeds[p]],
            "describe": built[p].describe, "tflops": round(achieved, 4), "peak_dtype": dtype,
        }
        if device.type == "cuda":
            entry["cuda_peak_delta_mb"] = round(cuda_peak[p], 1)
            entry["data_on_device_mb"] = round(built[p].data_bytes_on_device / 2**20, 1)
        result["pipelines"][p] = entry
    ratios = {}
    for num, den in (("course", "source"), ("course_fast", "source"), ("course", "model"), ("course_fast", "model_fast")):
        if num in speeds and den in speeds:
            per_round = [a / b for a, b in zip(speeds[num], speeds[den])]
            ratios[f"{num}/{den}"] = {"median": round(statistics.median(per_round), 3),
                                      "per_round": [round(v, 3) for v in per_round]}
    result["ratios"] = ratios
    if memory and device.type == "cpu":
        probe_steps = max(1, min(steps, 3))
        for p in pipelines:
            result["pipelines"][p]["memory"] = _probe_memory(name, p, probe_steps)
    return result


def _fmt_mem(entry: dict[str, Any]) -> str:
    if "cuda_peak_delta_mb" in entry:
        return f"{entry['cuda_peak_delta_mb']:,.0f}"
    mem = entry.get("memory")
    if not mem:
        return "—"
    if "error" in mem:
        return "error"
    return f"{mem['peak_mb']:,.0f} (+{mem['delta_mb']:,.0f})"


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: meta data, the speed table, memory and FLOP use, and the goals."""
    meta, rows = report["meta"], report["results"]
    device = meta["device_type"]
    pipelines = meta["pipelines"]
    peak = meta["peaks"]["measured_tflops"]
    lines = [
        f"# Training-pipeline benchmark on {meta['device_name']}",
        "",
        f"torch {meta['torch']}, device `{device}`, {meta['rounds']} alternating rounds per model, "
        f"load average {meta['loadavg_start']} at the start and {meta['loadavg_end']} at the end "
        f"({meta['started']}, {meta['seconds']:.0f} s).",
        "Measured matmul peak: " + ", ".join(f"{k} {v * 1000:,.0f} GFLOP/s" for k, v in peak.items())
        + (" (this machine, best short matmul before and after the run)"
           if device == "cpu" else " (best of before and after the run)"),
        f"Command: `{meta['command']}`",
    ]
    if meta.get("note"):
        lines += ["", f"Note: {meta['note']}"]
    if meta["peaks"].get("spec_tflops"):
        lines.append("Data-sheet peak: " + ", ".join(f"{k} {v:,.0f} TFLOP/s" for k, v in meta["peaks"]["spec_tflops"].items()))
    lines += ["", "## Speed (training images per second, median of rounds)", ""]
    head = ["model", "batch", "image", "steps"] + [LABELS[p] for p in pipelines]
    ratio_keys = [k for k in ("course/source", "course_fast/source", "course/model", "course_fast/model_fast")
                  if any(k in r["ratios"] for r in rows)]
    head += ratio_keys
    speed_rows = [[r["model"], r["batch_size"], r["image"], r["steps"],
                   *(f"{r['pipelines'][p]['img_per_sec']:,.0f}" for p in pipelines),
                   *(f"**{r['ratios'][k]['median']:.2f}x**" if k in r["ratios"] else "—" for k in ratio_keys)]
                  for r in rows]
    lines.append(markdown_table(head, speed_rows, align="llll" + "r" * (len(head) - 4)))
    mem_title = ("peak GPU memory above what was allocated before, MB" if device == "cuda"
                 else "peak resident memory of a fresh process running only that pipeline, MB "
                      "(+ over Python, torch and the model)")
    lines += ["", f"## Memory ({mem_title})", "",
              markdown_table(["model", *(LABELS[p] for p in pipelines)],
                             [[r["model"], *(_fmt_mem(r["pipelines"][p]) for p in pipelines)] for r in rows],
                             align="l" + "r" * len(pipelines))]

    def share(e: dict[str, Any]) -> str:
        spec = f", {100 * e['frac_of_spec_peak']:.1f} % of spec" if "frac_of_spec_peak" in e else ""
        return f"{e['tflops'] * 1000:,.1f} GFLOP/s = {100 * e['frac_of_measured_peak']:.1f} % ({e['peak_dtype']}){spec}"

    lines += ["", "## Arithmetic: share of the device's peak reached by a training step", "",
              markdown_table(["model", "forward MMACs/img", "train GFLOP/img", *(LABELS[p] for p in pipelines)],
                             [[r["model"], f"{r['macs_forward'] / 1e6:,.2f}", f"{r['gflop_per_image_train']:.4f}",
                               *(share(r["pipelines"][p]) for p in pipelines)] for r in rows],
                             align="lrr" + "r" * len(pipelines))]
    goals = []
    for r in rows:
        goal = GOALS.get((device, r["model"]))
        if goal and f"{goal[0]}/source" in r["ratios"]:
            got = r["ratios"][f"{goal[0]}/source"]
            ok = "met" if got["median"] >= goal[1] else "NOT met"
            goals.append(f"- {r['model']} on {device}: {LABELS[goal[0]]} / source = **{got['median']:.2f}x** "
                         f"(rounds: {', '.join(f'{v:.2f}' for v in got['per_round'])}); goal >= {goal[1]}x: {ok}")
    if goals:
        lines += ["", "## Goals", "", *goals]
    lines += ["", "## Data each pipeline used", ""]
    for r in rows:
        lines.append(f"- {r['model']} ({r['data']}):")
        lines += [f"  - {LABELS[p]}: {r['pipelines'][p]['describe']}" for p in pipelines]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", default=",".join(SPECS), help=f"comma-separated, from {','.join(SPECS)}")
    parser.add_argument("--steps", type=int, default=None, help="training steps per pipeline per round (default per model)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps per pipeline first (default 2 cpu, 5 cuda)")
    parser.add_argument("--fast", choices=("auto", "on", "off"), default="auto",
                        help="also measure bf16 autocast + channels_last (auto: on CUDA only)")
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="skip the memory probes (CPU)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"), help="folder for <name>.md and .json")
    parser.add_argument("--name", default=None, help="file name without extension (default: the device type)")
    parser.add_argument("--synthetic-if-missing", action="store_true",
                        help="time on a synthetic stand-in when a dataset is not found (never downloads)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--note", default="", help="a remark printed under the title (e.g. what else ran)")
    parser.add_argument("--peak-seconds", type=float, default=2.0,
                        help="time spent measuring the matmul peak, before and after the pipelines")
    args = parser.parse_args(argv)
    args.models = [m.strip().lower() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in SPECS]
    if unknown or not args.models:
        parser.error(f"unknown model(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(SPECS)}")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but torch sees no CUDA GPU here")
    for option in ("steps", "rounds", "warmup", "threads"):
        value = getattr(args, option)
        if value is not None and value < (0 if option == "warmup" else 1):
            parser.error(f"--{option} must be a positive number, got {value}")
    return args


def add_peak_fractions(results: Sequence[dict[str, Any]], peaks: dict[str, Any]) -> None:
    """Add each pipeline's share of the measured (and data-sheet) peak to ``results``, in place."""
    for result in results:
        for entry in result["pipelines"].values():
            dtype = entry["peak_dtype"]
            entry["frac_of_measured_peak"] = round(entry["tflops"] / peaks["measured_tflops"][dtype], 4)
            if peaks.get("spec_tflops"):
                entry["frac_of_spec_peak"] = round(entry["tflops"] / peaks["spec_tflops"][dtype], 4)


def _command_line() -> str:
    """The command that produced this report, without the (long) ``--note`` text; ``--out`` by folder name only."""
    argv, parts, skip, after_out = sys.argv[1:], [Path(sys.argv[0]).name], False, False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--note":
            skip = True
        elif after_out:  # no machine's own paths in results
            parts.append(Path(arg).name)
            after_out = False
        elif arg.startswith("--out="):
            parts.append("--out=" + Path(arg.split("=", 1)[1]).name)
        elif not arg.startswith("--note="):
            parts.append(arg)
            after_out = arg == "--out"
    return " ".join(parts)


def run(args: argparse.Namespace, log=print, peaks: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the benchmark described by ``args``; write and return the report.

    ``peaks`` (from :func:`measure_peaks`) skips measuring the matmul peak again.
    """
    device = torch.device(args.device)
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    started, t0 = time.strftime("%Y-%m-%d %H:%M"), time.perf_counter()
    load0 = " ".join(f"{v:.1f}" for v in os.getloadavg())
    fast = args.fast == "on" or (args.fast == "auto" and device.type == "cuda")
    pipelines = ["source", "course", "model"] + (["course_fast", "model_fast"] if fast else [])
    log(f"device: {device_name(device)}; pipelines: {', '.join(pipelines)}")
    given_peaks = peaks is not None
    peaks = peaks or measure_peaks(device, args.peak_seconds)
    log("matmul peak: " + ", ".join(f"{k} {v * 1000:,.0f} GFLOP/s" for k, v in peaks["measured_tflops"].items()))
    results = []
    for name in args.models:
        data = ensure_data(SPECS[name].dataset, args.synthetic_if_missing)
        steps = args.steps or DEFAULT_STEPS[device.type][name]
        warmup = args.warmup if args.warmup is not None else (5 if device.type == "cuda" else (1 if name == "alexnet" else 2))
        log(f"{name}: {steps} steps x {args.rounds} rounds per pipeline, data: {data}")
        result = bench_model(name, device, steps=steps, rounds=args.rounds, warmup=warmup, pipelines=pipelines,
                             memory=args.memory, log=log)
        result["data"] = data
        results.append(result)
    if not given_peaks:
        peaks = merge_peaks(peaks, measure_peaks(device, args.peak_seconds))
    add_peak_fractions(results, peaks)
    meta = {
        "device_type": device.type, "device_name": device_name(device), "torch": torch.__version__,
        "cuda": torch.version.cuda if device.type == "cuda" else None, "threads": torch.get_num_threads(),
        "rounds": args.rounds, "pipelines": pipelines, "peaks": peaks, "started": started,
        "seconds": time.perf_counter() - t0, "loadavg_start": load0,
        "loadavg_end": " ".join(f"{v:.1f}" for v in os.getloadavg()),
        "command": _command_line(),
        "note": getattr(args, "note", ""),
    }
    report = {"meta": meta, "results": results}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = args.name or device.type
    text = render_markdown(report)
    (out / f"{name}.md").write_text(text, encoding="utf-8")
    (out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    log("\n" + text)
    log(f"wrote {out / (name + '.md')} and {out / (name + '.json')}")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
