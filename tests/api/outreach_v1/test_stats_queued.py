"""Per-step `queued` counts every contact still receiving steps, auto-replied ones included."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tidings.core import ids
from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import Campaign, Contact, Enrollment, Step
from tidings.tenancy.service import NewAccount

from helpers import bearer


async def _campaign(db: Database, account: NewAccount, settings: dict[str, Any]) -> int:
    async with db.transaction() as s:
        campaign = Campaign(account_id=account.account_id, name="Q", status="RUNNING", settings=settings)
        s.add(campaign)
        await s.flush()
        s.add_all([Step(account_id=account.account_id, campaign_id=campaign.id, number=n, subject="s", body="b")
                   for n in (1, 2)])
        for i, status in enumerate(("OK", "AUTOREPLIED", "REPLIED", "BOUNCED")):
            contact = Contact(account_id=account.account_id, email=f"c{i}@x.test", email_key=f"c{i}@x.test")
            s.add(contact)
            await s.flush()
            s.add(Enrollment(account_id=account.account_id, campaign_id=campaign.id, contact_id=contact.id,
                             status=status, next_step=2, completed_steps=1))
        return campaign.id


@pytest.mark.parametrize(("campaign_settings", "expected"), [({}, 2), ({"stop_on_autoreply": True}, 1)])
async def test_queued_follows_who_still_receives_steps(client: httpx.AsyncClient, db: Database, account: NewAccount,
                                                       campaign_settings: dict[str, Any], expected: int) -> None:
    campaign_id = await _campaign(db, account, campaign_settings)
    r = await client.get(f"/api/v1/campaigns/{ids.encode(Kind.CAMPAIGN, campaign_id)}/stats",
                         headers=bearer(account.api_token))
    assert r.status_code == 200, r.text
    steps = {s["number"]: s for s in r.json()["data"]["campaign_steps"]}
    assert steps[2]["queued"] == expected and steps[1]["queued"] == 0
