"""Verified senders: the API that registers them, the mailed verification link, and the operator CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tidings.channels.registry import build_provider
from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.engine.runner import Runner
from tidings.messaging import senders
from tidings.tenancy.service import NewAccount

from helpers import basic
from smtp_sink import Received, smtp_sink

URL = "/api/rest/senders"


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


def _link(received: Received) -> str:
    text = received.message.get_body(("plain",)).get_content()
    found = re.search(r"http://tidings\.test(/senders/verify/[A-Za-z0-9_.\-]+)", text)
    assert found, text
    return found.group(1)


async def test_register_and_verify_by_the_mailed_link(app: Any, client: httpx.AsyncClient, auth: dict[str, str],
                                                      account: NewAccount, db: Database, runner: Runner) -> None:
    with smtp_sink() as sink:
        app.state.providers.set("email", build_provider("email", sink.url()))
        r = await client.post(URL, json={"email": "News@Acme.test", "name": "News"}, headers=auth)
        assert r.status_code == 201, r.text
        data = r.json()["data"]
        assert data["email"] == "news@acme.test" and data["verified"] is False and data["verifiedAt"] is None
        await runner.run_until_idle()
    [mail] = sink.received
    assert mail.recipients == ["news@acme.test"] and mail.sender == "no-reply@tidings.test"
    assert "List-Unsubscribe" not in mail.message and "/t/o/" not in mail.data.decode()
    link = _link(mail)
    async with db.sessions() as s:
        assert not await senders.is_verified(s, account.account_id, "news@acme.test")

    page = await client.get(link)
    assert page.status_code == 200 and "news@acme.test" in page.text
    async with db.sessions() as s:
        assert await senders.is_verified(s, account.account_id, "NEWS@acme.test")
    assert (await client.get(link)).status_code == 404, "a link works once"
    r = await client.get(f"{URL}/{data['id']}", headers=auth)
    assert r.json()["data"]["verified"] is True and r.json()["data"]["verifiedAt"].endswith("+00:00")

    r = await client.post("/api/rest/mailing", headers=auth, json={
        "to": ["bob@example.test"], "fromEmail": "news@acme.test", "replyTo": "news@acme.test", "subject": "S",
        "body": "<p>hi</p>"})
    assert r.status_code == 202, "a verified sender can send"
    r = await client.post(URL, json={"email": "news@acme.test"}, headers=auth)
    assert r.status_code == 200 and r.json()["data"]["verified"] is True


async def test_links_expire_and_can_be_sent_again(app: Any, client: httpx.AsyncClient, auth: dict[str, str],
                                                  runner: Runner, clock: ManualClock) -> None:
    with smtp_sink() as sink:
        app.state.providers.set("email", build_provider("email", sink.url()))
        await client.post(URL, json={"email": "late@acme.test"}, headers=auth)
        await runner.run_until_idle()
        old = _link(sink.received[0])
        clock.advance(timedelta(hours=senders.VERIFY_LINK_HOURS, seconds=1))
        assert (await client.get(old)).status_code == 404, "expired"
        r = await client.post(URL, json={"email": "late@acme.test"}, headers=auth)
        assert r.status_code == 200 and r.json()["data"]["verified"] is False
        await runner.run_until_idle()
        new = _link(sink.received[1])
    assert new != old
    forged = new.rsplit(".", 1)[0].replace(new.split("/")[-1].split(".")[0], "9999999999") + "." + \
        new.rsplit(".", 1)[1]
    assert (await client.get(forged)).status_code == 404, "the expiry cannot be extended"
    assert (await client.get(new)).status_code == 200
    assert (await client.get("/senders/verify/nonsense")).status_code == 404


async def test_list_show_delete_and_errors(client: httpx.AsyncClient, auth: dict[str, str],
                                           make_account: Any) -> None:
    ids = [(await client.post(URL, json={"email": f"s{i}@acme.test"}, headers=auth)).json()["data"]["id"]
           for i in range(2)]
    r = await client.get(URL, headers=auth)
    assert [s["email"] for s in r.json()["data"]] == ["s0@acme.test", "s1@acme.test"]
    assert r.json()["meta"]["pagination"]["total"] == 2
    other: NewAccount = await make_account("Other", "owner@other.test")
    other_auth = basic(other.username, other.api_password)
    assert (await client.get(f"{URL}/{ids[0]}", headers=other_auth)).status_code == 404
    assert (await client.request("DELETE", f"{URL}/{ids[0]}", headers=other_auth)).status_code == 404
    assert (await client.get(URL, headers=other_auth)).json()["data"] == []
    assert (await client.request("DELETE", f"{URL}/{ids[0]}", headers=auth)).status_code == 204
    assert (await client.get(f"{URL}/{ids[0]}", headers=auth)).status_code == 404
    assert (await client.get(f"{URL}/abc", headers=auth)).status_code == 404
    for body in ({}, {"email": "nope"}, {"email": "a@acme.test", "name": "x" * 201}):
        r = await client.post(URL, json=body, headers=auth)
        assert r.status_code == 422 and r.json()["error"]["code"] == 422, body
    assert (await client.get(URL)).status_code == 401


def _tidings(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIDINGS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
           "TIDINGS_DATA_DIR": str(tmp_path)}
    env.pop("TIDINGS_SECRET_KEY", None)
    return subprocess.run([sys.executable, "-m", "tidings.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_cli_sender_add(tmp_path: Path) -> None:
    created = json.loads(_tidings(tmp_path, "account", "create", "--name", "Acme", "--email", "owner@acme.test",
                                  "--json").stdout)
    account = str(created["account_id"])
    out = _tidings(tmp_path, "sender", "add", "--account", account, "Info@Acme.test", "--name", "Info")
    assert out.returncode == 0, out.stderr
    assert "info@acme.test" in out.stdout
    assert _tidings(tmp_path, "sender", "add", "--account", account, "info@acme.test").returncode == 0, "idempotent"
    listed = json.loads(_tidings(tmp_path, "sender", "list", "--account", account, "--json").stdout)
    assert listed == [{"email": "info@acme.test", "name": "Info", "verified": True}]
    bad = _tidings(tmp_path, "sender", "add", "--account", account, "not-an-email")
    assert bad.returncode == 2 and "valid email" in bad.stderr and "Traceback" not in bad.stderr
    missing = _tidings(tmp_path, "sender", "add", "--account", "999", "a@acme.test")
    assert missing.returncode == 2 and "not found" in missing.stderr
