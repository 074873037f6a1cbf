"""Retraining policies over HTTP: ``GET|PUT /v1/endpoints/{name}/retrain/policy``,
``POST .../retrain/policy/disable`` and ``GET .../retrain/history``."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
