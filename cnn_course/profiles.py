"""Run profiles: how much each chapter trains (``smoke``, ``quick`` or ``full``).

Settings flow one way: the profile is read once, by :func:`choose_settings`, from :func:`use_profile`
(which ``python -m cnn_course run`` calls in each kernel) or else the user's environment variable;
everything after that, :func:`cnn_course.record_result` included, takes the :class:`Settings` the
notebook chose.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import torch

from .config import PROFILE_ENV, PROFILES

__all__ = ["PROFILES", "Settings", "choose_settings", "get_profile", "use_profile"]

# The profile use_profile chose for this process; None: read the environment.
_chosen: str | None = None


def use_profile(profile: str | None) -> None:
    """Make every later :func:`choose_settings` in this process use ``profile`` (None: the environment again).

    ``python -m cnn_course run --profile quick`` calls ``use_profile("quick")`` in each notebook's
    kernel before the first cell, so that its choice wins over the environment.

    Raises:
        ValueError: for a name that is not a profile.
    """
    global _chosen
    if profile is not None and profile not in PROFILES:
        raise ValueError(f"profile={profile!r} 不是档位；请用 {'、'.join(PROFILES)} 之一")
    _chosen = profile


def get_profile() -> str:
    """Return the active profile: the one :func:`use_profile` chose, else the environment's, else full or quick.

    Without either, the profile is ``full`` where CUDA is available and ``quick`` elsewhere. The variable
    is named by :data:`cnn_course.config.PROFILE_ENV`. Notebooks call this once, through :func:`choose_settings`.

    Raises:
        ValueError: when the environment variable holds something other than a profile name.
    """
    if _chosen is not None:
        return _chosen
    value = os.environ.get(PROFILE_ENV, "").strip().lower()
    if value:
        if value not in PROFILES:
            raise ValueError(
                f"{PROFILE_ENV}={os.environ[PROFILE_ENV]!r} 不是档位；请用 {'、'.join(PROFILES)} 之一"
            )
        return value
    return "full" if torch.cuda.is_available() else "quick"


class Settings(SimpleNamespace):
    """A chapter's settings for one profile, read as attributes (``cfg.epochs``).

    ``profile`` names the profile they were chosen for; pass the whole object on, e.g.
    ``record_result("source", history, test_iter, settings=cfg)``.
    """

    profile: str

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "profile")
        return f"Settings[{self.profile}]({items})"


def choose_settings(
    table: Mapping[str, Mapping[str, Any]], profile: str | None = None, verbose: bool = True
) -> Settings:
    """Pick a chapter's settings for the active profile.

    Args:
        table: ``{"smoke": {...}, "quick": {...}, "full": {...}}``, each with the same keys.
        profile: force a profile instead of reading the environment.
        verbose: print which profile is used and how to change it.

    Returns:
        :class:`Settings` with the chosen profile's values and ``profile``.

    Raises:
        ValueError: for an unknown profile, a missing profile in ``table``, uneven keys or a setting
            name that is not a Python name.
    """
    if not isinstance(table, Mapping):
        raise ValueError(
            f"table 必须把每个档位对应到它的设置，例如 {{'smoke': {{'epochs': 1}}, ...}}；"
            f"传入的是 {type(table).__name__}"
        )
    name = get_profile() if profile is None else str(profile).strip().lower()
    if name not in PROFILES:
        raise ValueError(f"profile={profile!r} 不是档位；请用 {'、'.join(PROFILES)} 之一")
    missing = [p for p in PROFILES if p not in table]
    if missing:
        raise ValueError(f"设置表里没有档位 {'、'.join(missing)} 的设置")
    for p in PROFILES:
        if not isinstance(table[p], Mapping):
            raise ValueError(f"table[{p!r}] 必须是装着设置的 dict，例如 {{'epochs': 1}}，传入的是 {table[p]!r}")
        bad = [k for k in table[p] if not (isinstance(k, str) and k.isidentifier()) or k == "profile"]
        if bad:
            raise ValueError(
                f"table[{p!r}] 里有设置名 {bad[0]!r}；请用 'epochs' 这样的 Python 名字"
                "（'profile' 已被占用：它表示选中的档位）"
            )
    keys = set(table[PROFILES[0]])
    for p in PROFILES[1:]:
        if set(table[p]) != keys:
            raise ValueError(
                f"档位 {p!r} 的键是 {sorted(table[p])}，但 {PROFILES[0]!r} 的是 {sorted(keys)}；"
                "请给每个档位同样的设置"
            )
    settings = Settings(profile=name, **table[name])
    if verbose:
        print(f"档位（profile）：{name}（设置环境变量 {PROFILE_ENV}=smoke|quick|full 可以更改）  {settings!r}")
    return settings
