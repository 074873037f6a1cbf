"""Rollout admin API (shadow, canary, blue-green)."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
