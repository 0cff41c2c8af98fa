"""Request bodies: the caller is authenticated before a byte is read, bodies are capped per route,
and JSON nesting is bounded; plus the /metrics token.

FastAPI reads and parses a JSON body before it resolves a route's dependencies, so without this an
anonymous client could make the server hold and parse any amount of JSON before its 401. `BodyGuard`
is an ASGI middleware: for a route whose dependencies authenticate (the `caller` dependencies of
`tidings.api.deps`), it authenticates with the route's credential style when the route first asks
for its body, and hands the subject to that dependency; it answers 413 from Content-Length without
reading, and counts the bytes of a body sent without one. JSON bodies are read here (they are
parsed whole anyway) and refused when nested deeper than TIDINGS_JSON_MAX_DEPTH; other bodies (CSV
uploads) stream to the route, capped as they go.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings.api import errors
from tidings.config import Settings
from tidings.core.errors import DomainError, NotFound, Unauthenticated

SUBJECT_KEY = "tidings.subject"  # scope key: (credential style, AuthSubject) authenticated by BodyGuard
STYLE_ATTRIBUTE = "tidings_style"  # set by deps.caller on its dependency functions
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Routes that carry files or bulk lists get TIDINGS_BODY_LIMIT_LARGE: imports, messages with
# attachments, sends to many recipients at once, bulk contacts and validations.
LARGE_BODY_ROUTES = [
    re.compile(r"^/api/v1/campaigns/[^/]+/contacts/import$"),
    re.compile(r"^/v1/email/send$"),
    re.compile(r"^/v1/omni/send$"),
    re.compile(r"^/api/rest/(?:sms|mailing|voice|voiceAudio|whatsapp|contacts|validation/emails)$"),
    re.compile(r"^/api/rest/contacts/import$"),
]


class Refused(HTTPException):
    """A DomainError raised from `receive`: FastAPI lets HTTPExceptions out of its body reading untouched,
    and the handler `install` registers renders the error in the dialect's envelope."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(status_code=error.status, detail=error.message)
        self.error = error


def _too_large(limit: int) -> DomainError:
    err = DomainError(f"The request body is larger than {limit} bytes.")
    err.status, err.code = 413, "too_large"
    return err


def _too_deep(limit: int) -> DomainError:
    return DomainError(f"The JSON body is nested more than {limit} levels deep.", nrs_code=125)


def limit_for(settings: Settings, path: str) -> int:
    """The body cap of a route: large for imports and attachment-carrying routes, small elsewhere."""
    if any(pattern.match(path) for pattern in LARGE_BODY_ROUTES):
        return settings.body_limit_large
    return settings.body_limit


def nested_too_deep(raw: bytes, limit: int) -> bool:
    """Whether a JSON document nests arrays and objects more than `limit` levels deep.

    Malformed JSON is not judged here: the route's parser reports it.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    try:
        value = json.loads(raw)
    except RecursionError:
        return True
    except ValueError:
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


_CACHED = "_tidings_style"  # where style_of keeps its answer on the route object


def style_of(route: Any) -> str | None:
    """The credential style of the first `caller` dependency of a route, if it has one."""
    if not isinstance(route, APIRoute):
        return None
    if not hasattr(route, _CACHED):
        found: str | None = None
        pending = list(route.dependant.dependencies)
        while pending and found is None:
            dependant = pending.pop(0)
            style = getattr(dependant.call, STYLE_ATTRIBUTE, None)
            found = style if isinstance(style, str) else None
            pending.extend(dependant.dependencies)
        setattr(route, _CACHED, found)
    cached: str | None = getattr(route, _CACHED)
    return cached


Authenticator = Callable[[Request, str], Awaitable[Any]]


class BodyGuard:
    """ASGI middleware: on the route's first read of its body, authenticate, then cap and bound the body.

    The first `receive` happens after routing (`scope["route"]` is the matched route) and before FastAPI
    parses the body or resolves any dependency.
    """

    def __init__(self, app: ASGIApp, authenticate: Authenticator) -> None:
        self.app = app
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        await self.app(scope, _Guarded(self, scope, receive), send)


class _Guarded:
    """The `receive` of one request: checks on the first call, then a replayed or capped body."""

    def __init__(self, guard: BodyGuard, scope: Scope, receive: Receive) -> None:
        self.guard, self.scope, self.inner = guard, scope, receive
        self.ready: Receive | None = None

    async def __call__(self) -> Message:
        if self.ready is None:
            try:
                self.ready = await self._first()
            except DomainError as exc:
                raise Refused(exc) from None
        return await self.ready()

    async def _first(self) -> Receive:
        scope = self.scope
        settings: Settings = scope["app"].state.settings
        limit = limit_for(settings, scope["path"])
        headers = Headers(scope=scope)
        style = style_of(scope.get("route"))
        if style is not None and SUBJECT_KEY not in scope:
            scope[SUBJECT_KEY] = (style, await self.guard.authenticate(Request(scope), style))
        try:
            length = int(headers["content-length"]) if "content-length" in headers else None
        except ValueError:
            length = None
        if length is not None and length > limit:
            raise _too_large(limit)
        content_type = headers.get("content-type", "").lower()
        if "json" in content_type or not content_type:  # without a type, a route may still parse JSON
            body = await _read_all(self.inner, limit)
            if nested_too_deep(body, settings.json_max_depth):
                raise _too_deep(settings.json_max_depth)
            return _replay(body, self.inner)
        return _capped(self.inner, limit)


async def _read_all(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)  # the client went away; nobody reads what follows
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # waits for http.disconnect, as Starlette expects

    return replay


def _capped(receive: Receive, limit: int) -> Receive:
    size = 0

    async def capped() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise Refused(_too_large(limit))
        return message

    return capped


def install(app: FastAPI, authenticate: Authenticator) -> None:
    """Add BodyGuard and the handler that renders its refusals in each dialect's envelope."""
    app.add_middleware(BodyGuard, authenticate=authenticate)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        return errors.render(request, exc.error)


def require_metrics_token(settings: Settings, request: Request) -> None:
    """/metrics is off (404) unless TIDINGS_METRICS_TOKEN is set, and then needs `Authorization: Bearer <token>`."""
    if not settings.metrics_token:
        raise NotFound("Not Found")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), settings.metrics_token.encode()):
        raise Unauthenticated("A valid metrics token is required.")
