"""A tiny WhatsApp Cloud API (Starlette under uvicorn on 127.0.0.1) for tests, in the real wire format.

POST /{version}/{phone-number-id}/messages with a Bearer token and `messaging_product: whatsapp` answers
`{"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid..."}]}`; a template must
be one of `templates` (name and language) with as many parameters as it has variables (error 132000
otherwise); numbers in `refuse` get their (status, code, message). GET /{version}/{waba-id}/message_templates
pages `templates` with `limit` and the `after` cursor. `webhook(...)` builds the signed POSTs the platform
sends to a business's webhook (messages and statuses).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fakes import local_http

VARIABLE = re.compile(r"\{\{\s*\d+\s*\}\}")


def template(name: str, body: str, *, language: str = "es", category: str = "MARKETING", status: str = "APPROVED",
             header: dict[str, Any] | None = None, buttons: list[dict[str, Any]] | None = None,
             footer: str | None = None, id_: str = "") -> dict[str, Any]:
    """A template as the template API lists it."""
    components: list[dict[str, Any]] = []
    if header:
        components.append({"type": "HEADER", **header})
    components.append({"type": "BODY", "text": body})
    if footer:
        components.append({"type": "FOOTER", "text": footer})
    if buttons:
        components.append({"type": "BUTTONS", "buttons": buttons})
    return {"name": name, "language": language, "category": category, "status": status,
            "id": id_ or str(abs(hash((name, language))) % 10**15), "components": components,
            "parameter_format": "POSITIONAL"}


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "OAuthException", "code": code,
                                   "fbtrace_id": "AbCdEf"}}, status_code=status)


@dataclass
class FakeCloudApi:
    token: str = "EAAtoken"
    app_secret: str = "appsecret"
    verify_token: str = "verify-me"
    version: str = "v21.0"
    templates: list[dict[str, Any]] = field(default_factory=list)
    refuse: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    template_requests: list[dict[str, str]] = field(default_factory=list)
    port: int = 0
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def url(self, **query: str) -> str:
        qs = {"tls": "false", "app_secret": self.app_secret, "verify_token": self.verify_token,
              "version": self.version, **query}
        return f"meta://:{self.token}@127.0.0.1:{self.port}?" + "&".join(f"{k}={v}" for k, v in qs.items())

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def _check_template(self, sent: dict[str, Any]) -> str | None:
        name = sent.get("name")
        language = (sent.get("language") or {}).get("code")
        known = next((t for t in self.templates if t["name"] == name and t["language"] == language), None)
        if known is None:
            return f"template name ({name}) does not exist in {language}"
        given = {c.get("type"): c for c in sent.get("components") or []}
        for component in known["components"]:
            kind = component["type"].lower()
            wanted = len(VARIABLE.findall(component.get("text") or ""))
            if kind in ("header", "body") and wanted:
                got = len((given.get(kind) or {}).get("parameters") or [])
                if got != wanted:
                    return f"{kind}: number of localizable_params ({got}) does not match the expected ({wanted})"
        return None

    async def _messages(self, request: Request) -> JSONResponse:
        if not self._authorised(request):
            return _error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        if request.path_params["version"] != self.version:
            return _error(400, 2500, "Unknown path components")
        body = await request.json()
        if body.get("messaging_product") != "whatsapp" or not body.get("to") or body.get("type") not in (
                "template", "text"):
            return _error(400, 100, "Invalid parameter")
        if body["to"] in self.refuse:
            status, code, message = self.refuse[body["to"]]
            return _error(status, code, message)
        if body["type"] == "template":
            problem = self._check_template(body.get("template") or {})
            if problem:
                return _error(400, 132000, f"Number of parameters does not match the expected number of params: "
                                           f"{problem}")
        elif not (body.get("text") or {}).get("body"):
            return _error(400, 100, "Invalid parameter: text.body is required")
        wamid = f"wamid.HBgL{next(self._ids):020d}"
        self.received.append({**body, "phone_number_id": request.path_params["phone_number_id"], "id": wamid})
        return JSONResponse({"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                             "messages": [{"id": wamid}]})

    async def _templates(self, request: Request) -> JSONResponse:
        if not self._authorised(request):
            return _error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        self.template_requests.append(dict(request.query_params))
        limit = int(request.query_params.get("limit") or 25)
        start = int(request.query_params.get("after") or 0)
        page = self.templates[start:start + limit]
        paging: dict[str, Any] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
        if start + limit < len(self.templates):
            paging["next"] = (f"https://graph.facebook.com/{self.version}/{request.path_params['waba_id']}"
                              f"/message_templates?limit={limit}&after={start + limit}")
        return JSONResponse({"data": page, "paging": paging})

    def sign(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()

    def webhook(self, phone_number_id: str, *, messages: list[dict[str, Any]] | None = None,
                statuses: list[dict[str, Any]] | None = None, display: str = "34666777555",
                ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one webhook POST, signed with the app secret."""
        value: dict[str, Any] = {"messaging_product": "whatsapp",
                                 "metadata": {"display_phone_number": display, "phone_number_id": phone_number_id}}
        if messages:
            value["contacts"] = [{"profile": {"name": "Ana"}, "wa_id": m["from"]} for m in messages]
            value["messages"] = messages
        if statuses:
            value["statuses"] = statuses
        payload = {"object": "whatsapp_business_account",
                   "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}]}
        body = json.dumps(payload).encode()
        return body, {"Content-Type": "application/json", "X-Hub-Signature-256": self.sign(body)}

    @staticmethod
    def text_message(user: str, text: str, wamid: str) -> dict[str, Any]:
        return {"from": user, "id": wamid, "timestamp": "1700000000", "type": "text", "text": {"body": text}}

    @staticmethod
    def button_message(user: str, text: str, payload: str, wamid: str, context_id: str) -> dict[str, Any]:
        return {"from": user, "id": wamid, "timestamp": "1700000000", "type": "button",
                "context": {"from": "34666777555", "id": context_id}, "button": {"payload": payload, "text": text}}

    @staticmethod
    def status(wamid: str, status: str, user: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {"id": wamid, "status": status, "timestamp": "1700000000", "recipient_id": user}
        if errors:
            item["errors"] = errors
        return item

    async def start(self) -> FakeCloudApi:
        app = Starlette(routes=[
            Route("/{version}/{phone_number_id}/messages", self._messages, methods=["POST"]),
            Route("/{version}/{waba_id}/message_templates", self._templates, methods=["GET"]),
        ])
        self._server, self._task, self.port = await local_http.serve(app, self.port)
        return self

    async def stop(self) -> None:
        await local_http.shutdown(self._server, self._task)

    async def __aenter__(self) -> FakeCloudApi:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
