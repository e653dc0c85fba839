"""Run a student's code safely and compare it with a reference: the machinery of the coding exercises.

A judge (one per coding exercise, in ``exercise_bank``) calls the student's function or class through
:func:`call`, compares what comes back with the reference implementation and with known wrong
variants, and raises :class:`Mistake` with a hint in Simplified Chinese when something is off. An
exception raised inside the student's code becomes a :class:`StudentError` that names the file and
line where it happened: the check reports it, it never crashes the notebook.
"""

from __future__ import annotations

import signal
import sysconfig
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = [
    "Mistake",
    "StudentError",
    "TIME_LIMIT_S",
    "as_tensor",
    "build_module",
    "call",
    "close",
    "copy_parameters",
    "count_parameters",
    "describe_shape",
    "not_implemented",
    "random_tensor",
    "student_class",
]

# Seconds one call of the student's code may take. The inputs are tiny, so a correct solution needs
# milliseconds; a call still running after this is stuck in a loop.
TIME_LIMIT_S = 10.0

# Frames in these folders are library code; the innermost frame outside them is the student's.
_LIBRARY_DIRS = tuple(
    str(Path(p).resolve())
    for p in {
        str(Path(__file__).resolve().parent),  # cnn_course itself
        str(Path(str(torch.__file__)).resolve().parent),
        *(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")),
    }
)


class Mistake(Exception):
    """A problem found in the student's code; ``str(mistake)`` is the message shown to the student."""


class StudentError(Mistake):
    """An exception raised inside the student's code, with the place where it was raised.

    Attributes:
        error: the exception the student's code raised.
        location: where, e.g. ``"In[12] 第 5 行: Y[i, j] = ..."``; empty when no frame of the
            student's code is on the traceback (the call itself failed, e.g. a wrong number of arguments).
        call_text: the call that failed, e.g. ``"corr2d(X, K),X 的形状 (5, 6)"``.
    """

    def __init__(self, error: BaseException, location: str, call_text: str, hint: str = "") -> None:
        self.error, self.location, self.call_text, self.hint = error, location, call_text, hint
        super().__init__(self._message())

    def _message(self) -> str:
        if isinstance(self.error, _TimeLimitExceeded):
            head = f"{self.call_text}:运行了 {TIME_LIMIT_S:g} 秒还没有结束,已被中止:是不是有死循环?"
        elif self.location:
            head = f"{self.call_text}时,你的代码出错了:{type(self.error).__name__}: {self.error}"
        else:
            head = (f"调用 {self.call_text} 时出错:{type(self.error).__name__}: {self.error}\n"
                    "检查函数(或类)的参数是否和题目给出的签名一致。")
        parts = [head]
        if self.location:
            parts.append(f"位置:{self.location}")
        if self.hint:
            parts.append(f"提示:{self.hint}")
        return "\n".join(parts)

    def with_hint(self, hint: str) -> StudentError:
        """Return the same error with a targeted hint added."""
        return StudentError(self.error, self.location, self.call_text, hint)


class _TimeLimitExceeded(BaseException):
    """Raised inside the student's code when a call runs past TIME_LIMIT_S (not an Exception, so that
    a bare ``except Exception`` in the student's code cannot swallow it)."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (main thread on Unix; elsewhere the block runs unguarded)."""
    usable = (seconds and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise _TimeLimitExceeded()

    start = time.monotonic()
    previous_handler = signal.signal(signal.SIGALRM, interrupt)
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay > 0:  # someone else's timer was running: give it back what is left of it
            left = max(previous_delay - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, previous_interval)


def _display_name(filename: str) -> str:
    """A short name for a source file: ``In[12]`` for a notebook cell, else the file name without folders."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        label = shell.compile.format_code_name(filename) if shell is not None else None
        if label:
            return label[1]
    except Exception:  # no IPython, or an IPython without format_code_name: fall back to the file name
        pass
    return Path(filename).name


def _is_library(path: str) -> bool:
    return str(Path(path).resolve()).startswith(_LIBRARY_DIRS)


def _student_location(error: BaseException) -> str:
    """Where the innermost frame of code outside the libraries is, as '<file> 第 N 行: <code>'."""
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        path = frame.filename
        if path.startswith("<frozen") or (not path.startswith("<") and _is_library(path)):
            continue  # code given to exec() ("<string>") counts as the student's
        line = (frame.line or "").strip()
        return f"{_display_name(path)} 第 {frame.lineno} 行" + (f":{line}" if line else "")
    return ""


def call(function: Callable[..., Any], *args: Any, call_text: str) -> Any:
    """Call the student's ``function(*args)`` under a time limit and return what it returns.

    Args:
        function: the student's function, class or module.
        *args: positional arguments (the checker passes copies, so the student cannot spoil its data).
        call_text: how to name the call in feedback, e.g. ``"corr2d(X, K),X 的形状 (5, 6)"``.

    Raises:
        StudentError: when the student's code raises or runs past :data:`TIME_LIMIT_S`.
    """
    try:
        with _time_limit(TIME_LIMIT_S):
            return function(*args)
    except (Exception, _TimeLimitExceeded) as error:
        location = _student_location(error)
        raise StudentError(error, location, call_text).with_traceback(None) from None


def not_implemented(name: str) -> Mistake:
    """The feedback for a function that returned None (the skeleton's ``...``, or a missing return)."""
    return Mistake(f"还没有实现:{name} 返回了 None。把 `...` 换成你的代码;如果已经写好了,别忘了 return。")


def as_tensor(value: Any, name: str) -> torch.Tensor:
    """Return ``value`` when it is a tensor; otherwise raise a Mistake saying what was returned."""
    if value is None:
        raise not_implemented(name)
    if not isinstance(value, torch.Tensor):
        raise Mistake(f"{name} 应该返回一个 torch.Tensor,你的代码返回的是 {type(value).__name__}。")
    return value.detach()


def close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-4) -> bool:
    """Whether two tensors have the same shape and (nearly) the same values."""
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), rtol=tol, atol=tol)


