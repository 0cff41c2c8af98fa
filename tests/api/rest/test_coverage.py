"""GET /api/rest/sms/coverage and /sms/coverageByCountry, from the shipped or the operator's price list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tidings.tenancy.service import NewAccount

from helpers import basic


async def test_coverage_by_network(client: httpx.AsyncClient, account: NewAccount) -> None:
    r = await client.get("/api/rest/sms/coverage", headers=basic(account.username, account.api_password))
    assert r.status_code == 200
    rows = r.json()["data"]
    andorra = [row for row in rows if row["countryIso"] == "AD"]
    assert andorra[0] == {"countryIso": "AD", "countryName": "Andorra", "networkName": "Default", "mcc": "213",
                          "mnc": None, "cost": 0.065, "currencyCode": "EUR", "currencySymbol": "€"}
    assert andorra[1]["mnc"] == "003" and andorra[1]["networkName"] != "Default"
    assert {"ES", "FR", "CO", "US", "AE"} <= {row["countryIso"] for row in rows}


async def test_coverage_by_country(client: httpx.AsyncClient, account: NewAccount) -> None:
    r = await client.get("/api/rest/sms/coverageByCountry", headers=basic(account.username, account.api_password))
    assert r.status_code == 200
    entries = {e["countryIso"]: e for e in r.json()["data"]}
    ae = entries["AE"]
    assert list(ae) == ["countryIso", "countryName", "networks", "minCost", "maxCost", "currencyCode",
                        "currencySymbol"]
    assert "Etisalat" in ae["networks"] and "Default" not in ae["networks"]
    assert ae["minCost"] <= ae["maxCost"]


async def test_coverage_needs_credentials(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/rest/sms/coverage")
    assert r.status_code == 401 and r.json()["error"]["code"] == 103


async def test_operator_price_list(app: Any, client: httpx.AsyncClient, account: NewAccount, tmp_path: Path) -> None:
    prices = tmp_path / "prices.csv"
    prices.write_text("country_iso,country_name,prefix,mcc,mnc,network,price,currency\n"
                      "ES,Spain,34,214,,Default,0.04,USD\n"
                      "ES,Spain,34,214,007,Movistar,0.05,USD\n")
    app.state.settings.price_list = prices
    try:
        r = await client.get("/api/rest/sms/coverageByCountry", headers=basic(account.username, account.api_password))
    finally:
        app.state.settings.price_list = None
    assert r.json()["data"] == [{"countryIso": "ES", "countryName": "Spain", "networks": ["Movistar"],
                                 "minCost": 0.04, "maxCost": 0.05, "currencyCode": "USD", "currencySymbol": "$"}]
