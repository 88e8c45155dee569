"""Serves the built React UI at `/`: its files, and index.html for every other path so the
browser's router can take client-side routes (a reload of /builds/<id> included). Without a
built UI, the same paths answer a page that says how to build it, never a blank one."""

from pathlib import Path

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

# Set in the request's scope when the UI answers it (the metrics label such requests `ui`).
SERVED_BY_UI = "solvyd.web_ui"

# Vite names the files under assets/ by their content hash: they never change under one name.
IMMUTABLE = "public, max-age=31536000, immutable"

NOT_BUILT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Solvyd: web UI not built</title></head>
<body>
<h1>The Solvyd web UI is not built</h1>
<p>The API is running (<a href="/api/v1/docs">/api/v1/docs</a>), but no built UI was found
in <code>{web_dir}</code>.</p>
<p>Build it from the source tree with <code>make web</code> (or start everything with
<code>make run</code>, which builds it first), or point <code>SOLVYD_WEB_DIR</code> at a
built copy, then reload this page.</p>
</body></html>
"""


def _is_api_path(path: str) -> bool:
    # Unknown API paths keep answering the API's JSON 404, not the UI's page.
    return path == "api" or path.startswith("api/")


def _falls_back_to_index(path: str) -> bool:
    # A missing asset (an old tab asking for a file of the previous build) is a 404: HTML in
    # its place would fail later and more obscurely.
    return not _is_api_path(path) and not path.startswith("assets/")


class SinglePageApp(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or not _falls_back_to_index(path):
                raise
            response = await super().get_response("index.html", scope)
            path = "index.html"
        if path.startswith("assets/"):
            response.headers["Cache-Control"] = IMMUTABLE
        else:
            # index.html names the current assets: always ask whether it changed.
            response.headers["Cache-Control"] = "no-cache"
        return response


class UiNotBuilt:
    def __init__(self, web_dir: Path) -> None:
        self.page = NOT_BUILT_PAGE.format(web_dir=web_dir)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = HTMLResponse(self.page, status_code=503, headers={"Cache-Control": "no-cache"})
        await response(scope, receive, send)


class WebUiFallback:
    """What answers a path no route took: the API's JSON 404 under /api/, the UI elsewhere."""

    def __init__(self, ui: ASGIApp) -> None:
        self.ui = ui

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_api_path(scope["path"].lstrip("/")):
            raise HTTPException(status_code=404, detail="Not Found")
        scope[SERVED_BY_UI] = True
        await self.ui(scope, receive, send)


def install_web_ui(app: FastAPI, web_dir: Path) -> None:
    """The router's default app, not a mount: it answers only what no route matched, whatever
    order routes are added in, so a later route is never shadowed by the UI."""
    ui: ASGIApp
    if (web_dir / "index.html").is_file():
        ui = SinglePageApp(directory=web_dir)
    else:
        ui = UiNotBuilt(web_dir)
    app.router.default = WebUiFallback(ui)
