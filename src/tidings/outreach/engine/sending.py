"""How an outreach message leaves: through its mailbox's own SMTP server, DKIM-signed if set up.

The "mailbox" preparer reuses the shared MIME builder (threading headers, List-Unsubscribe with
RFC 8058 one-click, tracking) and adds a DKIM signature (`dkim_signing`) when the mailbox has a
selector and key. A gate holds or drops messages whose contact, campaign or mailbox stopped meanwhile,
and an outcome hook pauses a mailbox whose SMTP login fails (its error shows on GET /mailboxes).
"""

from __future__ import annotations

import socket
from datetime import timedelta

import structlog
from sqlalchemy import func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tidings import net
from tidings.channels.base import OutboundMessage, SendResult
from tidings.channels.email.smtp import SmtpProvider, SmtpSettings
from tidings.config import Settings
from tidings.core import clock
from tidings.core.emails import email_domain
from tidings.core.secrets import vault
from tidings.db.at_commit import Pending
from tidings.db.base import one_of, table_of
from tidings.db.models import Mailbox, Message
from tidings.messaging.delivery import Hold, Prepared, Refuse, gate, outcome, preparer
from tidings.messaging.preparers import email_deferred
from tidings.outreach.engine.dkim_signing import dkim_sign
from tidings.outreach.engine.status import campaign_of, enrollment_of, held, next_opening, sendable

log = structlog.get_logger("tidings.outreach.sending")
PREPARER = "mailbox"
PAUSE = timedelta(hours=1)


def is_outreach(message: Message) -> bool:
    return (message.extra or {}).get("preparer") == PREPARER


def smtp_settings(box: Mailbox, allow_private: bool = False) -> SmtpSettings:
    """The mailbox's SMTP server, reached only through the outbound address guard."""
    password = vault().decrypt(box.smtp_password_enc) if box.smtp_password_enc else None
    security = box.smtp_security if box.smtp_security in ("none", "starttls", "tls") else "starttls"

    async def connector(host: str, port: int, timeout: float) -> socket.socket:  # noqa: ASYNC109 - SmtpSettings' shape
        try:
            return await net.open_socket(host, port, allow_private=allow_private, timeout=timeout)
        except net.UnsafeUrl:
            # A connection error like any other (retried, shown in last_error), without the address it resolved to.
            raise ConnectionError(f"{net.unreachable_message(host, port)}: refused by the outbound address guard"
                                  ) from None

    return SmtpSettings(box.smtp_host, box.smtp_port, box.smtp_username or None, password, security,
                        connector=connector)


@preparer(PREPARER)
async def prepare_mailbox_email(session: AsyncSession, message: Message, settings: Settings) -> Prepared:
    """MIME from the shared builder, signed for the mailbox's domain, sent over the mailbox's SMTP; built and signed
    in the send's lane when that changes nothing stored (`preparers.email_deferred`)."""
    box = await held(session, Mailbox, message.mailbox_id)
    if box is None:
        raise LookupError("the message's mailbox no longer exists")
    selector, key_enc, address = box.dkim_selector, box.dkim_private_key_enc, box.email

    def sign(outbound: OutboundMessage) -> None:
        if selector and key_enc and outbound.raw is not None:
            outbound.raw = dkim_sign(outbound.raw, domain=email_domain(address), selector=selector,
                                     private_key_pem=vault().decrypt(key_enc))

    outbound, finish = email_deferred(message, settings, then=sign)
    allow_private = settings.outbound_allow_private
    # Built only when the mailbox has no connection yet (the password's decryption included).
    return Prepared(outbound, key=f"mailbox:{box.id}",
                    provider_factory=lambda: SmtpProvider(smtp_settings(box, allow_private)), finish=finish)


@gate
async def outreach_gate(session: AsyncSession, message: Message, settings: Settings) -> Hold | Refuse | None:
    """Drop steps of contacts that replied, bounced or left; hold them while paused or outside the window."""
    if not is_outreach(message) or (message.extra or {}).get("manual"):
        # A person's answer in a thread goes out now, whatever the sequence's state or schedule.
        return None
    now = clock.now()
    enrollment = await enrollment_of(session, message)
    campaign = await campaign_of(session, message)
    if enrollment is None or campaign is None:
        return Refuse("rejected", "stopped", "the contact or campaign no longer exists")
    if not sendable(enrollment.status, campaign):
        return Refuse("rejected", "stopped", f"the contact is {enrollment.status}")
    if campaign.status == "PAUSED":
        return Hold(now + timedelta(minutes=5), "campaign paused")
    if campaign.status != "RUNNING":
        return Refuse("rejected", "stopped", f"the campaign is {campaign.status}")
    box = await held(session, Mailbox, message.mailbox_id)
    if box is not None and box.status == "paused":
        until = clock.as_utc(box.paused_until) if box.paused_until else now + PAUSE
        if until > now:
            return Hold(until, "mailbox paused")
    opens = next_opening(campaign, now)
    if opens > now:
        return Hold(opens, "outside the campaign schedule")
    return None


def _clear_trouble(session: Session, mailbox_ids: set[int]) -> None:
    session.connection().execute(_CLEAR_TROUBLE, {"ids": sorted(mailbox_ids)})


_mailboxes = table_of(Mailbox)
# A mailbox paused or showing an SMTP error is active again; the row as it is at the commit decides (not read first).
_CLEAR_TROUBLE = (update(_mailboxes)
                  .where(one_of(_mailboxes.c.id),
                         or_(_mailboxes.c.status == "paused", func.substr(_mailboxes.c.last_error, 1, 5) == "SMTP "))
                  .values(status="active", last_error=None, paused_until=None))
# Mailboxes whose last outcome in the transaction was an accepted send.
_SENT_THROUGH: Pending[set[int]] = Pending("tidings.outreach.sent_through", set, _clear_trouble)


@outcome
async def mailbox_outcome(session: AsyncSession, message: Message, result: SendResult) -> None:
    """Pause a mailbox whose login fails; a later successful send makes it active again.

    A server that cannot be reached shows in `last_error` too (the message is retried as usual).
    """
    if not is_outreach(message) or message.mailbox_id is None:
        return
    login_failed = result.login_failed
    unreachable = not result.accepted and result.code == "connection"
    if not login_failed and not unreachable and not result.accepted:
        return
    sent_through = _SENT_THROUGH.of(session.sync_session)
    if result.accepted:
        # Cleared, if it shows trouble, by one UPDATE when the transaction commits: no read of the mailboxes.
        sent_through.add(message.mailbox_id)
        return
    sent_through.discard(message.mailbox_id)  # a failure after a success in the same batch has the last word
    box = await held(session, Mailbox, message.mailbox_id)
    if box is None:
        return
    if login_failed:
        box.status, box.last_error = "paused", f"SMTP {result.detail} (code {result.code})"
        box.paused_until = clock.now() + PAUSE
        log.warning("mailbox paused: SMTP login failed", mailbox_id=box.id)
    else:
        box.last_error = f"SMTP {result.detail}"
