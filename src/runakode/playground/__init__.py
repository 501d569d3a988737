"""The web playground: one page at `/` and its assets under `/playground/`, served by the API
process itself. Everything the browser loads comes from here (the editor bundle is built by
`make setup` from the npm registry, scripts/build-playground.sh); runs go over the native
WebSocket, /api/ws, with the API key the page keeps in the browser."""

import tomllib
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

PLAYGROUND_PREFIX = "/playground"
STATIC_DIR = Path(str(resources.files(__package__) / "static"))
# Each language's hello world (src/runakode/playground/hello.toml): the page's first program
# for a language, and one of the programs the per-language tests run.
HELLO_WORLD: dict[str, str] = {
    language: str(example["source"])
    for language, example in tomllib.loads(
        (resources.files(__package__) / "hello.toml").read_text()
    ).items()
}
# The page is the same for everyone; assets may be kept briefly, never stale after an upgrade.
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    # Nothing from elsewhere: scripts, styles and connections stay on this origin.
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def mount_playground(app: FastAPI) -> None:
    """The page at `/`, its examples and assets under /playground; none of them in the API's
    description (they are not API)."""

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)

    @app.get(f"{PLAYGROUND_PREFIX}/hello.json", include_in_schema=False)
    async def hello_world() -> JSONResponse:
        return JSONResponse(HELLO_WORLD, headers={"Cache-Control": "no-cache"})

    app.mount(PLAYGROUND_PREFIX, StaticFiles(directory=STATIC_DIR), name="playground")
