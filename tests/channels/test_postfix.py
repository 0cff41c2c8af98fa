"""The SMTP provider against a real MTA (Postfix), pipelined and in lockstep, in plain text and after STARTTLS.

Postfix comes from scripts/postfix-throwaway.sh when it is installed and we are root; otherwise these
tests are skipped visibly, unless TIDINGS_TEST_REQUIRE_POSTFIX=1 (CI) makes that an error. Postfix runs
with its strictest checks on client pipelining and bare newlines, so a protocol slip shows as a refusal.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

from tidings.channels.base import OutboundMessage
from tidings.channels.email.pipelining import PipelinedSession
from tidings.channels.email.smtp import SmtpProvider, SmtpSettings

from helpers import script_values, unavailable
from smtp_sink import free_port

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postfix-throwaway.sh"
BODY = "Hi Bob,\n.\n..two dots\n.leading dot\nbye"


@dataclass
class Postfix:
    dir: str
    port: int
    mail: Path
    log: Path

    def delivered(self, tag: str, copies: int, timeout: float = 15.0) -> list[EmailMessage]:
        """The delivered copies of the message whose subject carries `tag`, once all have arrived."""
        deadline = time.monotonic() + timeout
        while True:
            found = []
            for path in (self.mail / "new").glob("*") if (self.mail / "new").exists() else []:
                msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                if tag in str(msg["Subject"]):
                    found.append(msg)
            if len(found) >= copies or time.monotonic() > deadline:
                return found  # type: ignore[return-value]
            time.sleep(0.1)


@pytest.fixture(scope="module")
def postfix() -> Iterator[Postfix]:
    reason = ""
    server: Postfix | None = None
    try:
        out = subprocess.run([str(SCRIPT), "start", str(free_port())], capture_output=True, text=True, timeout=60)
        if out.returncode == 0:
            values = script_values(out.stdout)
            server = Postfix(values["DIR"], int(values["PORT"]), Path(values["MAIL"]), Path(values["LOG"]))
        else:
            reason = out.stderr.strip() or f"exit {out.returncode}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        reason = str(exc)
    if server is None:
        unavailable("postfix", reason)
    try:
        yield server
    finally:
        subprocess.run([str(SCRIPT), "stop", server.dir], capture_output=True)


def _email(tag: str, to: str = "bob@example.test", **options: list[str]) -> OutboundMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "sam@acme.test", to, f"Hello {tag}"
    msg["Message-ID"] = f"<{tag}@acme.test>"
    msg.set_content(BODY)
    return OutboundMessage("email", "sam@acme.test", to, raw=msg.as_bytes(), options=dict(options))


@pytest.mark.parametrize(("security", "pipelining"), [("none", True), ("starttls", True), ("none", False)])
async def test_postfix_delivers_what_tidings_sends(postfix: Postfix, security: str, pipelining: bool) -> None:
    provider = SmtpProvider(SmtpSettings("127.0.0.1", postfix.port, security=security, verify=False, timeout=10,
                                         pipelining=pipelining))
    tags = [uuid.uuid4().hex[:12] for _ in range(4)]
    try:
        first = await provider.send(_email(tags[0], cc=["carol@example.test"], bcc=["dan@example.test"]))
        assert isinstance(provider._client, PipelinedSession) is pipelining
        copy_refused = await provider.send(_email(tags[1], cc=["gone@example.test"]))
        refused = await provider.send(_email(tags[2], to="gone@example.test"))
        after = await provider.send(_email(tags[3]))
    finally:
        await provider.close()
    assert first.accepted and first.provider_id and "queued as" in first.provider_id
    assert copy_refused.accepted
    assert not refused.accepted and refused.permanent and refused.code == "554" and "no such user" in refused.detail
    assert after.accepted
    copies = await asyncio.to_thread(postfix.delivered, tags[0], 3)
    assert sorted(str(m["Delivered-To"]) for m in copies) == ["bob@example.test", "carol@example.test",
                                                               "dan@example.test"]
    assert all(m.get_content().replace("\r\n", "\n").rstrip("\n") == BODY for m in copies)
    assert all(m["Bcc"] is None and m["Message-ID"] == f"<{tags[0]}@acme.test>" for m in copies)
    assert [str(m["Delivered-To"]) for m in await asyncio.to_thread(postfix.delivered, tags[1], 1)] == \
        ["bob@example.test"]
    assert await asyncio.to_thread(postfix.delivered, tags[2], 1, 0.5) == []
    assert len(await asyncio.to_thread(postfix.delivered, tags[3], 1)) == 1
    log = postfix.log.read_text()
    assert "improper command pipelining" not in log and "bare <LF>" not in log


async def test_postfix_takes_overlapping_transactions_on_one_connection(postfix: Postfix) -> None:
    """Two sends at once (as the dispatcher runs them): the next envelope goes right after a content."""
    provider = SmtpProvider(SmtpSettings("127.0.0.1", postfix.port, verify=False, timeout=10))
    tags = [uuid.uuid4().hex[:12] for _ in range(12)]
    messages = [_email(tag, to="gone@example.test" if i == 5 else "bob@example.test") for i, tag in enumerate(tags)]
    try:
        results = await asyncio.gather(*(provider.send(m) for m in messages))
        session = provider._client
    finally:
        await provider.close()
    assert provider.concurrency == 2 and isinstance(session, PipelinedSession)
    assert [r.accepted for r in results] == [i != 5 for i in range(12)]
    assert results[5].permanent and results[5].code == "554"
    for i, tag in enumerate(tags):
        copies = await asyncio.to_thread(postfix.delivered, tag, 1, 0.5 if i == 5 else 15.0)
        assert len(copies) == (0 if i == 5 else 1)
        assert all(m.get_content().replace("\r\n", "\n").rstrip("\n") == BODY for m in copies)
    log = postfix.log.read_text()
    assert "improper command pipelining" not in log and "bare <LF>" not in log
