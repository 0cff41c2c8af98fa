"""JSON columns (orjson, with the standard library for what orjson refuses) keep what the standard library kept."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from sqlalchemy import select, update

from tidings.db.engine import Database, json_dumps, json_loads
from tidings.db.models import Account
from tidings.tenancy.service import NewAccount

DOCUMENTS: list[Any] = [
    {"stat": "DELIVRD", "code": None, "part": 1, "ratio": 0.5, "ok": True},
    {"name": "Zoë 😀 \u2028", "nested": {"list": [1, "two", None, {"deep": []}]}},
    {"big": 2 ** 80, "negative": -(2 ** 70)},  # beyond 64 bits: the standard library writes them
    {1: "int key", "2": "str key"},  # keys become strings, as json.dumps makes them
    [],
    "text",
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_a_document_reads_back_as_the_standard_library_reads_it(document: Any) -> None:
    assert json_loads(json_dumps(document)) == json.loads(json.dumps(document))


def test_text_the_standard_library_wrote_still_reads() -> None:
    assert math.isnan(json_loads(json.dumps({"x": float("nan")}))["x"])
    assert json_loads(json.dumps({"n": 2 ** 80}, indent=2)) == {"n": 2 ** 80}


async def test_documents_round_trip_through_the_database(db: Database, account: NewAccount) -> None:
    for document in DOCUMENTS[:4]:
        async with db.transaction() as s:
            await s.execute(update(Account).where(Account.id == account.account_id).values(settings=document))
        async with db.sessions() as s:
            stored = (await s.execute(select(Account.settings).where(Account.id == account.account_id))).scalar_one()
        assert stored == json.loads(json.dumps(document))
