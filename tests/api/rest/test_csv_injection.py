"""Event reports never hand a spreadsheet a formula."""

from __future__ import annotations

import csv
import io

import httpx

from tidings.engine.runner import Runner
from tidings.tenancy.service import NewAccount

from helpers import basic


async def test_events_report_escapes_formulas(client: httpx.AsyncClient, account: NewAccount, runner: Runner) -> None:
    auth = basic(account.username, account.api_password)
    r = await client.post("/api/rest/sms", headers=auth, json={
        "to": ["34666555444"], "from": "SAMPLE", "message": "Hi {name}", "campaignName": "=HYPERLINK(\"x\")",
        "sub": [{"name": "@SUM(A1)"}]})
    assert r.status_code == 202, r.text
    await runner.run_until_idle()
    r = await client.get(f"/api/rest/sendings/{r.json()['sendingId']}/reports/events",
                         params={"showCustomFields": "1"}, headers=auth)
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows and all(row["campaignName"] == "'=HYPERLINK(\"x\")" for row in rows)
    assert all(row["name"] == "'@SUM(A1)" for row in rows)
    assert all(not value.startswith(("=", "@")) for row in rows for value in row.values())
