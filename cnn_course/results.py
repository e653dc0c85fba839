"""One line per trained recipe: printed for the reader, and saved for ``python -m cnn_course run``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .config import CHAPTER_ENV, RESULTS_ENV
from .profiles import Settings
from .history import History

__all__ = ["record_result"]


def _epochs_phrase(history: History) -> str:
    """How far training got, in words that cannot be mistaken for a finished run."""
    done = history.epochs
    plural = "" if done == 1 else "s"
    if history.stop_reason:  # e.g. "interrupted in epoch 3": the accuracy is that of epoch 2
        return f"after {done} completed epoch{plural} ({history.stop_reason})"
    return f"after {done} epoch{plural}"


def record_result(recipe: str, history: History, test_iter: Any, *, settings: Settings) -> dict[str, Any]:
    """Print the test accuracy of a trained recipe with the data it was measured on, and save it.

    The profile comes from ``settings`` (what the notebook chose), never from the environment.
    Under ``python -m cnn_course run`` the runner names a results file and the chapter in the
    kernel's environment (:data:`cnn_course.config.RESULTS_ENV`, :data:`cnn_course.config.CHAPTER_ENV`);
    the result is then appended to that file as one JSON line, labelled with the chapter.
    A training that was interrupted or diverged is reported as such ("after 2 completed epochs
    (interrupted in epoch 3)"): the accuracy is that of the last completed epoch.

    Args:
        recipe: a short name such as ``"source"`` or ``"improved"``.
        history: what :func:`cnn_course.train` returned.
        test_iter: the iterator the test accuracy was measured on.
        settings: what :func:`cnn_course.choose_settings` returned for this chapter.

    Returns:
        The recorded fields as a dict (``chapter`` is ``""`` outside the runner).

    Raises:
        ValueError: when ``recipe`` is empty, ``history`` is not a History or ``settings`` not Settings.
        OSError: when the runner's results file cannot be written.
    """
    if not isinstance(recipe, str) or not recipe.strip():
        raise ValueError(f'recipe must be a short name such as "source" or "improved", got {recipe!r}')
    if not isinstance(history, History):
        raise ValueError(f"history must be the History returned by cnn_course.train, got {type(history).__name__}")
    if not isinstance(settings, Settings):
        raise ValueError(
            "settings must be what cnn_course.choose_settings returned (cfg = cnn_course.choose_settings(SETTINGS)), "
            f"got {type(settings).__name__}"
        )
    describe = getattr(test_iter, "describe", None)
    data = describe() if callable(describe) else type(test_iter).__name__
    result = {
        "chapter": os.environ.get(CHAPTER_ENV, ""),  # a label only: the runner knows which notebook it runs
        "recipe": recipe,
        "profile": settings.profile,
        "settings": {k: v for k, v in vars(settings).items() if k != "profile"},
        "data": data,
        "test_acc": history.final_test_acc,
        "epochs": history.epochs,
        "interrupted": history.interrupted,
        "stop_reason": history.stop_reason,
        "seconds": round(history.seconds, 1),
        "img_per_sec": round(history.mean_img_per_sec, 1),
        "device": history.device,
        "precision": history.precision,
    }
    acc = "n/a" if history.final_test_acc is None else f"{100 * history.final_test_acc:.2f} %"
    print(f"[{recipe}] test accuracy {acc} {_epochs_phrase(history)}, measured on: {data}")
    in_precision = "" if history.precision == "fp32" else f", in {history.precision}"  # fp32 is the default
    print(f"[{recipe}] {history.seconds:.1f} s of training, {history.mean_img_per_sec:,.0f} img/s on {history.device}"
          f"{in_precision}")
    target = os.environ.get(RESULTS_ENV)
    if target:
        path = Path(target)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")
        except OSError as err:
            raise OSError(f"could not save the result to {path} (named by {RESULTS_ENV}): {err}") from err
    return result
