"""Error envelopes: each dialect renders the same domain errors its own documented way.

The dialect is chosen by path prefix, so unknown routes and malformed bodies under a dialect's
prefix get that dialect's envelope too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tidings.core.errors import DomainError, RateLimited, ValidationFailed

# 360nrs Errors table: the HTTP status of each documented code.
NRS_STATUS = {
    101: 500, 102: 400, 103: 401, 104: 400, 105: 400, 106: 400, 107: 400, 108: 400, 109: 400,
    110: 400, 111: 402, 112: 401, 113: 400, 114: 400, 115: 400, 116: 400, 117: 400, 118: 401,
    119: 400, 120: 400, 121: 400, 122: 500, 123: 500, 125: 400, 126: 400, 140: 400, 404: 404,
    422: 422,
}
NRS_DESCRIPTION = {
    101: "Internal Database error", 102: "No valid recipients", 103: "Username or password unknown",
    104: "Text message missing", 105: "Text message too long", 106: "Sender missing",
    107: "Sender too long", 108: "No valid Datetime for send", 109: "Notification URL incorrect",
    110: "Exceeded maximum parts allowed or incorrect number of parts", 111: "Not enough credits",
    112: "IP address not allowed", 113: "Invalid coding", 114: "Invalid subject",
    115: "Sender is not verified", 116: "Invalid replyTo", 117: "ReplyTo is not verified",
    118: "Email blocked for exceeding the hard-bounced limit allowed", 119: "Invalid expiration date",
    120: "Invalid GUID", 121: "Invalid scheduled date", 122: "Update error", 123: "Delete error",
    125: "Invalid JSON", 126: "Empty campaign name", 140: "Template missing", 404: "Resource not found",
    422: "Input validation error",
}
_NRS_BY_DOMAIN_CODE = {"unauthenticated": 103, "ip_not_allowed": 112, "not_found": 404,
                       "insufficient_balance": 111, "validation": 422}


def _outreach(status: int, message: str, fields: dict[str, list[str]] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if fields:
        body["errors"] = fields
    return body


def outreach_error(exc: DomainError) -> JSONResponse:
    messages = {401: "Unauthenticated.", 403: "This action is unauthorized.", 429: "Too Many Attempts."}
    message = exc.message if exc.status in (404, 422, 400, 409) else messages.get(exc.status, exc.message)
    if exc.status == 422 and exc.fields and not exc.message:
        message = next(iter(exc.fields.values()))[0]
    return JSONResponse(_outreach(exc.status, message, exc.fields or None), status_code=exc.status)


def nrs_error(exc: DomainError) -> JSONResponse:
    code = int(exc.extra.get("nrs_code") or _NRS_BY_DOMAIN_CODE.get(exc.code, exc.status))
    status = NRS_STATUS.get(code, exc.status)
    description = exc.extra.get("description") or NRS_DESCRIPTION.get(code) or exc.message
    body: dict[str, Any] = {"error": {"code": code, "description": description}}
    if exc.fields and code == 422:
        body["error"]["fields"] = exc.fields
    return JSONResponse(body, status_code=status)


def wavy_error(exc: DomainError) -> JSONResponse:
    body: dict[str, Any] = {"errorCode": exc.status, "errorMessage": exc.message}
    if exc.fields:
        body["errors"] = exc.fields
    return JSONResponse(body, status_code=exc.status)


def plain_error(exc: DomainError) -> JSONResponse:
    return JSONResponse({"detail": exc.message}, status_code=exc.status)


DIALECTS: Sequence[tuple[str, Callable[[DomainError], JSONResponse]]] = (
    ("/api/v1", outreach_error),
    ("/api/rest", nrs_error),
    ("/v1/email", wavy_error),
    ("/v1/omni", wavy_error),
)


def renderer_for(path: str) -> Callable[[DomainError], JSONResponse]:
    for prefix, render in DIALECTS:
        if path == prefix or path.startswith(prefix + "/"):
            return render
    return plain_error


def render(request: Request, exc: DomainError) -> JSONResponse:
    response = renderer_for(request.url.path)(exc)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


_UNION_TAG = re.compile(r"^(str|int|float|bool|dict|list|none|[A-Z][a-z0-9]+[A-Z]\w*)$|[\[(]")


def _field_name(loc: Sequence[Any]) -> str:
    """`contacts.0.phone`, without pydantic's union-member tags (`.str`, `.int`, `.list[Model]`, `.Model`)."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")
             and not (isinstance(p, str) and _UNION_TAG.search(p))]
    return ".".join(parts) or "body"


def validation_to_domain(exc: RequestValidationError) -> DomainError:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return DomainError("The request body is not valid JSON.", nrs_code=125)
    fields: dict[str, list[str]] = {}
    for err in errors:
        name = _field_name(err.get("loc", ()))
        msg = err.get("msg", "is invalid")
        if err.get("type") == "missing":
            msg = f"The {name} field is required."
        if msg not in fields.get(name, []):
            fields.setdefault(name, []).append(msg)
    first = next(iter(fields.values()))[0] if fields else "The given data was invalid."
    extra = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return ValidationFailed(first + extra, fields=fields)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into its dialect's envelope."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return render(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return render(request, validation_to_domain(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = {404: "Resource not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
        err = DomainError(message)
        err.status = exc.status_code
        if exc.status_code == 404:
            err.code = "not_found"
        return render(request, err)
