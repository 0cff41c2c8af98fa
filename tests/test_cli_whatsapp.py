"""`tidings whatsapp ...` as an operator runs it: senders, templates by hand, and the sync against the fake."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from fakes.whatsapp import FakeCloudApi, template


def _tidings(tmp_path: Path, *args: str, whatsapp_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIDINGS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
           "TIDINGS_DATA_DIR": str(tmp_path), "TIDINGS_OUTBOUND_ALLOW_PRIVATE": "true"}
    env.pop("TIDINGS_SECRET_KEY", None)
    if whatsapp_url:
        env["TIDINGS_WHATSAPP_URL"] = whatsapp_url
    return subprocess.run([sys.executable, "-m", "tidings.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def _account(tmp_path: Path) -> str:
    out = _tidings(tmp_path, "account", "create", "--name", "Acme", "--email", "owner@acme.test", "--json")
    return str(json.loads(out.stdout)["account_id"])


def test_senders_and_templates_by_hand(tmp_path: Path) -> None:
    account = _account(tmp_path)
    out = _tidings(tmp_path, "whatsapp", "sender-add", "+34 666 777 555", "--account", account,
                   "--phone-number-id", "1234567890", "--waba-id", "555")
    assert out.returncode == 0 and "34666777555" in out.stdout, out.stderr
    bad = _tidings(tmp_path, "whatsapp", "sender-add", "12", "--account", account, "--phone-number-id", "1")
    assert bad.returncode == 2 and "not a valid" in bad.stderr and "Traceback" not in bad.stderr
    senders = json.loads(_tidings(tmp_path, "whatsapp", "senders", "--account", account, "--json").stdout)
    assert senders == [{"number": "34666777555", "phoneNumberId": "1234567890", "wabaId": "555", "name": ""}]
    out = _tidings(tmp_path, "whatsapp", "template-add", "--account", account, "--name", "welcome",
                   "--header", "Hola {{1}}", "--body", "Pedido {{1}} el {{2}}", "--button", "QUICK_REPLY:Sí",
                   "--button", "URL:Ver:https://shop.test/{{1}}", "--json")
    assert out.returncode == 0, out.stderr
    added = json.loads(out.stdout)
    assert added["templateId"] > 0 and added["status"] == "APPROVED"
    assert (added["headerFields"], added["bodyFields"], added["callToActionFields"], added["quickReplies"]) == (
        1, 2, 1, 1)
    listed = json.loads(_tidings(tmp_path, "whatsapp", "templates", "--account", account, "--json").stdout)
    assert [t["templateId"] for t in listed] == [added["templateId"]]
    bad = _tidings(tmp_path, "whatsapp", "template-add", "--account", account, "--name", "x", "--body", "y",
                   "--button", "CALL:Now")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    unsynced = _tidings(tmp_path, "whatsapp", "sync-templates", "--account", account)
    assert unsynced.returncode == 2 and "meta://" in unsynced.stderr


def test_sync_reads_the_providers_templates(tmp_path: Path) -> None:
    account = _account(tmp_path)
    _tidings(tmp_path, "whatsapp", "sender-add", "34666777555", "--account", account, "--phone-number-id", "1",
             "--waba-id", "555")

    async def run() -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
        async with FakeCloudApi(templates=[template("a", "x {{1}}"), template("b", "y", status="REJECTED")]) as cloud:
            good = await asyncio.to_thread(_tidings, tmp_path, "whatsapp", "sync-templates", "--account", account,
                                           whatsapp_url=cloud.url())
            wrong = await asyncio.to_thread(_tidings, tmp_path, "whatsapp", "sync-templates", "--account", account,
                                            whatsapp_url=cloud.url().replace(cloud.token, "nope"))
        return good, wrong

    good, wrong = asyncio.run(run())
    assert good.returncode == 0 and "2 new" in good.stdout, good.stderr
    assert wrong.returncode == 1 and "401" in wrong.stderr and "nope" not in wrong.stderr
    listed = json.loads(_tidings(tmp_path, "whatsapp", "templates", "--account", account, "--json").stdout)
    assert {(t["name"], t["status"], t["bodyFields"]) for t in listed} == {("a", "APPROVED", 1), ("b", "REJECTED", 0)}
