"""Every query of the WhatsApp capability."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.db.models import Contact, Message, WhatsappConversation, WhatsappSender, WhatsappTemplate
from tidings.tenancy.scoping import scoped
from tidings.tenancy.subject import AuthSubject

CHANNEL = "whatsapp"
CHUNK = 500


async def sender_by_number(session: AsyncSession, subject: AuthSubject, number: str) -> WhatsappSender | None:
    stmt = scoped(select(WhatsappSender), WhatsappSender, subject).where(WhatsappSender.number == number)
    return (await session.execute(stmt)).scalar_one_or_none()


async def sender_by_phone_number_id(session: AsyncSession, phone_number_id: str) -> WhatsappSender | None:
    """The sender a provider's webhook names (unscoped: the webhook is how we learn the account)."""
    stmt = select(WhatsappSender).where(WhatsappSender.phone_number_id == phone_number_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def senders(session: AsyncSession, subject: AuthSubject) -> Sequence[WhatsappSender]:
    stmt = scoped(select(WhatsappSender), WhatsappSender, subject).order_by(WhatsappSender.number)
    return (await session.execute(stmt)).scalars().all()


async def template(session: AsyncSession, subject: AuthSubject, pk: int) -> WhatsappTemplate | None:
    stmt = scoped(select(WhatsappTemplate), WhatsappTemplate, subject).where(WhatsappTemplate.id == pk)
    return (await session.execute(stmt)).scalar_one_or_none()


async def template_by_name(session: AsyncSession, account_id: int, name: str, language: str,
                           ) -> WhatsappTemplate | None:
    stmt = select(WhatsappTemplate).where(WhatsappTemplate.account_id == account_id, WhatsappTemplate.name == name,
                                          WhatsappTemplate.language == language)
    return (await session.execute(stmt)).scalar_one_or_none()


async def templates(session: AsyncSession, subject: AuthSubject, waba_id: str | None = None,
                    ) -> Sequence[WhatsappTemplate]:
    stmt = scoped(select(WhatsappTemplate), WhatsappTemplate, subject)
    if waba_id is not None:
        stmt = stmt.where(WhatsappTemplate.waba_id == waba_id)
    return (await session.execute(stmt.order_by(WhatsappTemplate.name, WhatsappTemplate.language))).scalars().all()


async def conversation(session: AsyncSession, subject: AuthSubject, sender: str, recipient: str, *,
                       lock: bool = False) -> WhatsappConversation | None:
    stmt = scoped(select(WhatsappConversation), WhatsappConversation, subject).where(
        WhatsappConversation.sender == sender, WhatsappConversation.recipient == recipient)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def ensure_conversations(session: AsyncSession, account_id: int, sender: str, recipients: list[str]) -> None:
    """Create the conversations that do not exist yet; requests creating the same one at once all succeed."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for start in range(0, len(recipients), CHUNK):
        rows = [{"account_id": account_id, "sender": sender, "recipient": r} for r in recipients[start:start + CHUNK]]
        await session.execute(insert(WhatsappConversation).values(rows)
                              .on_conflict_do_nothing(index_elements=["account_id", "sender", "recipient"]))


async def conversations_of(session: AsyncSession, subject: AuthSubject, sender: str, recipients: list[str],
                           ) -> dict[str, WhatsappConversation]:
    """One number's conversations with these users, locked for an update (in recipient order: no deadlocks)."""
    found: dict[str, WhatsappConversation] = {}
    ordered = sorted(set(recipients))
    for start in range(0, len(ordered), CHUNK):
        stmt = (scoped(select(WhatsappConversation), WhatsappConversation, subject)
                .where(WhatsappConversation.sender == sender,
                       WhatsappConversation.recipient.in_(ordered[start:start + CHUNK]))
                .order_by(WhatsappConversation.recipient).with_for_update())
        found.update((c.recipient, c) for c in (await session.execute(stmt)).scalars())
    return found


def conversations_statement(subject: AuthSubject, *, sender: str | None, recipient: str | None,
                            ) -> Select[WhatsappConversation]:
    """The account's conversations, of one of our numbers (`sender`) and/or one user (`recipient`)."""
    stmt = scoped(select(WhatsappConversation), WhatsappConversation, subject)
    if sender:
        stmt = stmt.where(WhatsappConversation.sender == sender)
    if recipient:
        stmt = stmt.where(WhatsappConversation.recipient == recipient)
    return stmt


async def conversations(session: AsyncSession, subject: AuthSubject, *, sender: str | None, recipient: str | None,
                        offset: int, limit: int) -> tuple[int, Sequence[WhatsappConversation]]:
    stmt = conversations_statement(subject, sender=sender, recipient=recipient)
    total = int((await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one())
    rows = (await session.execute(stmt.order_by(WhatsappConversation.updated_at.desc(), WhatsappConversation.id.desc())
                                  .offset(offset).limit(limit))).scalars().all()
    return total, rows


def between(account_id: int, ours: str, user: str) -> Any:
    return and_(Message.account_id == account_id, Message.channel == CHANNEL,
                or_(and_(Message.direction == "out", Message.sender == ours, Message.recipient == user),
                    and_(Message.direction == "in", Message.sender == user, Message.recipient == ours)))


async def messages(session: AsyncSession, conv: WhatsappConversation, *, offset: int, limit: int,
                   ) -> tuple[int, Sequence[Message]]:
    """A conversation's messages, newest first."""
    where = between(conv.account_id, conv.sender, conv.recipient)
    total = int((await session.execute(select(func.count()).select_from(Message).where(where))).scalar_one())
    rows = (await session.execute(select(Message).where(where).order_by(Message.created_at.desc(), Message.id.desc())
                                  .offset(offset).limit(limit))).scalars().all()
    return total, rows


async def contacts(session: AsyncSession, subject: AuthSubject, phones: list[str]) -> dict[str, Contact]:
    found: dict[str, Contact] = {}
    if not phones:
        return found
    stmt = scoped(select(Contact), Contact, subject).where(Contact.phone.in_(sorted(set(phones))))
    for contact in (await session.execute(stmt.order_by(Contact.id))).scalars():
        found.setdefault(str(contact.phone), contact)
    return found


async def message_by_external_id(session: AsyncSession, external_id: str, direction: str) -> Message | None:
    stmt = (select(Message).where(Message.channel == CHANNEL, Message.external_id == external_id,
                                  Message.direction == direction).order_by(Message.id.desc()).limit(1))
    return (await session.execute(stmt)).scalar_one_or_none()
