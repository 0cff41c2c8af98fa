"""The messaging dialect's error envelope as an OpenAPI model, and the `responses=` of the routes that use it."""

from __future__ import annotations

from typing import Any

from tidings.api.errors import NRS_DESCRIPTION
from tidings.api.rest.schemas import NrsError

_STATUS_TEXT = {400: "Bad request", 401: "Username or password unknown, or IP address not allowed",
                402: "Not enough credits", 404: "Resource not found", 413: "Request body too large",
                422: "Input validation error", 429: "Too many requests"}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for these HTTP statuses, each with the dialect's error envelope."""
    return {status: {"model": NrsError, "description": _STATUS_TEXT.get(status) or NRS_DESCRIPTION.get(status, "")}
            for status in statuses}
