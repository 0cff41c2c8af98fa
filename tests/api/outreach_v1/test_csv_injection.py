"""Contact exports never hand a spreadsheet a formula."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx


async def test_contact_export_escapes_formulas(client: httpx.AsyncClient, agency: Any, api: Any) -> None:
    await api.contact(agency, "x@example.org", first_name='=HYPERLINK("http://evil.test","click")',
                      last_name="@SUM(A1:A2)", company="-1+cmd", phone="+34666555444",
                      custom_merge_fields={"=note": "\t=1+1"})
    r = await client.get(f"/api/v1/campaigns/{agency.campaign_id}/contacts/export", headers=agency.headers)
    assert r.status_code == 200
    [row] = list(csv.DictReader(io.StringIO(r.text)))
    assert row["first_name"] == '\'=HYPERLINK("http://evil.test","click")'
    assert row["last_name"] == "'@SUM(A1:A2)" and row["company"] == "'-1+cmd"
    assert row["phone"] == "+34666555444", "a phone number stays a number"
    assert row["'=note"] == "'\t=1+1", "custom field names in the header are escaped too"
