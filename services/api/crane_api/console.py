"""The web console: its built assets (console/dist, made by `make up`) served at / on the API's
own port, so one URL is all a user needs. A path that names no file is the console's own (its
router takes it from index.html); a path under /api is never the console's. Nothing outside the
assets folder is ever served, whatever the path says."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, status
from fastapi.responses import FileResponse

# Only the console's own files run in the page; it talks to this origin alone.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def default_folder() -> Path:
    """console/dist beside services/ (the repository, or /app in the suite's image)."""
    return Path(__file__).resolve().parents[3] / "console" / "dist"


def asset(folder: Path, path: str) -> Path | None:
    """The file ``path`` names inside ``folder``, or None (missing, a folder, or outside it)."""
    root = folder.resolve()
    candidate = (root / path).resolve()
    if candidate.is_relative_to(root) and candidate.is_file():
        return candidate
    return None


def serve_console(app: FastAPI, folder: Path) -> None:
    index = folder / "index.html"

    @app.get("/{path:path}", include_in_schema=False)
    async def console(path: str) -> FileResponse:
        if path == "api" or path.startswith("api/"):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such route")
        found = asset(folder, path) if path else None
        if found is not None:
            # Vite names assets by their content: they never change under a name.
            cache = "public, max-age=31536000, immutable" if path.startswith("assets/") else "no-cache"
            return FileResponse(found, headers={**SECURITY_HEADERS, "Cache-Control": cache})
        return FileResponse(index, headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})
