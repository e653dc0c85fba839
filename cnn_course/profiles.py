"""Run profiles: how much each chapter trains (``smoke``, ``quick`` or ``full``).

Settings flow one way: the environment (set by the user or by ``python -m cnn_course run``) is read
once, by :func:`choose_settings`; everything after that, :func:`cnn_course.record_result` included,
takes the :class:`Settings` the notebook chose.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any, Mapping

import torch

from .config import PROFILE_ENV, PROFILES

__all__ = ["PROFILES", "Settings", "choose_settings", "get_profile"]


def get_profile() -> str:
    """Return the active profile from the environment, else ``full`` with CUDA, else ``quick``.

    The variable is named by :data:`cnn_course.config.PROFILE_ENV`. Notebooks call this once,
    through :func:`choose_settings`.

    Raises:
        ValueError: when the environment variable holds something other than a profile name.
    """
    value = os.environ.get(PROFILE_ENV, "").strip().lower()
    if value:
        if value not in PROFILES:
            raise ValueError(
                f"{PROFILE_ENV}={os.environ[PROFILE_ENV]!r} is not a profile; use one of {', '.join(PROFILES)}"
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
            f"table must map each profile to its settings, e.g. {{'smoke': {{'epochs': 1}}, ...}}; "
            f"got {type(table).__name__}"
        )
    name = get_profile() if profile is None else str(profile).strip().lower()
    if name not in PROFILES:
        raise ValueError(f"profile={profile!r} is not a profile; use one of {', '.join(PROFILES)}")
    missing = [p for p in PROFILES if p not in table]
    if missing:
        raise ValueError(f"the settings table has no entry for profile(s) {', '.join(missing)}")
    for p in PROFILES:
        if not isinstance(table[p], Mapping):
            raise ValueError(f"table[{p!r}] must be a dict of settings such as {{'epochs': 1}}, got {table[p]!r}")
        bad = [k for k in table[p] if not (isinstance(k, str) and k.isidentifier()) or k == "profile"]
        if bad:
            raise ValueError(
                f"table[{p!r}] has the setting name {bad[0]!r}; use Python names such as 'epochs' "
                "('profile' is taken: it names the chosen profile)"
            )
    keys = set(table[PROFILES[0]])
    for p in PROFILES[1:]:
        if set(table[p]) != keys:
            raise ValueError(
                f"profile {p!r} has keys {sorted(table[p])} but {PROFILES[0]!r} has {sorted(keys)}; "
                "give every profile the same settings"
            )
    settings = Settings(profile=name, **table[name])
    if verbose:
        print(f"profile: {name}  ({PROFILE_ENV}=smoke|quick|full to change)  {settings!r}")
    return settings
