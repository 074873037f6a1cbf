"""Reading request bodies: size limit first, then strict JSON."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from modelport.codecs.body import parse_json
from modelport.errors import BodyTooLarge, InvalidRequest

MAX_ID_LENGTH = 200


async def read_json(request: Request, limit: int) -> Any:
    return parse_json(await read_body(request, limit))


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body of {declared} bytes exceeds the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def request_id_from(request: Request, payload: Any) -> str | None:
    """The caller's own id: ``X-Request-ID`` header, else an ``id`` field in the body."""
    value = request.headers.get("x-request-id")
    field = "X-Request-ID"
    if value is None and isinstance(payload, dict) and "id" in payload:
        value = payload["id"]
        field = "id"
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise InvalidRequest(
            f"{field} must be a non-empty string of at most 200 characters", field=field
        )
    if not value.isprintable():
        raise InvalidRequest(f"{field} must be printable", field=field)
    return value
