"""Regenerate prices.csv from the mcc-mnc-p1 tables (developer tool; not imported at run time).

    pip download --no-deps -d /tmp/mcc mcc-mnc-p1 && unzip -q -o /tmp/mcc/*.whl -d /tmp/mcc/p1
    PYTHONPATH=/tmp/mcc/p1 python src/tidings/messaging/data/generate_prices.py > src/tidings/messaging/data/prices.csv

Countries are every region phonenumbers knows; MCCs and operational networks (brand names) come from
mcc-mnc-p1 (data from Wikipedia and ITU-T). The prices are illustrative list prices by world
numbering zone, not a carrier's tariff: an operator replaces the file with TIDINGS_PRICE_LIST.
"""

from __future__ import annotations

import csv
import importlib
import sys
from typing import Any

import phonenumbers
import pycountry

# Illustrative EUR price per part by the first digit of the country calling code (world numbering zone).
ZONE_PRICE = {"1": "0.0095", "2": "0.055", "3": "0.065", "4": "0.065", "5": "0.045", "6": "0.06", "7": "0.08",
              "8": "0.06", "9": "0.06"}


# Regions phonenumbers knows that ISO 3166 (pycountry) does not.
EXTRA_NAMES = {"AC": "Ascension Island", "TA": "Tristan da Cunha", "XK": "Kosovo"}


def _country_name(iso: str) -> str:
    if iso in EXTRA_NAMES:
        return EXTRA_NAMES[iso]
    country = pycountry.countries.get(alpha_2=iso)
    return str(getattr(country, "common_name", None) or country.name) if country else iso


def rows() -> list[list[str]]:
    """Every CSV row: each country's default row, then one row per operational network."""
    mnc_table: dict[str, Any] = importlib.import_module("mcc_mnc_lut.p1_mnc").P1_MNC
    networks: dict[str, list[tuple[str, str, str]]] = {}
    for code, info in sorted(mnc_table.items()):
        entries = info if isinstance(info, list) else [info]
        for entry in entries:
            if not entry.get("ope"):
                continue
            name = (entry.get("brand") or entry.get("operator") or "").strip()
            for iso in entry.get("cc2s") or []:
                if name:
                    networks.setdefault(iso, []).append((code[:3], code[3:].zfill(3), name))
    out = []
    for iso in sorted(phonenumbers.SUPPORTED_REGIONS):
        prefix = str(phonenumbers.country_code_for_region(iso))
        price = ZONE_PRICE.get(prefix[0], "0.065")
        own = networks.get(iso, [])
        mcc = own[0][0] if own else ""
        name = _country_name(iso)
        out.append([iso, name, prefix, mcc, "", "Default", price, "EUR"])
        seen: set[str] = set()
        for net_mcc, mnc, network in own:
            if network.lower() in seen:
                continue
            seen.add(network.lower())
            out.append([iso, name, prefix, net_mcc, mnc, network, price, "EUR"])
    return out


def main() -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["country_iso", "country_name", "prefix", "mcc", "mnc", "network", "price", "currency"])
    writer.writerows(rows())


if __name__ == "__main__":
    main()
