"""What the OpenAPI document promises, shared by the dialects: exact response models and error statuses.

Response models are strict and closed (`extra="forbid"`): FastAPI validates every dict a handler
returns against its model, so a key or a type that drifts from the document is a failing test, not
a silent change on the wire. `ExactRoute` serialises only the keys the handler set, so a model never
adds a key (with a null) that the document leaves out.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict

DESCRIPTIONS = {
    400: "Bad request (the dialect's error code says why)",
    401: "Missing or wrong credentials, or a caller address that is not allowed",
    402: "Not enough balance",
    403: "The caller's role does not allow this",
    404: "Not found, or another account's",
    409: "Conflicts with the current state",
    413: "Request body too large",
    422: "Invalid input",
    429: "Too many requests or failed sign-ins; see Retry-After",
}


class Out(BaseModel):
    """A response shape: exactly these keys, these JSON types."""

    model_config = ConfigDict(extra="forbid", strict=True)


def error_responses(envelope: type[BaseModel], *codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a router: each status with the dialect's error envelope."""
    return {code: {"model": envelope, "description": DESCRIPTIONS[code]} for code in codes}


def json_errors(envelope: type[BaseModel], *codes: int) -> dict[int | str, dict[str, Any]]:
    """The same errors for a route whose success is not JSON (CSV, PDF, HTML): its errors still are.

    FastAPI would document a router's error models under the route's own media type, so these
    name the envelope's component directly (registered by the dialect's JSON routes).
    """
    ref = {"$ref": f"#/components/schemas/{envelope.__name__}"}
    return {code: {"description": DESCRIPTIONS[code], "content": {"application/json": {"schema": ref}}}
            for code in codes}


def csv_response(description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {"text/csv": {"schema": {"type": "string"}}}}}


def pdf_response(description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description,
                  "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}


class ExactRoute(APIRoute):
    """A route that renders only the keys its handler returned (see the module docstring)."""

    def __init__(self, path: str, endpoint: Callable[..., Coroutine[Any, Any, Response] | Any],
                 **kwargs: Any) -> None:
        kwargs["response_model_exclude_unset"] = True
        super().__init__(path, endpoint, **kwargs)
