"""JSON responses and the one place where errors become HTTP answers."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from modelport.errors import BodyTooLarge, InvalidRequest, ModelportError

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


def error_response(exc: ModelportError, *, request_id: str | None = None, v2: bool = False) -> JSON:
    body = exc.to_dict()
    if request_id is not None:
        body["request_id"] = request_id
    if v2:
        # The Open Inference Protocol's error shape is {"error": "<message>"}.
        body["error"] = exc.message
    headers = {"x-request-id": request_id} if request_id else None
    return JSON(body, status_code=exc.status, headers=headers)


def from_http_exception(exc: HTTPException) -> ModelportError:
    """Starlette's own refusals (a multipart body without a boundary, ...) as our errors.

    >>> error = from_http_exception(HTTPException(400, "Missing boundary in multipart."))
    >>> error.status, error.code, error.message
    (400, 'invalid_request', 'Missing boundary in multipart.')
    """
    if exc.status_code == 413:
        return BodyTooLarge(exc.detail)
    error = InvalidRequest(exc.detail)
    if 400 <= exc.status_code < 500:
        error.status = exc.status_code
    return error


def guarded(v2: bool = False) -> Callable[[Handler], Handler]:
    """Turn ModelportError (and Starlette's HTTPException) into its JSON answer and
    anything else into a bare 500 (logged with the request id, never a stack trace to
    the client)."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except ModelportError as exc:
                return error_response(
                    exc, request_id=getattr(request.state, "request_id", None), v2=v2
                )
            except HTTPException as exc:
                return error_response(
                    from_http_exception(exc),
                    request_id=getattr(request.state, "request_id", None),
                    v2=v2,
                )
            except Exception:
                request_id = getattr(request.state, "request_id", None)
                logger.exception("unhandled error in %s (request %s)", request.url.path, request_id)
                return error_response(
                    ModelportError("internal error; see the server log"),
                    request_id=request_id,
                    v2=v2,
                )

        return run

    return wrap
