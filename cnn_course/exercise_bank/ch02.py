"""Self-check exercises for chapter 02."""

from __future__ import annotations

from ..exercises import Exercise, register

register()
