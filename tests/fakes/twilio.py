"""A tiny Twilio-compatible Messages API (Starlette under uvicorn on 127.0.0.1) for tests.

POST /2010-04-01/Accounts/{sid}/Messages.json with Basic auth and To/From/Body/StatusCallback form
fields answers 201 with a message sid, 401 for wrong credentials, 400 for numbers in `refuse`.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


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

    async def start(self) -> FakeTwilio:
        app = Starlette(routes=[Route("/2010-04-01/Accounts/{sid}/Messages.json", self._messages,
                                      methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                     lifespan="off"))
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(500):  # uvicorn offers no start event to wait on
            if self._server.started:
                break
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task

    async def __aenter__(self) -> FakeTwilio:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
