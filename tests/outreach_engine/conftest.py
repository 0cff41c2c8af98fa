"""Fixtures of the cold-email engine tests: campaigns built with the ORM, SMTP sinks, Dovecot.

Dovecot comes from scripts/dovecot-throwaway.sh when `dovecot` is installed; without it the IMAP
tests are skipped visibly, unless TIDINGS_TEST_REQUIRE_DOVECOT=1 (CI) makes that an error.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tidings.core import clock as clock_module
from tidings.core.secrets import vault
from tidings.db.engine import Database
from tidings.db.models import Campaign, CampaignMailbox, Client, Contact, Enrollment, Mailbox, Step
from tidings.tenancy.service import NewAccount

from helpers import script_values, unavailable
from smtp_sink import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "dovecot-throwaway.sh"


@dataclass
class World:
    """One client's campaign with its steps, mailboxes and contacts (ids only)."""

    db: Database
    account_id: int
    client_id: int
    campaign_id: int
    mailbox_ids: list[int] = field(default_factory=list)
    enrollment_ids: list[int] = field(default_factory=list)

    async def add_mailbox(self, email: str, *, smtp_port: int, smtp_user: str | None = None,
                          smtp_password: str = "", daily_limit: int = 1000, min_interval_seconds: int = 0,
                          imap: tuple[int, str, str] | None = None, **extra: Any) -> int:
        async with self.db.transaction() as s:
            box = Mailbox(account_id=self.account_id, client_id=self.client_id, email=email, name=extra.pop(
                "name", "Sam Sender"), smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_username=smtp_user or "",
                smtp_password_enc=vault().encrypt(smtp_password) if smtp_password else "", smtp_security="none",
                daily_limit=daily_limit, min_interval_seconds=min_interval_seconds, **extra)
            if imap is not None:
                box.imap_host, box.imap_port, box.imap_username = "127.0.0.1", imap[0], imap[1]
                box.imap_password_enc, box.imap_security = vault().encrypt(imap[2]), "none"
            s.add(box)
            await s.flush()
            s.add(CampaignMailbox(account_id=self.account_id, campaign_id=self.campaign_id, mailbox_id=box.id))
            self.mailbox_ids.append(box.id)
            return box.id

    async def add_step(self, subject: str, body: str, delay_days: float = 0.0,
                       variants: list[dict[str, str]] | None = None) -> None:
        async with self.db.transaction() as s:
            number = len((await s.execute(select(Step.id).where(Step.campaign_id == self.campaign_id))).all()) + 1
            s.add(Step(account_id=self.account_id, campaign_id=self.campaign_id, number=number, subject=subject,
                       body=body, delay_days=delay_days, variants=variants or []))

    async def add_contact(self, email: str | None, **fields: Any) -> int:
        async with self.db.transaction() as s:
            contact = Contact(account_id=self.account_id, client_id=self.client_id, email=email,
                              email_key=email.lower() if email else None, **fields)
            s.add(contact)
            await s.flush()
            enrollment = Enrollment(account_id=self.account_id, campaign_id=self.campaign_id, contact_id=contact.id,
                                    status="OK", next_step=1)
            s.add(enrollment)
            await s.flush()
            self.enrollment_ids.append(enrollment.id)
            return enrollment.id

    async def start(self, **settings: Any) -> None:
        """RUNNING, as the API's start does: unstarted contacts become due now."""
        async with self.db.transaction() as s:
            campaign = await s.get(Campaign, self.campaign_id)
            assert campaign is not None
            campaign.status, campaign.started_at = "RUNNING", clock_module.now()
            campaign.settings = {**(campaign.settings or {}), **settings}
            for e in (await s.execute(select(Enrollment).where(Enrollment.campaign_id == self.campaign_id))).scalars():
                if e.next_due_at is None and e.status == "OK" and e.next_step == 1:
                    e.next_due_at = clock_module.now()

    async def enrollment(self, enrollment_id: int) -> Enrollment:
        async with self.db.sessions() as s:
            e = await s.get(Enrollment, enrollment_id)
            assert e is not None
            return e

    async def mailbox(self, mailbox_id: int) -> Mailbox:
        async with self.db.sessions() as s:
            box = await s.get(Mailbox, mailbox_id)
            assert box is not None
            return box


@pytest.fixture
async def make_world(db: Database, account: NewAccount) -> Any:
    async def make(timezone: str = "UTC", schedule: dict[str, Any] | None = None, name: str = "Q3") -> World:
        async with db.transaction() as s:
            client = Client(account_id=account.account_id, name="Cremin LLC", max_emails=20)
            s.add(client)
            await s.flush()
            campaign = Campaign(account_id=account.account_id, client_id=client.id, name=name, timezone=timezone,
                                status="DRAFT", kind="sequence", channel="email", schedule=schedule, settings={})
            s.add(campaign)
            await s.flush()
            return World(db, account.account_id, client.id, campaign.id)

    return make


# -- Dovecot ---------------------------------------------------------------------------------------

@dataclass
class Dovecot:
    dir: str
    port: int
    conf: str

    def add_user(self, user: str, password: str) -> None:
        subprocess.run([str(SCRIPT), "add-user", self.dir, user, password], check=True, capture_output=True)

    def deliver(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message into a user's folder, as if an MTA had delivered it."""
        subprocess.run(["doveadm", "-c", self.conf, "save", "-u", user, "-m", folder], input=raw, check=True,
                       capture_output=True)


def _start_dovecot() -> tuple[Dovecot | None, str]:
    if shutil.which("dovecot") is None or shutil.which("doveadm") is None:
        return None, "dovecot is not installed (apt-get install dovecot-imapd)"
    try:
        out = subprocess.run([str(SCRIPT), "start", str(free_port())], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"could not start dovecot: {exc}"
    if out.returncode != 0:
        return None, "could not start dovecot: " + (out.stderr.strip() or f"exit {out.returncode}")
    values = script_values(out.stdout)
    return Dovecot(values["DIR"], int(values["PORT"]), values["CONF"]), ""


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    server, reason = _start_dovecot()
    if server is None:
        unavailable("dovecot", reason)
    try:
        yield server
    finally:
        subprocess.run([str(SCRIPT), "stop", server.dir], capture_output=True)
