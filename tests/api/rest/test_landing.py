"""POST /api/rest/landingsms: an SMS with a unique short link per recipient to a landing page served by Tidings."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import select

from tidings.core import ids, sms
from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import Event, Message, Sending
from tidings.engine.runner import Runner
from tidings.messaging import tracking
from tidings.tenancy.service import NewAccount

from helpers import Receiver, basic

URL = "/api/rest/landingsms"
PUBLIC = "http://tidings.test"
PAGE = "<html><head><title>LANDING TEST</title></head><body><h1>HELLO LANDING</h1></body></html>"
SHORT = re.compile(r"http://tidings\.test/s/[0-9A-Za-z]{10}")
ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/120.0.0.0 Mobile Safari/537.36")


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def example(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"to": ["34666555444"], "message": "TEST API LANDING {LAND_URL}", "from": "LANDINGAPI",
                            "templateBody": PAGE}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


async def _message(db: Database, public_id: str) -> Message:
    pk = ids.from_int(Kind.MESSAGE, public_id)
    async with db.sessions() as s:
        message = await s.get(Message, pk)
    assert message is not None
    return message


async def _landing_path(client: httpx.AsyncClient, message: Message) -> str:
    """What the recipient's phone does: follow the short link in the SMS."""
    assert message.body is not None
    [short] = SHORT.findall(message.body)
    r = await client.get(short.removeprefix(PUBLIC))
    assert r.status_code == 302, r.text
    location = r.headers["location"]
    assert location == f"{PUBLIC}/l/{tracking.token(message.id)}"
    return location.removeprefix(PUBLIC)


async def test_the_documented_example_sends_an_sms_with_its_own_link_to_the_page(
        client: httpx.AsyncClient, auth: dict[str, str], db: Database, runner: Runner) -> None:
    r = await client.post(URL, json=example(), headers=auth)
    assert r.status_code == 202, r.text
    body = r.json()
    assert list(body) == ["campaignId", "sendingId", "result"] and body["campaignId"] is None
    [item] = body["result"]
    assert item == {"accepted": True, "to": "34666555444", "id": item["id"], "parts": 1, "scheduledAt": None,
                    "expiresAt": None}
    assert ids.from_int(Kind.SENDING, body["sendingId"]) is not None, "public ids, not row keys"
    message = await _message(db, item["id"])
    assert message.body is not None and message.body.startswith("TEST API LANDING http://tidings.test/s/")
    assert "{LAND_URL}" not in message.body and message.channel == "sms"
    async with db.sessions() as s:
        sending = await s.get(Sending, message.sending_id)
    assert sending is not None and sending.channel == "landing", "reported as a landing sending"
    await runner.run_until_idle()
    async with db.sessions() as s:
        message = await s.get(Message, message.id) or message
    assert message.status == "delivered" and SHORT.search(message.body or ""), "sent with the link in it"

    page = await client.get(await _landing_path(client, message), headers={"User-Agent": ANDROID})
    assert page.status_code == 200 and page.text == PAGE
    assert "sandbox" in page.headers["content-security-policy"]
    async with db.sessions() as s:
        [opened] = (await s.execute(select(Event).where(Event.kind == "opened"))).scalars()
    assert opened.details["browser"] == "Chrome Mobile 120" and opened.details["os"] == "Android 14"
    assert opened.details["device"] == "mobile"

    sending = ids.to_int(Kind.SENDING, message.sending_id)
    report = await client.get(f"/api/rest/sendings/{sending}/reports/events", headers=auth)
    rows = list(csv.DictReader(io.StringIO(report.text)))
    [row] = [r for r in rows if r["event"] == "opened"]
    assert row["browser"] == "Chrome Mobile 120" and row["os"] == "Android 14" and row["phone"] == "34666555444"


