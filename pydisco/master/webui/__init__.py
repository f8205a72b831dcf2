"""The master's web status page: static files read from this package, no build step.

The page is plain HTML, CSS and JavaScript that reads only the master's JSON
API (``/disco/...``), the endpoints Disco's client uses, so it works against
any master with Disco's API shape. It is served at ``/`` (and ``/index.html``),
its assets under ``/ui/``; every listener of the master (the node addresses
too) serves it, since they share one application.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

__all__ = ["ASSETS", "add_routes"]

#: File name -> content type: the only files served (nothing else in this package is).
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

#: Scripts and styles come only from this origin, nothing runs inline, and the
#: page talks only to its own master: injected markup (if a value ever slipped
#: through unescaped) could not run.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _asset(name: str) -> web.Response:
    body = resources.files(__package__).joinpath(name).read_bytes()
    return web.Response(body=body, headers={**HEADERS, "Content-Type": ASSETS[name]})


async def index(request: web.Request) -> web.StreamResponse:
    """``GET /``: the page."""
    return _asset("index.html")


async def asset(request: web.Request) -> web.StreamResponse:
    """``GET /ui/<name>``: one of :data:`ASSETS`, else Disco's 404."""
    name = request.match_info["name"]
    if name not in ASSETS:
        return web.Response(status=404, text="Not found.", content_type="text/plain")
    return _asset(name)


def add_routes(app: web.Application) -> None:
    """Serve the page; call before the API's catch-all route is added."""
    app.router.add_get("/", index)
    app.router.add_get("/index.html", index)
    app.router.add_get("/ui/{name}", asset)
