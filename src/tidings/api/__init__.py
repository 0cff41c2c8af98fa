"""HTTP dialects and public routes."""

from __future__ import annotations

from fastapi import APIRouter


def extra_routers() -> list[APIRouter]:
    """Public and inbound routes (tracking, unsubscribe, provider callbacks)."""
    from tidings.api import inbound, public

    return [r for r in (getattr(public, "router", None), getattr(inbound, "router", None)) if r is not None]
