"""notificationUrl: a GET per outcome with the documented escapes, retries 1..5 minutes apart, SSRF guard.

The receiver is a tiny real HTTP server on 127.0.0.1 (our own, not a fake of the outside world).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tidings.channels.registry import build_provider
from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.models import Job
from tidings.engine.runner import Runner
from tidings.messaging import netguard, notifications
from tidings.tenancy.service import NewAccount

from helpers import Receiver, basic

ESCAPES = "id=%i&p=%p&P=%P&t=%t&c=%c&s=%s&m=%m&y=%y&n=%n&C=%C&S=%S&customId=123456&pct=100%25"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


async def _send(client: httpx.AsyncClient, auth: dict[str, str], **over: Any) -> dict[str, Any]:
    r = await client.post("/api/rest/sms", json={"to": ["34666555444"], "from": "SAMPLE", "message": "hi", **over},
                          headers=auth)
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_delivery_is_notified_with_every_escape(app: Any, client: httpx.AsyncClient, auth: dict[str, str],
                                                      receiver: Receiver, runner: Runner,
                                                      clock: ManualClock) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=delivered&delay=60s"))
    sent = await _send(client, auth, notificationUrl=f"{receiver.base}/notify?{ESCAPES}", campaignName="Promo")
    await runner.run_until_idle()
    assert receiver.calls == [], "sent is not an operator notification"
    clock.advance(61)
    await runner.run_until_idle()
    [query] = receiver.queries()
    assert query["id"] == sent["result"][0]["id"] and query["p"] == "SAMPLE" and query["P"] == "34666555444"
    assert query["s"] == "DELIVRD" and query["t"] == "2026-01-05 09:00" and query["y"] == "2026-01-05 09:01"
    assert query["n"] == "1" and query["C"] == str(sent["campaignId"]) and query["S"] == str(sent["sendingId"])
    assert float(query["c"]) >= 0 and "m" in query
    assert query["customId"] == "123456" and query["pct"] == "100%", "the client's own values are untouched"


async def test_one_url_per_recipient_and_failures(app: Any, client: httpx.AsyncClient, auth: dict[str, str],
                                                  receiver: Receiver, runner: Runner, clock: ManualClock) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=undelivered&delay=1s"))
    await _send(client, auth, to=["34666555444", "34666555443"],
                notificationUrl=[f"{receiver.base}/a?s=%s&to=%P", f"{receiver.base}/b?s=%s&to=%P"])
    await runner.run_until_idle()
    clock.advance(2)
    await runner.run_until_idle()
    assert sorted(receiver.calls) == ["/a?s=UNDELIV&to=34666555444", "/b?s=UNDELIV&to=34666555443"]


async def test_expired_is_notified(client: httpx.AsyncClient, auth: dict[str, str], receiver: Receiver,
                                   runner: Runner, clock: ManualClock) -> None:
    await _send(client, auth, scheduleDate="20260105100000", expirationDate="20260105100100",
                notificationUrl=f"{receiver.base}/n?s=%s&t=%t")
    clock.advance(timedelta(hours=2))
    await runner.run_until_idle()
    assert receiver.queries() == [{"s": "EXPIRED", "t": ""}]


async def test_retried_five_times_one_to_five_minutes_apart(app: Any, client: httpx.AsyncClient,
                                                             auth: dict[str, str], receiver: Receiver,
                                                             runner: Runner, clock: ManualClock, db: Database) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=delivered&delay=0s"))
    receiver.statuses = [500, 404, 302, 503, 500, 500, 500]
    await _send(client, auth, notificationUrl=f"{receiver.base}/n?s=%s")
    await runner.run_until_idle()
    assert len(receiver.calls) == 1
    for retry in range(1, 6):
        clock.advance(timedelta(minutes=retry) - timedelta(seconds=1))
        await runner.run_until_idle()
        assert len(receiver.calls) == retry, f"retry {retry} waits {retry} minutes"
        clock.advance(1)
        await runner.run_until_idle()
        assert len(receiver.calls) == retry + 1
    clock.advance(timedelta(hours=1))
    await runner.run_until_idle()
    assert len(receiver.calls) == 6, "the first call and 5 retries, then no more"
    async with db.sessions() as s:
        jobs = (await s.execute(select(Job).where(Job.kind == notifications.JOB_KIND))).scalars().all()
    assert [j.payload["retry"] for j in jobs] == [0, 1, 2, 3, 4, 5] and all(j.status == "done" for j in jobs)


async def test_a_receiver_that_recovers_is_called_no_more(app: Any, client: httpx.AsyncClient,
                                                          auth: dict[str, str], receiver: Receiver, runner: Runner,
                                                          clock: ManualClock) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=delivered&delay=0s"))
    receiver.statuses = [500]
    await _send(client, auth, notificationUrl=f"{receiver.base}/n")
    await runner.run_until_idle()
    clock.advance(60)
    await runner.run_until_idle()
    clock.advance(3600)
    await runner.run_until_idle()
    assert len(receiver.calls) == 2


async def test_private_targets_are_refused_unless_allowed(app: Any, client: httpx.AsyncClient,
                                                          auth: dict[str, str], receiver: Receiver, runner: Runner,
                                                          clock: ManualClock) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=delivered&delay=0s"))
    app.state.settings.outbound_allow_private = False
    try:
        for url in (f"{receiver.base}/n", f"http://localhost:{receiver.port}/n", f"http://2130706433:{receiver.port}/n",
                    f"http://0x7f000001:{receiver.port}/n", f"http://[::ffff:127.0.0.1]:{receiver.port}/n"):
            # A URL that can never be called is refused when the message is submitted (error 109).
            r = await client.post("/api/rest/sms", json={"to": ["34666555444"], "from": "SAMPLE", "message": "hi",
                                                         "notificationUrl": url}, headers=auth)
            assert r.status_code == 400 and r.json()["error"]["code"] == 109, (url, r.text)
        await runner.run_until_idle()
        clock.advance(3600)
        await runner.run_until_idle()
    finally:
        app.state.settings.outbound_allow_private = True
    assert receiver.calls == [], "loopback is refused, also behind a name, and not retried"


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/x", "http://10.1.2.3/", "http://192.168.0.1:8080/", "http://172.16.5.4/",
    "http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://[fe80::1]/", "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0/", "http://100.64.0.1/", "http://localhost/", "ftp://example.com/", "http:///nohost",
    "http://example.com:99999/",
])
async def test_netguard_refuses(url: str) -> None:
    with pytest.raises(netguard.UnsafeUrl):
        await netguard.check_url(url, allow_private=False)


async def test_netguard_allows_public_addresses_and_private_when_told() -> None:
    assert await netguard.check_url("https://8.8.8.8/x", allow_private=False) == ["8.8.8.8"]
    assert await netguard.check_url("http://[2001:4860:4860::8888]/", allow_private=False)
    assert await netguard.check_url("http://127.0.0.1/x", allow_private=True) == []
    with pytest.raises(netguard.UnsafeUrl):
        await netguard.check_url("gopher://127.0.0.1/", allow_private=True)


def test_expand_leaves_unknown_escapes() -> None:
    values = dict.fromkeys("ipPtcsmynCS", "v")
    values["P"] = "34 6"
    assert notifications.expand("http://x/?a=%P&b=%z&c=%%&d=%41", values) == "http://x/?a=34%206&b=%z&c=%%&d=%41"
