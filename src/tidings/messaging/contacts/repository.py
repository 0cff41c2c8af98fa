"""Every query of the contact database and its groups (always scoped to the caller's account)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from typing import Any

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.db.base import table_of
from tidings.db.models import Contact, Group, group_members
from tidings.db.plain_writes import insert_rows_returning_ids
from tidings.tenancy.scoping import get_owned, scoped
from tidings.tenancy.subject import AuthSubject

CHUNK = 500


def contacts(subject: AuthSubject) -> Select[Contact]:
    """The account's database contacts (not the outreach campaigns' own copies)."""
    return scoped(select(Contact), Contact, subject).where(Contact.in_database.is_(True))


async def contact(session: AsyncSession, subject: AuthSubject, pk: int | None) -> Contact | None:
    if pk is None:
        return None
    return (await session.execute(contacts(subject).where(Contact.id == pk))).scalar_one_or_none()


async def matching(session: AsyncSession, subject: AuthSubject, email_keys: Collection[str],
                   phones: Collection[str]) -> list[Contact]:
    """Database contacts holding any of these email keys or phones."""
    found: dict[int, Contact] = {}
    # One column a query: with `email_key IN (...) OR phone IN (...)` SQLite walks all the account's contacts
    # instead of its (account, email) and (account, phone) indexes.
    for column, values in ((Contact.email_key, sorted(email_keys)), (Contact.phone, sorted(phones))):
        for start in range(0, len(values), CHUNK):
            stmt = contacts(subject).where(column.in_(values[start:start + CHUNK]))
            for row in (await session.execute(stmt)).scalars():
                found[row.id] = row
    return list(found.values())


async def insert_contacts(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert new contacts; their ids in the rows' order."""
    return await insert_rows_returning_ids(session, table_of(Contact), list(rows))


async def memberships(session: AsyncSession, contact_ids: Collection[int]) -> set[tuple[int, int]]:
    """(group_id, contact_id) pairs of these contacts."""
    out: set[tuple[int, int]] = set()
    ordered = sorted(contact_ids)
    for start in range(0, len(ordered), CHUNK):
        stmt = select(group_members.c.group_id, group_members.c.contact_id).where(
            group_members.c.contact_id.in_(ordered[start:start + CHUNK]))
        out.update((int(g), int(c)) for g, c in (await session.execute(stmt)).all())
    return out


async def add_members(session: AsyncSession, pairs: Collection[tuple[int, int]]) -> None:
    rows = [{"group_id": g, "contact_id": c} for g, c in sorted(pairs)]
    for start in range(0, len(rows), 1000):
        await session.execute(insert(group_members), rows[start:start + 1000])


async def remove_members(session: AsyncSession, contact_id: int, group_ids: Collection[int]) -> None:
    if group_ids:
        await session.execute(delete(group_members).where(group_members.c.contact_id == contact_id,
                                                          group_members.c.group_id.in_(sorted(group_ids))))


async def groups_of(session: AsyncSession, contact_ids: Collection[int]) -> dict[int, list[Group]]:
    """Each contact's groups, by name."""
    out: dict[int, list[Group]] = {c: [] for c in contact_ids}
    ordered = sorted(contact_ids)
    for start in range(0, len(ordered), CHUNK):
        stmt = (select(group_members.c.contact_id, Group).join(Group, Group.id == group_members.c.group_id)
                .where(group_members.c.contact_id.in_(ordered[start:start + CHUNK])).order_by(Group.name, Group.id))
        for contact_id, group in (await session.execute(stmt)).all():
            out[int(contact_id)].append(group)
    return out


def count_statement(stmt: Select[Any]) -> Select[int]:
    """COUNT(*) over the query's own FROM and WHERE (no subquery), as the plan tests EXPLAIN it."""
    return stmt.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)


async def page_of(session: AsyncSession, stmt: Select[Any], page: int, limit: int) -> tuple[list[Any], int]:
    """One page of a scoped query (by id) and the total count."""
    rows = list((await session.execute(stmt.limit(limit).offset((page - 1) * limit))).scalars().all())
    if 0 < len(rows) < limit or (page == 1 and not rows):
        # The last page: the total is known without counting (a filter by email or phone finds one contact).
        return rows, (page - 1) * limit + len(rows)
    return rows, int((await session.execute(count_statement(stmt))).scalar_one())


def in_group(stmt: Select[Contact], group_id: int) -> Select[Contact]:
    """Only the contacts that belong to this group."""
    return stmt.where(Contact.id.in_(select(group_members.c.contact_id).where(group_members.c.group_id == group_id)))


def groups(subject: AuthSubject) -> Select[Group]:
    return scoped(select(Group), Group, subject)


async def group(session: AsyncSession, subject: AuthSubject, pk: int | None) -> Group:
    return await get_owned(session, Group, pk, subject, "Group")


async def groups_by_ids(session: AsyncSession, subject: AuthSubject, pks: Collection[int]) -> dict[int, Group]:
    if not pks:
        return {}
    rows = (await session.execute(groups(subject).where(Group.id.in_(sorted(pks))))).scalars()
    return {g.id: g for g in rows}


async def groups_by_names(session: AsyncSession, subject: AuthSubject, names: Collection[str]) -> dict[str, Group]:
    if not names:
        return {}
    rows = (await session.execute(groups(subject).where(Group.name.in_(sorted(names))))).scalars()
    return {g.name: g for g in rows}


async def member_pages(session: AsyncSession, subject: AuthSubject, group_id: int,
                       size: int = 1000) -> AsyncIterator[list[Contact]]:
    """A group's contacts by id, a page at a time (keyset: memory stays flat for any group size)."""
    after = 0
    while True:
        stmt = (contacts(subject).join(group_members, group_members.c.contact_id == Contact.id)
                .where(group_members.c.group_id == group_id, Contact.id > after).order_by(Contact.id).limit(size))
        rows = list((await session.execute(stmt)).scalars())
        if not rows:
            return
        yield rows
        after = rows[-1].id
        session.expunge_all()
