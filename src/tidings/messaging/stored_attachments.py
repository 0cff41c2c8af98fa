"""Files for `[attachment_{ID}]` links: registered by an operator (`tidings attachment add`), kept under the data dir.

The bytes are stored once per content (named by their SHA-256) in `<data_dir>/attachments/`; the row
holds the account, the file name shown to the recipient and its type. The public link names the
message it was sent in, so a file is only ever served through a message of the account that stored it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import ids
from tidings.core.errors import ValidationFailed
from tidings.core.ids import Kind
from tidings.db.models import StoredAttachment
from tidings.messaging import attachments as attachment_input
from tidings.tenancy.scoping import scoped
from tidings.tenancy.subject import AuthSubject

MAX_BYTES: Final = 25 * 1024 * 1024
FOLDER: Final = "attachments"


def path_of(data_dir: Path, sha256: str) -> Path:
    return data_dir / FOLDER / sha256


def public_id(row: StoredAttachment) -> int:
    return ids.to_int(Kind.ATTACHMENT, row.id)


async def store(session: AsyncSession, subject: AuthSubject, data_dir: Path, name: str, content_type: str,
                data: bytes) -> StoredAttachment:
    """Write the bytes (atomically, once per content) and add the account's row."""
    name = attachment_input.checked_name(name, "name")
    if not data or len(data) > MAX_BYTES:
        raise ValidationFailed.on("file", f"The file must hold 1 byte to {MAX_BYTES // 1048576} MB.")
    if content_type.count("/") != 1 or any(c in content_type for c in " \r\n;"):
        raise ValidationFailed.on("type", "The type must be a MIME type such as application/pdf.")
    digest = hashlib.sha256(data).hexdigest()
    target = path_of(data_dir, digest)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(data)
        partial.replace(target)
    row = StoredAttachment(account_id=subject.account_id, name=name, content_type=content_type.lower(),
                           size=len(data), sha256=digest)
    session.add(row)
    await session.flush()
    return row


async def find(session: AsyncSession, subject: AuthSubject, public: str | int) -> StoredAttachment | None:
    pk = ids.from_int(Kind.ATTACHMENT, public)
    if pk is None:
        return None
    stmt = scoped(select(StoredAttachment), StoredAttachment, subject).where(StoredAttachment.id == pk)
    return (await session.execute(stmt)).scalar_one_or_none()


async def listing(session: AsyncSession, subject: AuthSubject) -> list[StoredAttachment]:
    stmt = scoped(select(StoredAttachment), StoredAttachment, subject).order_by(StoredAttachment.id)
    return list((await session.execute(stmt)).scalars())
