"""Run profiles: how much each chapter trains (``smoke``, ``quick`` or ``full``)."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any, Mapping

import torch

__all__ = ["PROFILES", "Settings", "choose_settings", "get_profile"]

PROFILES = ("smoke", "quick", "full")
ENV_VAR = "CNN_COURSE_PROFILE"


def get_profile() -> str:
    """Return the active profile: ``$CNN_COURSE_PROFILE``, else ``full`` with CUDA, else ``quick``.

    Raises:
        ValueError: when the environment variable holds something other than a profile name.
    """
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if value:
        if value not in PROFILES:
            raise ValueError(
                f"{ENV_VAR}={os.environ[ENV_VAR]!r} is not a profile; use one of {', '.join(PROFILES)}"
            )
        return value
    return "full" if torch.cuda.is_available() else "quick"


class Settings(SimpleNamespace):
    """A chapter's settings for one profile, read as attributes (``cfg.epochs``)."""

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
        profile: force a profile instead of reading ``CNN_COURSE_PROFILE``.
        verbose: print which profile is used and how to change it.

    Returns:
        :class:`Settings` with the chosen profile's values and ``profile``.

    Raises:
        ValueError: for an unknown profile, a missing profile in ``table`` or uneven keys.
    """
    name = get_profile() if profile is None else str(profile).lower()
    if name not in PROFILES:
        raise ValueError(f"profile={profile!r} is not a profile; use one of {', '.join(PROFILES)}")
    missing = [p for p in PROFILES if p not in table]
    if missing:
        raise ValueError(f"the settings table has no entry for profile(s) {', '.join(missing)}")
    keys = set(table[PROFILES[0]])
    for p in PROFILES[1:]:
        if set(table[p]) != keys:
            raise ValueError(
                f"profile {p!r} has keys {sorted(table[p])} but {PROFILES[0]!r} has {sorted(keys)}; "
                "give every profile the same settings"
            )
    settings = Settings(profile=name, **table[name])
    if verbose:
        print(f"profile: {name}  ({ENV_VAR}=smoke|quick|full to change)  {settings!r}")
    return settings
