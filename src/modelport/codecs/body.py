"""Strict JSON bodies: one parser, one error."""

from __future__ import annotations

from typing import Any

import orjson

from modelport.errors import MalformedBody


def parse_json(body: bytes) -> Any:
    """``body`` as JSON; 400 ``malformed_json`` when it is empty or not JSON."""
    if not body:
        raise MalformedBody("request body is empty; expected JSON")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"request body is not valid JSON: {exc}") from exc
