"""One line per trained recipe: printed for the reader, and saved for ``python -m cnn_course run``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .training import History

__all__ = ["RESULTS_ENV", "record_result"]

RESULTS_ENV = "CNN_COURSE_RESULTS"


def record_result(recipe: str, history: History, test_iter: Any, chapter: str | None = None) -> dict[str, Any]:
    """Print the test accuracy of a trained recipe with the data it was measured on, and save it.

    When ``$CNN_COURSE_RESULTS`` names a file (the headless runner sets it), the result is
    appended to it as one JSON line.

    Args:
        recipe: a short name such as ``"source"`` or ``"improved"``.
        history: what :func:`cnn_course.train` returned.
        test_iter: the iterator the test accuracy was measured on.
        chapter: chapter name; defaults to ``$CNN_COURSE_CHAPTER`` (set by the runner).

    Returns:
        The recorded fields as a dict.
    """
    if not isinstance(history, History):
        raise ValueError(f"history must be the History returned by cnn_course.train, got {type(history).__name__}")
    from .profiles import get_profile

    describe = getattr(test_iter, "describe", None)
    data = describe() if callable(describe) else type(test_iter).__name__
    result = {
        "chapter": chapter or os.environ.get("CNN_COURSE_CHAPTER", ""),
        "recipe": recipe,
        "profile": get_profile(),
        "data": data,
        "test_acc": history.final_test_acc,
        "epochs": history.epochs,
        "seconds": round(history.seconds, 1),
        "img_per_sec": round(history.mean_img_per_sec, 1),
        "device": history.device,
        "interrupted": history.interrupted,
    }
    acc = "n/a" if history.final_test_acc is None else f"{100 * history.final_test_acc:.2f} %"
    print(f"[{recipe}] test accuracy {acc} after {history.epochs} epoch(s), measured on: {data}")
    print(f"[{recipe}] {history.seconds:.1f} s of training, {history.mean_img_per_sec:,.0f} img/s on {history.device}")
    target = os.environ.get(RESULTS_ENV)
    if target:
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(result, ensure_ascii=False) + "\n")
    return result
