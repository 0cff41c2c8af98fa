"""Device, browser and OS of a page visit from its User-Agent (ua-parser), as the events report shows them."""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from ua_parser import parse

_MOBILE_OS: Final = frozenset({"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS"})
MAX_UA: Final = 1000


@lru_cache(maxsize=512)
def describe(user_agent: str | None) -> dict[str, str]:
    """{"device": mobile | tablet | desktop | bot | unknown, "browser": "Mobile Safari 17", "os": "iOS 17"}."""
    ua = (user_agent or "")[:MAX_UA]
    if not ua.strip():
        return {"device": "unknown", "browser": "", "os": ""}
    result = parse(ua)
    browser = result.user_agent
    system = result.os
    device = result.device
    family = device.family if device is not None else ""
    os_name = system.family if system is not None else ""
    if family == "Spider":
        kind = "bot"
    elif "iPad" in family or "Tablet" in ua or (os_name == "Android" and "Mobile" not in ua):
        kind = "tablet"
    elif os_name in _MOBILE_OS or "Mobile" in ua:
        kind = "mobile"
    elif os_name:
        kind = "desktop"
    else:
        kind = "unknown"
    return {"device": kind,
            "browser": " ".join(p for p in (browser.family, browser.major) if p) if browser is not None else "",
            "os": " ".join(p for p in (os_name, system.major if system is not None else None) if p)}
