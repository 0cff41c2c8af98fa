"""SMS coverage (/sms/coverage, /sms/coverageByCountry): the price list, per network and per country."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.rest import schemas
from tidings.config import Settings
from tidings.messaging.pricing import DEFAULT_NETWORK, PriceRow, currency_symbol, price_list_for
from tidings.tenancy.subject import AuthSubject

router = APIRouter(route_class=ExactRoute)
Caller = Annotated[AuthSubject, Depends(deps.rest())]
AppSettings = Annotated[Settings, Depends(deps.get_settings)]


def _cost(value: Decimal) -> float:
    return float(value)


@router.get("/sms/coverage", response_model=schemas.CoverageList)
async def coverage(subject: Caller, settings: AppSettings) -> dict[str, Any]:
    """Every priced network: each country's "Default" row first, then its networks by MCC/MNC."""
    return {"data": [
        {"countryIso": row.country_iso, "countryName": row.country_name, "networkName": row.network,
         "mcc": row.mcc, "mnc": row.mnc, "cost": _cost(row.price), "currencyCode": row.currency,
         "currencySymbol": currency_symbol(row.currency)}
        for row in price_list_for(settings).rows
    ]}


@router.get("/sms/coverageByCountry", response_model=schemas.CountryCoverageList)
async def coverage_by_country(subject: Caller, settings: AppSettings) -> dict[str, Any]:
    """One entry per country: its named networks and the lowest and highest price per part."""
    grouped: dict[str, list[PriceRow]] = {}
    for row in price_list_for(settings).rows:
        grouped.setdefault(row.country_iso, []).append(row)
    data = []
    for rows in grouped.values():
        prices = [r.price for r in rows]
        networks = list(dict.fromkeys(r.network for r in rows if r.network != DEFAULT_NETWORK))
        data.append({"countryIso": rows[0].country_iso, "countryName": rows[0].country_name, "networks": networks,
                     "minCost": _cost(min(prices)), "maxCost": _cost(max(prices)), "currencyCode": rows[0].currency,
                     "currencySymbol": currency_symbol(rows[0].currency)})
    return {"data": data}
