"""How a handler reaches the process's services (built by :mod:`modelport.server`)."""

from __future__ import annotations

from starlette.requests import Request

from modelport.server import Services


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found
