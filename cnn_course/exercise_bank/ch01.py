"""Self-check exercises for chapter 01."""

from __future__ import annotations

from ..exercises import Exercise, register

register()
