"""The web dashboard: page shells under ``/dashboard`` whose scripts read the ``/v1`` API.

Pages hold layout only; every figure on them comes from the same JSON API the CLI uses,
fetched with the caller's bearer token, so the dashboard follows the server's auth. The
chart library (Apache ECharts) and every script and style ship in ``static/``.
"""
