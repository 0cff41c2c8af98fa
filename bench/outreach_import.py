"""Outreach contact import: 100,000 CSV rows through POST /api/v1/campaigns/{id}/contacts/import on SQLite.

Measures the whole request (multipart parsing, validation, suppression check, bulk insert, commit),
then the same file again, where every row is an update (the upsert path). Target: under 30 s.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from tidings.app import create_app
from tidings.config import Settings
from tidings.db.base import Base
from tidings.runtime import boot
from tidings.tenancy.service import create_account

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000


def _csv(n: int) -> bytes:
    lines = ["email,first_name,last_name,company,city,country,Fav Color"]
    lines += [f"person{i}@example{i % 97}.org,First{i},Last{i},Company {i % 1000},City,US,blue" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


async def main() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp}/bench.db", secret_key="bench", data_dir=Path(tmp),
                            rate_limits={"default": "100000/minute"})
        db = boot(settings)
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        async with db.transaction() as s:
            account = await create_account(s, name="Bench", email="bench@bench.test")
        await db.dispose()
        app = create_app(settings)
        headers = {"Authorization": f"Bearer {account.api_token}"}
        body = _csv(ROWS)
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as http:
                r = await http.post("/api/v1/clients", json={"name": "Bench", "max_emails": 3}, headers=headers)
                client_id = r.json()["data"]["id"]
                r = await http.post("/api/v1/campaigns", headers=headers,
                                    json={"name": "Bench", "client_id": client_id, "timezone": "UTC"})
                url = f"/api/v1/campaigns/{r.json()['data']['id']}/contacts/import"
                files = {"file": ("contacts.csv", body, "text/csv")}
                start = time.perf_counter()
                first = await http.post(url, headers=headers, files=files)
                insert_s = time.perf_counter() - start
                start = time.perf_counter()
                second = await http.post(url, headers=headers, files=files)
                upsert_s = time.perf_counter() - start
        return {"bench": "outreach_import", "database": "sqlite", "rows": ROWS,
                "insert_seconds": round(insert_s, 2), "insert_rows_per_second": round(ROWS / insert_s),
                "upsert_seconds": round(upsert_s, 2), "upsert_rows_per_second": round(ROWS / upsert_s),
                "target_seconds": 30, "within_target": insert_s < 30 and upsert_s < 30,
                "created": first.json()["data"]["created"], "updated": second.json()["data"]["updated"]}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
