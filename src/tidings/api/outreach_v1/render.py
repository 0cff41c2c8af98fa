"""Response shapes of the outreach dialect: 20-character ids and epoch-second times."""

from __future__ import annotations

from typing import Any

from tidings.core import ids
from tidings.core.clock import epoch
from tidings.core.ids import Kind
from tidings.db.models import Client


def client(c: Client) -> dict[str, Any]:
    return {"id": ids.encode(Kind.CLIENT, c.id), "name": c.name, "max_emails": c.max_emails,
            "created_at": epoch(c.created_at)}