async def test_each_recipient_gets_a_unique_link_and_their_own_values_escaped(
        client: httpx.AsyncClient, auth: dict[str, str], db: Database) -> None:
    r = await client.post(URL, headers=auth, json=example(
        to=["34666555444", "34666555333", "34"], message="Hi {name}: {LAND_URL}",
        templateBody='<h1>Hello {name}</h1><a href="https://example.com/offer?x=1">offer</a>',
        sub=[{"name": "Ann"}, {"name": "<script>alert(1)</script>"}, {"name": "x"}]))
    assert r.status_code == 207, r.text
    first, second, refused = r.json()["result"]
    assert refused == {"accepted": False, "to": "34", "error": {"code": 102, "description": "No valid recipients"}}
    ann, other = await _message(db, first["id"]), await _message(db, second["id"])
    assert ann.body is not None and other.body is not None and ann.body.startswith("Hi Ann: ")
    assert SHORT.findall(ann.body) != SHORT.findall(other.body), "one link per recipient"

    page = (await client.get(await _landing_path(client, ann))).text
    assert page.startswith("<h1>Hello Ann</h1>")
    [href] = re.findall(r'href="([^"]+)"', page)
    assert href.startswith(f"{PUBLIC}/t/c/"), "links in the page are click-tracked"
    click = await client.get(href.replace("&amp;", "&").removeprefix(PUBLIC))
    assert click.status_code == 302 and click.headers["location"] == "https://example.com/offer?x=1"
    escaped = (await client.get(await _landing_path(client, other))).text
    assert "<script>" not in escaped and "&lt;script&gt;" in escaped, "values cannot inject markup"
    async with db.sessions() as s:
        kinds = [k for (k,) in await s.execute(select(Event.kind).where(Event.message_id == ann.id)
                                               .order_by(Event.id))]
    assert kinds == ["opened", "clicked"]


async def test_unsubscribing_on_the_page_is_unsubscribed_landing_and_blacklists_the_number(
        client: httpx.AsyncClient, auth: dict[str, str], db: Database, runner: Runner, receiver: Receiver) -> None:
    r = await client.put("/api/rest/account/notifications", json={"url": f"{receiver.base}/hook"}, headers=auth)
    assert r.status_code == 200, r.text
    r = await client.post(URL, headers=auth, json=example(
        templateBody='<p><a href="[unsubscribe_link]">Stop</a> <a href="https://example.com/">site</a></p>',
        campaignName="Spring"))
    assert r.status_code == 202, r.text
    message = await _message(db, r.json()["result"][0]["id"])
    await runner.run_until_idle()
    page = (await client.get(await _landing_path(client, message))).text
    stop, site = re.findall(r'href="([^"]+)"', page)
    assert stop == f"{PUBLIC}/l/{tracking.token(message.id)}/unsubscribe", "not click-tracked"
    await client.get(site.replace("&amp;", "&").removeprefix(PUBLIC))
    confirm = await client.get(stop.removeprefix(PUBLIC))
    assert confirm.status_code == 200 and 'method="post"' in confirm.text, "a GET alone unsubscribes nobody"
    done = await client.post(stop.removeprefix(PUBLIC))
    assert done.status_code == 200 and "Unsubscribed" in done.text
    await runner.run_until_idle()

    forms = receiver.forms()
    assert [f["event"] for f in forms] == ["sent", "delivered", "opened", "clicked", "unsubscribed_landing"]
    assert {f["channel"] for f in forms} == {"landing"}, "the documented channel name"
    assert unquote(json.loads(forms[3]["extra"])["url"]) == "https://example.com/"
    assert forms[0]["campaignName"] == "Spring"

    listed = await client.get("/api/rest/v2/blacklist/sms", headers=auth)
    assert [e["recipient"] for e in listed.json()["data"]] == ["34666555444"]
    sending = await client.get(f"/api/rest/sendings/{ids.to_int(Kind.SENDING, message.sending_id)}", headers=auth)
    counters = sending.json()["data"]["events"]
    assert counters["unsubscribed_landing"] == 1 and counters["opened"] == 1
    assert sending.json()["data"]["channel"] == "landing" and sending.json()["data"]["totalSmsParts"] == 1


async def test_parts_count_the_real_length_of_the_link(client: httpx.AsyncClient, auth: dict[str, str],
                                                       db: Database) -> None:
    link = len(f"{PUBLIC}/s/") + 10
    room = sms.SINGLE_PART_SEPTETS - link
    fits = "x" * (room - 1) + " {LAND_URL}"
    r = await client.post(URL, json=example(message=fits), headers=auth)
    assert r.status_code == 202 and r.json()["result"][0]["parts"] == 1, r.text
    message = await _message(db, r.json()["result"][0]["id"])
    assert message.body is not None and len(message.body) == 160
    too_long = "x" * room + " {LAND_URL}"
    r = await client.post(URL, json=example(message=too_long), headers=auth)
    assert r.status_code == 400 and r.json()["error"]["code"] == 105, "{LAND_URL} is not 10 characters"
    r = await client.post(URL, json=example(message=too_long, parts=2), headers=auth)
    assert r.status_code == 202 and r.json()["result"][0]["parts"] == 2


