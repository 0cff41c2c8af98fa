"""POST /api/rest/sms acceptance: recipients accepted per second with 1,000 recipients per request.

The app runs in-process (httpx's ASGI transport: no sockets, but routing, Basic auth, validation,
phone normalisation, parts counting and the inserts are all real), without the engine, so only
acceptance is measured. Two payloads: a plain text, and a campaign with `sub` variables and a
filter per recipient. Baseline, same run and database: inserting the same number of message rows
with one executemany and no validation (repeated until it has run at least 2 s), so `ratio` shows
what acceptance costs over a bare write.
SQLite always; PostgreSQL too when one can be started (see bench/common.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from common import for_at_least, postgres  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from tidings.app import create_app  # noqa: E402
from tidings.config import Settings  # noqa: E402
from tidings.core import clock  # noqa: E402
from tidings.db.base import Base  # noqa: E402
from tidings.db.models import Message  # noqa: E402
from tidings.runtime import boot  # noqa: E402
from tidings.tenancy.service import create_account  # noqa: E402

RECIPIENTS = 1000
REQUESTS = 10


def _numbers(offset: int) -> list[str]:
    return [f"34{600000000 + offset * RECIPIENTS + i}" for i in range(RECIPIENTS)]


def _payloads(i: int) -> dict[str, dict[str, Any]]:
    to = _numbers(i)
    return {
        "plain": {"to": to, "from": "TIDINGS", "message": "Your code is ready. Reply STOP to opt out."},
        "sub_campaign": {"to": to, "from": "TIDINGS", "message": "Hi {name|capitalize}, your order {order} is ready",
                         "campaignName": "Bench", "sub": [{"name": f"client {n}", "order": n} for n in range(len(to))]},
    }


async def _reset(settings: Settings) -> None:
    db = boot(settings)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    await db.dispose()


async def _accept(settings: Settings, kind: str) -> dict[str, float]:
    await _reset(settings)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with app.state.db.transaction() as s:
            account = await create_account(s, name="Bench", email="bench@bench.test")
        auth = base64.b64encode(f"{account.username}:{account.api_password}".encode()).decode()
        headers = {"Authorization": f"Basic {auth}"}
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
            await client.post("/api/rest/sms", json=_payloads(REQUESTS)[kind], headers=headers)  # warm-up
            accepted = 0
            started = time.perf_counter()
            for i in range(REQUESTS):
                r = await client.post("/api/rest/sms", json=_payloads(i)[kind], headers=headers)
                r.raise_for_status()
                accepted += sum(1 for x in r.json()["result"] if x["accepted"])
            elapsed = time.perf_counter() - started
    return {"recipients": accepted, "seconds": round(elapsed, 3), "per_second": round(accepted / elapsed, 1)}


async def _bare(settings: Settings) -> dict[str, float]:
    await _reset(settings)
    db = boot(settings)
    async with db.transaction() as s:
        account = await create_account(s, name="Bench", email="bench@bench.test")
    now = clock.now()

    async def one_round() -> tuple[int, float]:
        started = time.perf_counter()
        for i in range(REQUESTS):
            async with db.transaction() as s:
                await s.execute(insert(Message), [
                    {"account_id": account.account_id, "channel": "sms", "direction": "out", "status": "queued",
                     "sender": "TIDINGS", "recipient": n, "body": "Your code is ready.", "due_at": now, "parts": 1,
                     "cost": 0, "attempts": 0, "extra": {}, "created_at": now} for n in _numbers(i)])
        return REQUESTS * RECIPIENTS, time.perf_counter() - started

    result = await for_at_least(one_round)
    await db.dispose()
    return {"recipients": result["messages"], "seconds": result["seconds"], "per_second": result["per_second"],
            "rounds": result["rounds"]}


async def _backend(url: str, workdir: Path) -> dict[str, Any]:
    settings = Settings(database_url=url, secret_key="bench", data_dir=workdir, public_url="http://bench",
                        rate_limits={"rest": "100000/minute"})
    out: dict[str, Any] = {kind: await _accept(settings, kind) for kind in ("plain", "sub_campaign")}
    out["bare_insert"] = await _bare(settings)
    out["ratio"] = round(out["plain"]["per_second"] / out["bare_insert"]["per_second"], 3)
    return out


async def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        result: dict[str, Any] = {"recipients_per_request": RECIPIENTS, "requests": REQUESTS}
        result["sqlite"] = await _backend(f"sqlite+aiosqlite:///{workdir / 'bench.db'}", workdir)
        with postgres() as url:
            if url:
                db = boot(Settings(database_url=url, secret_key="bench", data_dir=workdir))
                async with db.engine.begin() as conn:
                    await conn.execute(text("DROP SCHEMA public CASCADE"))
                    await conn.execute(text("CREATE SCHEMA public"))
                await db.dispose()
                result["postgresql"] = await _backend(url, workdir)
            else:
                result["postgresql"] = "skipped: no PostgreSQL available"
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
