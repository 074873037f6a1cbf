"""Retraining over HTTP: ``POST /v1/endpoints/{name}/retrain`` starts a retrain in the
background (only a trainer ``retrain.trainers`` allows); ``GET /v1/retrain/{job}``
follows it."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
