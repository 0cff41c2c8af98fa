"""Migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import asyncio
import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tidings.db.base import Base
from tidings.db.engine import make_engine
from tidings.db.migrate import upgrade


async def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
    await engine.dispose()
    return list(diff)


async def test_migrations_match_models(database_url: str, backend: str, tmp_path: object) -> None:
    url = database_url
    admin = None
    if backend == "postgresql":
        name = "migr_" + uuid.uuid4().hex[:8]
        admin = make_engine(database_url, isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.execute(text(f"CREATE DATABASE {name}"))
        url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    else:
        url = database_url.replace("test.db", "migrated.db")
    try:
        await asyncio.to_thread(upgrade, url)
        assert await _diff(url) == []
    finally:
        if admin is not None:
            async with admin.connect() as conn:
                await conn.execute(text(f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)"))
            await admin.dispose()
