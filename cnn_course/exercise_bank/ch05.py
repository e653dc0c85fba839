"""Self-check exercises for chapter 05."""

from __future__ import annotations

from ..exercises import Exercise, register

register()
