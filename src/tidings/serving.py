"""How `tidings serve` runs uvicorn: forwarded headers only from the operator's proxies.

uvicorn trusts X-Forwarded-For from 127.0.0.1 by default, so a client on the server's own host could
pick the address the messaging dialect's IP allow-list sees; here forwarded headers are ignored unless
TIDINGS_TRUSTED_PROXIES lists the proxies that set them.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from tidings.config import Settings


def trusted_proxies(settings: Settings) -> list[str]:
    """The configured proxies as addresses or networks; ValueError names an entry that is neither."""
    entries = [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"TIDINGS_TRUSTED_PROXIES: {entry!r} is not an IP address or network") from None
    return entries


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for uvicorn.run/Config that depend on the settings."""
    proxies = trusted_proxies(settings)
    return {"proxy_headers": bool(proxies), "forwarded_allow_ips": proxies or None, "server_header": False}
