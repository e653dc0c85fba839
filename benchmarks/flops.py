"""Arithmetic of a training step and the device's matmul peak (multiply-adds: ``cnn_course.models.count_macs``)."""

from __future__ import annotations

import re
import time
from typing import Sequence

import torch
from torch import nn

from cnn_course.models import count_macs

__all__ = ["KNOWN_PEAKS_TFLOPS", "TRAIN_FLOPS_PER_MAC", "known_peak_tflops", "matmul_peak_tflops",
           "training_flops_per_image"]

#: FLOPs of one training step per forward multiply-add: 2 FLOPs per multiply-add, and the backward
#: pass costs about twice the forward.
TRAIN_FLOPS_PER_MAC = 3 * 2

# Dense (no sparsity) tensor-core bf16 and plain fp32 peaks from the vendors' data sheets, in TFLOP/s.
KNOWN_PEAKS_TFLOPS: dict[str, dict[str, float]] = {
    "H200": {"bf16": 989.4, "fp32": 66.9},
    "H100 80GB HBM3": {"bf16": 989.4, "fp32": 66.9},  # SXM
    "H100 PCIe": {"bf16": 756.0, "fp32": 51.2},
    "A100": {"bf16": 312.0, "fp32": 19.5},
    "L40S": {"bf16": 362.1, "fp32": 91.6},
    "L4": {"bf16": 121.0, "fp32": 30.3},
}


def training_flops_per_image(model: nn.Module, input_shape: Sequence[int]) -> int:
    """FLOPs of one training step per image of ``input_shape`` ``(C, H, W)``: see ``TRAIN_FLOPS_PER_MAC``."""
    return TRAIN_FLOPS_PER_MAC * count_macs(model, input_shape)["total"]


def matmul_peak_tflops(device: torch.device, dtype: torch.dtype, size: int = 4096, seconds: float = 1.0) -> float:
    """Measure the throughput of square matmuls of ``size`` on ``device`` in ``dtype``, in TFLOP/s.

    Runs for about ``seconds`` after a warm-up and reports the best repetition (the
    least disturbed by other work on a shared machine).
    """
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    flops = 2 * size**3

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(2):
        torch.mm(a, b)
    sync()
    best, spent = float("inf"), 0.0
    reps = 1 if device.type == "cpu" else 10  # a GPU matmul is too short to time alone
    while spent < seconds or best == float("inf"):
        start = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        sync()
        elapsed = (time.perf_counter() - start) / reps
        best = min(best, elapsed)
        spent += elapsed * reps
    return flops / best / 1e12


def known_peak_tflops(device_name: str) -> dict[str, float] | None:
    """Return the data-sheet peaks for a GPU name (``torch.cuda.get_device_name()``), or None."""
    for key in sorted(KNOWN_PEAKS_TFLOPS, key=len, reverse=True):
        # whole words only: "L4" must not match "L40S"
        if re.search(rf"(?<![A-Za-z0-9]){re.escape(key)}(?![A-Za-z0-9])", device_name, flags=re.IGNORECASE):
            return KNOWN_PEAKS_TFLOPS[key]
    return None
