"""Server-rendered public pages (forms, notices) with Jinja2; autoescaped, no JavaScript needed."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

# Our own pages: never cached (they are per recipient), never framed (a framed form could be clicked blind).
NO_STORE = {"Cache-Control": "no-store, private", "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


@lru_cache(maxsize=1)
def environment() -> Environment:
    folder = Path(__file__).parent / "templates"
    return Environment(loader=FileSystemLoader(folder), autoescape=select_autoescape(default=True),
                       trim_blocks=True, lstrip_blocks=True)


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(render(name, **context), status_code=status, headers=NO_STORE)


def notice(title: str, text: str, status: int = 200) -> HTMLResponse:
    """A short page that says what happened (link not valid, thank you, already answered)."""
    return page("notice.html", status, title=title, text=text)