def describe_shape(shape: Sequence[int]) -> str:
    """A shape as the course writes it: ``(2, 3, 4)``."""
    return str(tuple(int(s) for s in shape))


def random_tensor(generator: torch.Generator, *shape: int, integers: bool = False) -> torch.Tensor:
    """A float32 tensor from the checker's own seeded generator (small integers when ``integers``)."""
    if integers:
        return torch.randint(-3, 4, shape, generator=generator).float()
    return torch.randn(*shape, generator=generator)


def count_parameters(module: nn.Module) -> int:
    """Number of learnable values in ``module``."""
    return sum(p.numel() for p in module.parameters())


def _pair_by_shape(src: list[Any], dst: list[Any], shape_of: Callable[[Any], Any]) -> list[Any] | None:
    """Reorder ``dst`` so that item i has the shape of ``src[i]``: first unused match, in order (None if impossible)."""
    unused = list(range(len(dst)))
    order = []
    for item in src:
        j = next((j for j in unused if shape_of(dst[j]) == shape_of(item)), None)
        if j is None:
            return None
        unused.remove(j)
        order.append(j)
    return [dst[j] for j in order]


def _layers(module: nn.Module) -> list[list[nn.Parameter]]:
    """The parameters of each layer that holds some, in registration order."""
    groups = [list(m.parameters(recurse=False)) for m in module.modules()]
    return [g for g in groups if g]


def copy_parameters(source: nn.Module, target: nn.Module, name: str) -> None:
    """Copy ``source``'s parameters into ``target``, in registration order.

    When the shapes do not line up in order (the student defined the layers in another order), each
    layer of ``source`` goes to the first unused layer of ``target`` with parameters of the same shapes.

    Raises:
        Mistake: when the two modules do not have parameters of the same shapes.
    """
    src, dst = list(source.parameters()), list(target.parameters())
    src_shapes = [describe_shape(p.shape) for p in src]
    dst_shapes = [describe_shape(p.shape) for p in dst]
    if sorted(src_shapes) != sorted(dst_shapes):
        raise Mistake(
            f"{name} 的参数形状和参考实现不同,没法在同样的权重下比较输出。\n"
            f"  你的参数(按定义顺序):{', '.join(dst_shapes) or '没有参数'}\n"
            f"  参考实现:{', '.join(src_shapes)}\n"
            "按题目给出的结构定义各层(每个卷积都带偏置)。"
        )
    if src_shapes != dst_shapes:  # same shapes in another order: pair whole layers, else single tensors
        def signature(layer: list[nn.Parameter]) -> tuple[tuple[int, ...], ...]:
            return tuple(tuple(p.shape) for p in layer)

        layers = _pair_by_shape(_layers(source), _layers(target), signature)
        if layers is not None and sum(len(layer) for layer in layers) == len(dst):
            dst = [p for layer in layers for p in layer]
        else:
            dst = _pair_by_shape(src, dst, lambda p: tuple(p.shape)) or dst  # the sorted shapes match: never None
    with torch.no_grad():
        for s, d in zip(src, dst, strict=True):
            d.copy_(s)


def student_class(obj: Any, name: str) -> type:
    """Return ``obj`` when it is a class; otherwise raise a Mistake saying to pass the class itself."""
    if isinstance(obj, nn.Module):
        raise Mistake(f"请传入类 {name} 本身(check(..., {name})),不要传入它的实例 {name}(...)。")
    if not isinstance(obj, type):
        raise Mistake(f"请传入你定义的类 {name},收到的是 {type(obj).__name__}。")
    return obj


def build_module(cls: type, args: tuple[Any, ...], name: str) -> nn.Module:
    """Instantiate the student's module class with ``args``; a Mistake when it is not an nn.Module."""
    call_text = f"{name}{args}" if len(args) != 1 else f"{name}({args[0]})"
    module = call(cls, *args, call_text=call_text)
    if not isinstance(module, nn.Module):
        raise Mistake(f"{name} 要继承 nn.Module(class {name}(nn.Module):),并在 __init__ 里先调用 super().__init__()。")
    return module