async def test_templates_by_id_are_kept_as_they_were_sent(client: httpx.AsyncClient, auth: dict[str, str],
                                                          db: Database, make_account: Any) -> None:
    created = await client.post("/api/rest/v2/templates", json={"name": "Page", "html": "<p>Version one</p>"},
                                headers=auth)
    template_id = created.json()["data"]["id"]
    r = await client.post(URL, json=example(templateBody=None, templateV2Id=template_id), headers=auth)
    assert r.status_code == 202, r.text
    message = await _message(db, r.json()["result"][0]["id"])
    await client.put(f"/api/rest/v2/templates/{template_id}", json={"name": "Page", "html": "<p>Two</p>"},
                     headers=auth)
    assert (await client.get(await _landing_path(client, message))).text == "<p>Version one</p>"

    legacy = await client.post("/api/rest/templates", json={"name": "Old", "html": "<p>Legacy {name}</p>"},
                               headers=auth)
    r = await client.post(URL, json=example(templateBody=None, templateId=legacy.json()["data"]["id"],
                                            sub=[{"name": "Ann"}]), headers=auth)
    assert r.status_code == 202, r.text
    message = await _message(db, r.json()["result"][0]["id"])
    assert (await client.get(await _landing_path(client, message))).text == "<p>Legacy Ann</p>"

    stranger = await make_account("Stranger", "owner@stranger.test")
    r = await client.post(URL, json=example(templateBody=None, templateV2Id=template_id),
                          headers=basic(stranger.username, stranger.api_password))
    assert r.status_code == 400 and r.json()["error"]["code"] == 140, "another account's template is missing"


@pytest.mark.parametrize(("over", "code", "status"), [
    ({"message": "TEST API LANDING"}, 141, 400),
    ({"templateBody": None}, 140, 400),
    ({"templateBody": "   "}, 140, 400),
    ({"templateBody": None, "templateId": 12345}, 140, 400),
    ({"templateBody": None, "templateV2Id": 12345}, 140, 400),
    ({"templateBody": None, "templateV2Id": "abc"}, 422, 422),
    ({"message": None}, 104, 400),
    ({"to": ["34"]}, 102, 400),
    ({"from": None}, 106, 400),
    ({"tags": ["x"]}, 126, 400),
    ({"scheduleDate": "tomorrow"}, 108, 400),
])
async def test_refusals_carry_the_documented_codes_and_write_nothing(
        client: httpx.AsyncClient, auth: dict[str, str], db: Database, over: dict[str, Any], code: int,
        status: int) -> None:
    body = example(**{k: v for k, v in over.items() if v is not None})
    for key in [k for k, v in over.items() if v is None]:
        body.pop(key, None)
    r = await client.post(URL, json=body, headers=auth)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    async with db.sessions() as s:
        assert (await s.execute(select(Message))).first() is None
        assert (await s.execute(select(Sending))).first() is None


async def test_pages_of_other_messages_and_forged_links_are_404(client: httpx.AsyncClient, auth: dict[str, str],
                                                               db: Database) -> None:
    plain = await client.post("/api/rest/sms", json={"to": ["34666555444"], "from": "TEST", "message": "hi"},
                              headers=auth)
    assert plain.status_code == 202
    async with db.sessions() as s:
        pk = (await s.execute(select(Message.id))).scalar_one()
    for path in (f"/l/{tracking.token(pk)}", "/l/forged.token", f"/l/{tracking.token(pk)}x"):
        r = await client.get(path)
        assert r.status_code == 404 and "Page not found" in r.text, path
        assert (await client.post(path + "/unsubscribe")).status_code == 404
    web = await client.get(f"/v/{tracking.token(pk)}")
    assert web.status_code == 200 and "<pre" in web.text and ">hi</pre>" in web.text, "[show_link] of an SMS"


async def test_the_show_link_of_a_landing_sms_is_its_page(client: httpx.AsyncClient, auth: dict[str, str],
                                                          db: Database) -> None:
    r = await client.post(URL, json=example(templateBody='<a href="[show_link]">this page</a>'), headers=auth)
    message = await _message(db, r.json()["result"][0]["id"])
    page = (await client.get(await _landing_path(client, message))).text
    assert page == f'<a href="{PUBLIC}/l/{tracking.token(message.id)}">this page</a>', "not click-tracked either"
    web = await client.get(f"/v/{tracking.token(message.id)}")
    assert web.status_code == 302 and web.headers["location"] == f"/l/{tracking.token(message.id)}"
