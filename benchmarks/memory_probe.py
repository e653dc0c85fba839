"""Peak resident memory of ONE pipeline, measured in a fresh process (so no other pipeline's high-water mark counts).

Usage (from the repository root): ``python -m benchmarks.memory_probe lenet source --steps 3``.
Prints one JSON line: ``base_mb`` (Python + torch + the model, before any data) and
``peak_mb`` (the process's high-water mark after the steps).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _status_mb(field: str) -> float | None:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in MB, or None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (VmHWM; ru_maxrss where /proc is missing).

    VmHWM belongs to this process image only; ru_maxrss survives exec and could report the parent's.
    """
    value = _status_mb("VmHWM")
    if value is not None:
        return value
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 1024 / (1024 if sys.platform == "darwin" else 1)


def current_rss_mb() -> float:
    """This process's resident memory now, in MB (the peak where /proc is missing)."""
    value = _status_mb("VmRSS")
    return value if value is not None else peak_rss_mb()


def main(argv: list[str] | None = None) -> int:
    """Measure one pipeline's memory and print it as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("pipeline")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from benchmarks.pipelines import SPECS, build_pipeline, fresh_models

    spec = SPECS[args.model]
    device = torch.device(args.device)
    (model,) = fresh_models(spec, 1)
    model.to(device)
    base = current_rss_mb()
    pipeline = build_pipeline(args.pipeline, spec, model, device, random_batch=True)
    images, seconds = pipeline.run(args.steps)
    print(json.dumps({"model": args.model, "pipeline": args.pipeline, "steps": args.steps, "images": images,
                      "base_mb": round(base, 1), "peak_mb": round(peak_rss_mb(), 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
