"""Device, browser and OS of a visit, as the events report shows them."""

from __future__ import annotations

import pytest

from tidings.messaging.devices import describe


@pytest.mark.parametrize(("ua", "device", "browser", "os"), [
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.0 Mobile/15E148 Safari/604.1", "mobile", "Mobile Safari 17", "iOS 17"),
    ("Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.0 "
     "Mobile/15E148 Safari/604.1", "tablet", "Mobile Safari 16", "iOS 16"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
     "Safari/537.36", "desktop", "Chrome 120", "Windows 10"),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot", "Googlebot 2", ""),
    ("", "unknown", "", ""),
    (None, "unknown", "", ""),
])
def test_user_agents_are_described(ua: str | None, device: str, browser: str, os: str) -> None:
    assert describe(ua) == {"device": device, "browser": browser, "os": os}
