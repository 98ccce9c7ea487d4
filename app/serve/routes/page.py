"""The web page at ``/`` and its static files (strict Content-Security-Policy), and ``/docs``.

``/docs`` is FastAPI's Swagger UI with its script, style and icon served from the
``fastapi-offline`` package's copy, so that page too needs no network.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

DOCS_ASSETS = "/docs-assets/"
DOCS_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")

router = APIRouter(include_in_schema=False)


@router.get("/")
def page() -> FileResponse:
    """The web app."""
    return FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)


@router.get("/static/{name}")
def asset(name: str) -> FileResponse:
    """One of the page's files (a flat folder: no subpaths, nothing outside it)."""
    path = STATIC_DIR / name
    if "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
        raise HTTPException(404, f"no file {name[:60]!r} in the page's files")
    return FileResponse(path, headers=PAGE_HEADERS)


@router.get("/docs")
def api_docs() -> HTMLResponse:
    """The API's docs page (Swagger UI over ``/openapi.json``), every asset served here."""
    from fastapi.openapi.docs import get_swagger_ui_html

    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="ragkit API",
        swagger_js_url=DOCS_ASSETS + "swagger-ui-bundle.js",
        swagger_css_url=DOCS_ASSETS + "swagger-ui.css",
        swagger_favicon_url=DOCS_ASSETS + "favicon.png",
        oauth2_redirect_url=None,
        swagger_ui_parameters={"validatorUrl": None},  # no badge from validator.swagger.io
    )


@router.get(DOCS_ASSETS + "{name}")
def docs_asset(name: str) -> FileResponse:
    """One of Swagger UI's files, from the ``fastapi-offline`` package."""
    if name not in DOCS_FILES:
        raise HTTPException(404, f"no file {name[:60]!r} in the docs page's files")
    return FileResponse(_swagger_dir() / name, headers={"Cache-Control": "max-age=86400"})


def _swagger_dir() -> Path:
    from importlib.resources import files

    return Path(str(files("fastapi_offline") / "static"))
