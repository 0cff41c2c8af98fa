"""The dashboard: server-rendered pages (Jinja2 + htmx) over the same services as the APIs."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from tidings.dashboard import (
    audience,
    auth,
    campaigns,
    channels,
    clients,
    home,
    inbox,
    mailboxes,
    messaging,
    send,
    settings,
    suppressions,
)
from tidings.dashboard.web import HERE


def install(app: FastAPI) -> None:
    """Mount the pages at / and the vendored assets at /static/dashboard."""
    app.mount("/static/dashboard", StaticFiles(directory=str(HERE / "static")), name="dashboard-static")
    for module in (auth, home, settings, clients, mailboxes, campaigns,
                   inbox, suppressions, messaging, send, audience, channels):
        app.include_router(module.router)
