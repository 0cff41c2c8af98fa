"""A step that cannot be built for a contact shows through the API instead of only in a log."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from tidings.core.clock import ManualClock
from tidings.core.ids import Kind, encode
from tidings.core.secrets import vault
from tidings.db.engine import Database
from tidings.db.models import Mailbox, Message
from tidings.engine.runner import Runner
from tidings.tenancy.service import NewAccount

from helpers import bearer
from smtp_sink import smtp_sink


async def test_a_message_that_cannot_be_built_stops_the_contact_visibly(
        client: httpx.AsyncClient, db: Database, make_world: Any, runner: Runner, clock: ManualClock,
        account: NewAccount) -> None:
    with smtp_sink() as sink:
        world = await make_world()
        box = await world.add_mailbox("sam@acme.test", smtp_port=sink.port)
        async with db.transaction() as s:
            row = await s.get(Mailbox, box)
            assert row is not None
            row.dkim_selector, row.dkim_private_key_enc = "s1", vault().encrypt("not a private key")
        await world.add_step("Hello {{first_name}}", "Hi there")
        await world.add_step("", "Following up", delay_days=1)
        await world.add_contact("p@globex.test", first_name="Pat")
        await world.start()
        await runner.run_until_idle()
        clock.advance(3 * 3600)
        await runner.run_until_idle()
        assert sink.received == []
    async with db.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Message))).scalar_one() == 1, "not retried hourly"
        message = (await s.execute(select(Message))).scalar_one()
        assert message.status == "failed" and message.error_code == "prepare" and message.error_detail

    headers = bearer(account.api_token)
    campaign = encode(Kind.CAMPAIGN, world.campaign_id)
    r = await client.get(f"/api/v1/campaigns/{campaign}/contacts", headers=headers)
    assert r.status_code == 200, r.text
    assert [(c["email"], c["status"]) for c in r.json()["data"]] == [("p@globex.test", "STOPPED")]
