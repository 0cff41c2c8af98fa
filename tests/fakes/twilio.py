"""A tiny Twilio-compatible Messages and Calls API (Starlette under uvicorn on 127.0.0.1) for tests.

POST /2010-04-01/Accounts/{sid}/Messages.json with Basic auth and To/From/Body/StatusCallback form
fields answers 201 with a message sid, 401 for wrong credentials, 400 for numbers in `refuse`.
POST .../Calls.json (To, From, Twiml, StatusCallback, StatusCallbackEvent, MachineDetection) answers 201
with a call sid; POST .../Calls/{CallSid}.json with Status=completed ends a call (a hang-up).
Status callbacks are posted as Twilio posts them: form fields signed with X-Twilio-Signature (HMAC-SHA1
of the callback URL and the sorted fields, keyed by the auth token), through the client a test gives.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fakes import local_http


@dataclass
class FakeTwilio:
    sid: str = "ACtest"
    token: str = "authtoken"
    refuse: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    received: list[dict[str, str]] = field(default_factory=list)
    port: int = 0
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    calls: list[dict[str, Any]] = field(default_factory=list)
    hangups: list[str] = field(default_factory=list)
    # Outcome of each call to a number, in turn: answered, no-answer, busy, failed, machine (default answered).
    call_outcomes: dict[str, list[str]] = field(default_factory=dict)
    _played: set[str] = field(default_factory=set)

    def url(self, scheme: str = "twilio", **query: str) -> str:
        qs = "&".join(f"{k}={v}" for k, v in {"tls": "false", **query}.items()) if scheme == "twilio" else ""
        return f"{scheme}://{self.sid}:{self.token}@127.0.0.1:{self.port}" + (f"?{qs}" if qs else "")

    async def _messages(self, request: Request) -> JSONResponse:
        expected = "Basic " + base64.b64encode(f"{self.sid}:{self.token}".encode()).decode()
        if request.headers.get("authorization") != expected or request.path_params["sid"] != self.sid:
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, status_code=401)
        form = {k: str(v) for k, v in (await request.form()).items()}
        if form.get("To") in self.refuse:
            status, code, message = self.refuse[form["To"]]
            return JSONResponse({"code": code, "message": message, "status": status}, status_code=status)
        sid = f"SM{next(self._ids):032x}"
        self.received.append({**form, "sid": sid})
        return JSONResponse({"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From"),
                             "body": form.get("Body"), "account_sid": self.sid}, status_code=201)

    def _authorized(self, request: Request) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.sid}:{self.token}".encode()).decode()
        return request.headers.get("authorization") == expected and request.path_params["sid"] == self.sid

    async def _calls(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, status_code=401)
        raw = await request.form()
        form: dict[str, Any] = {k: str(v) for k, v in raw.items()}
        form["StatusCallbackEvent"] = [str(v) for v in raw.getlist("StatusCallbackEvent")]
        if form.get("To") in self.refuse:
            status, code, message = self.refuse[form["To"]]
            return JSONResponse({"code": code, "message": message, "status": status}, status_code=status)
        if not form.get("Twiml") or not form.get("From"):
            return JSONResponse({"code": 21205, "message": "Url or Twiml is required", "status": 400}, status_code=400)
        sid = f"CA{next(self._ids):032x}"
        self.calls.append({**form, "sid": sid})
        return JSONResponse({"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From"),
                             "account_sid": self.sid, "api_version": "2010-04-01"}, status_code=201)

    async def _call_update(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, status_code=401)
        form = {k: str(v) for k, v in (await request.form()).items()}
        call_sid = request.path_params["call_sid"]
        if not any(c["sid"] == call_sid for c in self.calls):
            return JSONResponse({"code": 20404, "message": "Not found", "status": 404}, status_code=404)
        if form.get("Status") == "completed":
            self.hangups.append(call_sid)
        return JSONResponse({"sid": call_sid, "status": form.get("Status") or "in-progress"})

    def sign(self, url: str, fields: dict[str, str]) -> str:
        """X-Twilio-Signature as Twilio computes it."""
        data = url + "".join(k + fields[k] for k in sorted(fields))
        return base64.b64encode(hmac.new(self.token.encode(), data.encode(), hashlib.sha1).digest()).decode()

    async def post_signed(self, client: httpx.AsyncClient, url: str, fields: dict[str, str]) -> httpx.Response:
        """POST a callback to `url` through `client` (the app under test), signed."""
        return await client.post(url, data=fields, headers={"X-Twilio-Signature": self.sign(url, fields)})

    def _call_fields(self, call: dict[str, Any], status: str, number: int, **more: str) -> dict[str, str]:
        return {"AccountSid": self.sid, "ApiVersion": "2010-04-01", "CallSid": call["sid"], "CallStatus": status,
                "Called": call["To"], "Caller": call["From"], "To": call["To"], "From": call["From"],
                "Direction": "outbound-api", "CallbackSource": "call-progress-events",
                "SequenceNumber": str(number), "Timestamp": "Tue, 01 Dec 2026 16:00:00 +0000", **more}

    async def play(self, client: httpx.AsyncClient, duration: int = 42) -> list[int]:
        """Post the status callbacks of every call not played yet, as its outcome goes; the HTTP statuses answered."""
        answers: list[int] = []
        for call in list(self.calls):
            if call["sid"] in self._played:
                continue
            self._played.add(call["sid"])
            queue = self.call_outcomes.get(call["To"]) or []
            outcome = queue.pop(0) if queue else "answered"
            url, wanted = call.get("StatusCallback"), call.get("StatusCallbackEvent") or []
            if not url:
                continue
            amd = call.get("MachineDetection") == "Enable"
            steps: list[tuple[str, str, dict[str, str]]] = [("initiated", "initiated", {})]
            if outcome in ("answered", "no-answer", "machine"):
                steps.append(("ringing", "ringing", {}))
            if outcome == "answered":
                steps += [("answered", "in-progress", {}),
                          ("completed", "completed", {"CallDuration": str(duration), "Duration": "1"})]
            elif outcome == "machine":
                by = {"AnsweredBy": "machine_start"} if amd else {}
                steps.append(("answered", "in-progress", by))
                seconds = "4" if amd else str(duration)
                steps.append(("completed", "completed", {"CallDuration": seconds, "Duration": "1", **by}))
            else:
                steps.append(("completed", outcome, {"CallDuration": "0", "Duration": "0"}))
            for number, (event, status, more) in enumerate(steps):
                if event in wanted:
                    answers.append((await self.post_signed(client, url, self._call_fields(call, status, number,
                                                                                            **more))).status_code)
        return answers

    async def start(self) -> FakeTwilio:
        app = Starlette(routes=[Route("/2010-04-01/Accounts/{sid}/Messages.json", self._messages, methods=["POST"]),
                                Route("/2010-04-01/Accounts/{sid}/Calls.json", self._calls, methods=["POST"]),
                                Route("/2010-04-01/Accounts/{sid}/Calls/{call_sid}.json", self._call_update,
                                      methods=["POST"])])
        self._server, self._task, self.port = await local_http.serve(app, self.port)
        return self

    async def stop(self) -> None:
        await local_http.shutdown(self._server, self._task)

    async def __aenter__(self) -> FakeTwilio:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
