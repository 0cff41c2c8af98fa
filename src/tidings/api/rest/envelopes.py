"""The messaging dialect's error envelope as an OpenAPI model, and the `responses=` of the routes that use it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tidings.api.errors import NRS_DESCRIPTION

_STATUS_TEXT = {400: "Bad request", 401: "Username or password unknown, or IP address not allowed",
                402: "Not enough credits", 404: "Resource not found", 413: "Request body too large",
                422: "Input validation error", 429: "Too many requests"}


class NrsErrorDetail(BaseModel):
    code: int
    description: str
    fields: dict[str, list[str]] | None = None


class NrsError(BaseModel):
    """`{"error": {"code", "description"}}` with the document's code (and `fields` on a 422)."""

    error: NrsErrorDetail


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for these HTTP statuses, each with the dialect's error envelope."""
    return {status: {"model": NrsError, "description": _STATUS_TEXT.get(status) or NRS_DESCRIPTION.get(status, "")}
            for status in statuses}
