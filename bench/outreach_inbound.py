"""Cold-email inbound: replies matched and classified per second from an IMAP folder of 5,000 mails.

A throwaway Dovecot (scripts/dovecot-throwaway.sh) holds 5,000 replies to sent outreach messages
(a mix of human replies, out-of-office notices and RFC 3464 bounces); the timed part is one
`poll_mailbox` on SQLite: UID SEARCH, chunked UID FETCH, parse, classify, match by In-Reply-To,
store and move enrollments and counters. TIDINGS_BENCH_INBOUND changes the size.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, insert, select

from tidings.config import Settings
from tidings.core import clock
from tidings.core.secrets import vault
from tidings.db.base import Base
from tidings.db.models import Campaign, Client, Contact, Enrollment, Mailbox, Message, Step
from tidings.engine import imap_poller
from tidings.runtime import boot
from tidings.tenancy.service import create_account

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "dovecot-throwaway.sh"
MAILS = int(os.environ.get("TIDINGS_BENCH_INBOUND", "5000"))
USER, PASSWORD = "sam@acme.test", "bench"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mail(i: int) -> bytes:
    original = f"<out{i}@acme.test>"
    kind = i % 10
    if kind == 9:
        return (f"From: MAILER-DAEMON@mx.globex.test\r\nTo: {USER}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
                f"Message-ID: <dsn{i}@mx.globex.test>\r\nMIME-Version: 1.0\r\n"
                'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
                "--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
                "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.globex.test\r\n\r\n"
                f"Final-Recipient: rfc822; c{i}@globex.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
                f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {original}\r\n\r\n--B--\r\n").encode()
    auto = "Auto-Submitted: auto-replied\r\n" if kind == 8 else ""
    text = ("I am out of the office until Monday." if kind == 8 else
            f"Thanks, that sounds interesting. Can we talk on day {i % 28 + 1}?")
    return (f"From: Person {i} <c{i}@globex.test>\r\nTo: {USER}\r\nSubject: Re: Quick question\r\n"
            f"Message-ID: <in{i}@globex.test>\r\nIn-Reply-To: {original}\r\nReferences: {original}\r\n{auto}"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\r\nOn Mon, Jan 5, 2026 Sam <{USER}> wrote:\r\n"
            "> Hi, would Globex like to see our product?\r\n> Sam\r\n").encode()


async def _run(port: int, workdir: Path) -> dict[str, float]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{workdir / 'bench.db'}", secret_key="bench",
                        data_dir=workdir, outbound_allow_private=True)  # Dovecot is on the loopback
    db = boot(settings)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with db.transaction() as s:
        account = (await create_account(s, name="Bench", email="bench@bench.test")).account_id
        client = Client(account_id=account, name="Bench client")
        s.add(client)
        await s.flush()
        campaign = Campaign(account_id=account, client_id=client.id, name="Bench", status="RUNNING",
                            kind="sequence", channel="email", settings={})
        s.add(campaign)
        await s.flush()
        s.add(Step(account_id=account, campaign_id=campaign.id, number=1, subject="Quick question", body="Hi"))
        box = Mailbox(account_id=account, client_id=client.id, email=USER, smtp_host="127.0.0.1",
                      imap_host="127.0.0.1", imap_port=port, imap_username=USER, imap_security="none",
                      imap_password_enc=vault().encrypt(PASSWORD))
        s.add(box)
        await s.flush()
        await s.execute(insert(Contact), [{"account_id": account, "client_id": client.id, "email": f"c{i}@globex.test",
                                           "email_key": f"c{i}@globex.test", "tags": [], "custom_fields": {}}
                                          for i in range(MAILS)])
        contacts = (await s.execute(select(Contact.id).order_by(Contact.id))).scalars().all()
        await s.execute(insert(Enrollment), [{"account_id": account, "campaign_id": campaign.id, "contact_id": c,
                                              "status": "OK", "next_step": 2, "completed_steps": 1}
                                             for c in contacts])
        enrollments = (await s.execute(select(Enrollment.id).order_by(Enrollment.id))).scalars().all()
        now = clock.now()
        await s.execute(insert(Message), [
            {"account_id": account, "channel": "email", "direction": "out", "status": "sent", "sender": USER,
             "recipient": f"c{i}@globex.test", "subject": "Quick question", "campaign_id": campaign.id,
             "enrollment_id": e, "contact_id": c, "mailbox_id": box.id, "step_number": 1,
             "rfc_message_id": f"<out{i}@acme.test>", "sent_at": now, "extra": {}}
            for i, (e, c) in enumerate(zip(enrollments, contacts, strict=True))])
        mailbox_id = box.id
    started = time.perf_counter()
    read = await imap_poller.poll_mailbox(db, mailbox_id, allow_private=True)
    elapsed = time.perf_counter() - started
    async with db.sessions() as s:
        stored = (await s.execute(select(func.count()).select_from(Message).where(Message.direction == "in"))).scalar()
        statuses = dict((await s.execute(select(Enrollment.status, func.count()).group_by(Enrollment.status))).all())
    await db.dispose()
    return {"read": float(read), "matched": float(stored or 0), "seconds": round(elapsed, 3),
            "per_second": round((stored or 0) / elapsed, 1), "statuses": statuses}  # type: ignore[dict-item]


def main() -> dict[str, object]:
    if shutil.which("dovecot") is None:
        return {"benchmark": "outreach_inbound", "skipped": "dovecot is not installed"}
    out = subprocess.run([str(SCRIPT), "start", str(_free_port())], capture_output=True, text=True, check=True)
    values = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    try:
        subprocess.run([str(SCRIPT), "add-user", values["DIR"], USER, PASSWORD], check=True, capture_output=True)
        maildir = Path(values["DIR"]) / "mail" / USER / "Maildir"
        # Writing the maildir directly is much faster than 5,000 `doveadm save` runs; Dovecot indexes it.
        subprocess.run(["doveadm", "-c", values["CONF"], "mailbox", "status", "-u", USER, "messages", "INBOX"],
                       check=True, capture_output=True)
        new = maildir / "new"
        new.mkdir(parents=True, exist_ok=True)
        for i in range(MAILS):
            (new / f"{1700000000 + i}.M{i}P1.bench").write_bytes(_mail(i))
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "vmail:vmail", str(maildir)], check=True)
        with tempfile.TemporaryDirectory() as tmp:
            result = asyncio.run(_run(int(values["PORT"]), Path(tmp)))
    finally:
        subprocess.run([str(SCRIPT), "stop", values["DIR"]], capture_output=True)
    return {"benchmark": "outreach_inbound", "database": "sqlite", "mails": MAILS, **result}


if __name__ == "__main__":
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print(json.dumps(main()))
