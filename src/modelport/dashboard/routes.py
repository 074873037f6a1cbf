"""Page routes of the dashboard and its static files.

Each page is a Jinja2 shell (``templates/<page>.html.j2``) with its path parameters as
``data-*`` attributes on ``<body>``; ``static/js/pages/<page>.js`` fills it from the API.
A strict Content-Security-Policy keeps every script to files served from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

HERE = Path(__file__).parent
REFRESH_S = 10

# ECharts' tooltips carry inline style attributes, hence 'unsafe-inline' for styles only;
# scripts run from this server's files alone (no inline script, no eval).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

PAGES = ("overview", "endpoint", "rollouts", "alerts", "models", "predictions")

_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(page: str, params: dict[str, Any]) -> HTMLResponse:
    """The shell of ``page`` with its path parameters."""
    template = _templates.get_template(f"{page}.html.j2")
    body = template.render(page=page, params=params, refresh_s=REFRESH_S, pages=PAGES)
    return HTMLResponse(body, headers=SECURITY_HEADERS)


def _page(page: str, **renames: str) -> Any:
    """A handler rendering ``page``; path parameter ``name`` is passed as ``renames['name']``."""

    async def handler(request: Request) -> Response:
        params = {renames.get(key, key): value for key, value in request.path_params.items()}
        return render(page, params)

    handler.__name__ = f"dashboard_{page}"
    return handler


routes: list[BaseRoute] = [
    Route("/dashboard", _page("overview"), methods=["GET"]),
    Route("/dashboard/endpoints/{name}", _page("endpoint", name="endpoint"), methods=["GET"]),
    Route(
        "/dashboard/endpoints/{name}/rollout",
        _page("rollouts", name="endpoint"),
        methods=["GET"],
    ),
    Route(
        "/dashboard/endpoints/{name}/predictions",
        _page("predictions", name="endpoint"),
        methods=["GET"],
    ),
    Route("/dashboard/rollouts", _page("rollouts"), methods=["GET"]),
    Route("/dashboard/alerts", _page("alerts"), methods=["GET"]),
    Route("/dashboard/models", _page("models"), methods=["GET"]),
    Route("/dashboard/models/{name}", _page("models", name="model"), methods=["GET"]),
    Route("/dashboard/predictions", _page("predictions"), methods=["GET"]),
    Mount("/dashboard/static", StaticFiles(directory=HERE / "static"), name="dashboard-static"),
]
