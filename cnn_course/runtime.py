"""Device choice, precision choice and seeding, done only when asked."""

from __future__ import annotations

import random
import sys

import numpy as np
import torch

from ._checks import check_choice

__all__ = [
    "PRECISIONS",
    "bf16_supported",
    "get_device",
    "in_notebook",
    "resolve_device",
    "resolve_precision",
    "set_seed",
]

#: What ``precision=`` accepts in :func:`cnn_course.train`.
PRECISIONS = ("fp32", "bf16", "fp16", "auto")


def get_device() -> torch.device:
    """Return the best available device: CUDA, then Apple MPS, then CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Turn ``device`` (None, a string or a ``torch.device``) into an available ``torch.device``.

    Raises:
        ValueError: for an unknown device name or a device this machine does not have.
    """
    if device is None:
        return get_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device={device!r} 不是设备；请用 'cpu'、'cuda'、'mps' 或 None（自动选择）") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r}，但这台机器没有 CUDA GPU；请用 device=None 或 'cpu'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r}，但这台机器只有 {torch.cuda.device_count()} 个 CUDA 设备；请用 'cuda'"
        )
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device={device!r}，但这里用不了 Apple MPS；请用 device=None 或 'cpu'")
    return dev


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's random number generators (all devices).

    Raises:
        ValueError: when ``seed`` is not a non-negative int.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed 必须是非负整数，传入的是 {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _cpu_capabilities() -> dict[str, object]:
    """The CPU's instruction sets as torch detected them (empty when this torch cannot tell)."""
    get = getattr(torch.cpu, "get_capabilities", None)  # torch >= 2.10
    if get is not None:
        try:
            return dict(get())
        except RuntimeError:
            return {}
    # Older torch: only the x86 checks exist, as private helpers.
    caps: dict[str, object] = {}
    for key, name in (("avx512_bf16", "_is_avx512_bf16_supported"), ("amx_bf16", "_is_amx_tile_supported")):
        check = getattr(torch.cpu, name, None)
        if check is not None:
            caps[key] = bool(check())
    return caps


def bf16_supported(device: str | torch.device) -> bool:
    """Tell whether ``device`` computes in bfloat16 natively, so that bf16 autocast is faster than fp32.

    On a CPU this needs the AVX512-BF16 or AMX-BF16 instructions (x86) or the BF16 extension (ARM);
    without them PyTorch emulates bfloat16, which is slower than fp32. On CUDA it needs a GPU of
    compute capability 8.0 or more (Ampere and later); older GPUs such as the T4 or V100 only
    emulate it. Apple MPS is reported as unsupported (the course trains there in fp32).

    Args:
        device: ``'cpu'``, ``'cuda'``, ``'mps'`` or a ``torch.device``.

    Returns:
        True when bf16 autocast is both possible and fast on ``device``.

    Raises:
        ValueError: when ``device`` is not a device this machine has.
    """
    dev = resolve_device(device)
    if dev.type == "cuda":
        try:
            return bool(torch.cuda.is_bf16_supported(including_emulation=False))
        except TypeError:  # torch < 2.4 has no including_emulation and checks the hardware only
            return bool(torch.cuda.is_bf16_supported())
    if dev.type != "cpu":
        return False
    caps = _cpu_capabilities()
    native = bool(caps.get("avx512_bf16") or caps.get("amx_bf16") or caps.get("bf16") or caps.get("sve_bf16"))
    # The convolutions run through oneDNN; it must have bf16 kernels for this CPU as well.
    mkldnn = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return native and (mkldnn is None or bool(mkldnn()))


def resolve_precision(precision: str, device: str | torch.device) -> tuple[str, str | None]:
    """Choose the arithmetic that :func:`cnn_course.train` uses on ``device`` for ``precision``.

    ``'bf16'`` and ``'fp16'`` mean mixed precision: the model's weights stay in fp32 while
    convolutions and matrix products run in 16 bits under autocast. ``'auto'`` picks the
    fastest safe choice: bf16 where it is native, else fp16 with a gradient scaler on CUDA,
    else fp32.

    Args:
        precision: ``'fp32'``, ``'bf16'``, ``'fp16'`` or ``'auto'``.
        device: where training runs.

    Returns:
        ``(chosen, notice)``: ``chosen`` is ``'fp32'``, ``'bf16'`` or ``'fp16'``; ``notice`` is a
        one-line explanation when ``chosen`` differs from an explicit request, else None.

    Raises:
        ValueError: for an unknown ``precision`` or a device this machine does not have.
    """
    check_choice(precision, "precision", PRECISIONS)
    dev = resolve_device(device)
    if precision == "fp32":
        return "fp32", None
    if dev.type == "cuda":
        if precision == "fp16" or not bf16_supported(dev):
            notice = None
            if precision == "bf16":
                notice = (f"precision='bf16'：这块 GPU（{torch.cuda.get_device_name(dev)}）没有原生的 bfloat16；"
                          "改用 fp16 加梯度缩放（gradient scaler）训练。")
            return "fp16", notice
        return "bf16", None
    if dev.type == "cpu":
        if precision in ("bf16", "auto") and bf16_supported(dev):
            return "bf16", None
        if precision == "auto":
            return "fp32", None
        if precision == "fp16":
            return "fp32", "precision='fp16' 是为 GPU 准备的；CPU 上请用 'bf16' 或 'auto'。这次用 fp32 训练。"
        return "fp32", ("precision='bf16'：这个 CPU 没有原生的 bfloat16 指令（AVX512-BF16 或 AMX），"
                        "bf16 会比 fp32 还慢。这次用 fp32 训练。")
    if precision == "auto":
        return "fp32", None
    return "fp32", f"cnn_course 在 {dev.type} 上不支持 precision={precision!r}；这次用 fp32 训练。"


def in_notebook() -> bool:
    """Tell whether code runs in a Jupyter kernel (JupyterLab, Colab, Kaggle, VS Code, nbclient).

    Displays (progress bars, live plots) are shown only there; a terminal gets text instead.
    """
    ipython = sys.modules.get("IPython")  # not imported here: a plain script never loads IPython
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    # Colab's shell is a subclass of ZMQInteractiveShell; a terminal IPython is not one.
    return shell is not None and any(cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__)
