"""The Cloud API webhook payload as inbound messages and statuses; malformed parts are skipped, not errors."""

from __future__ import annotations

import json

from tidings.messaging.whatsapp import webhook

from fakes.whatsapp import FakeCloudApi


def test_messages_and_statuses_are_read() -> None:
    cloud = FakeCloudApi()
    body, _ = cloud.webhook("123", messages=[
        cloud.text_message("34666555444", "hola", "wamid.1"),
        cloud.button_message("34666555444", "No", "tidings-button-1", "wamid.2", "wamid.0"),
        {"from": "34666555444", "id": "wamid.3", "type": "reaction",
         "reaction": {"message_id": "wamid.0", "emoji": "👍"}},
        {"from": "34666555444", "id": "wamid.4", "type": "interactive",
         "interactive": {"type": "button_reply", "button_reply": {"id": "b1", "title": "Vale"}}},
        {"from": "34666555444", "id": "wamid.5", "type": "image", "image": {"id": "m1", "caption": "foto"}},
    ], statuses=[cloud.status("wamid.0", "failed", "34666555444", [{"code": 131026, "title": "Undeliverable"}])])
    inbound, statuses = webhook.parse(json.loads(body))
    assert [(i.type, i.text, i.button_payload, i.button_text) for i in inbound] == [
        ("text", "hola", None, None), ("button", "", "tidings-button-1", "No"), ("reaction", "", None, None),
        ("interactive", "", "b1", "Vale"), ("image", "foto", None, None)]
    assert inbound[0].name == "Ana" and inbound[0].phone_number_id == "123"
    assert (inbound[2].reaction_to, inbound[2].emoji) == ("wamid.0", "👍")
    assert inbound[4].details == {"media_id": "m1"}
    assert [(s.external_id, s.status, s.code, s.detail) for s in statuses] == [
        ("wamid.0", "failed", "131026", "Undeliverable")]


def test_malformed_payloads_are_skipped() -> None:
    for payload in (None, [], {"entry": "x"}, {"entry": [{"changes": [{"value": {"metadata": {}}}]}]},
                    {"entry": [{"changes": [{"value": {"metadata": {"phone_number_id": "1"},
                                                       "messages": [{"id": "x"}, 5], "statuses": [{"id": 3}]}}]}]}):
        assert webhook.parse(payload) == ([], [])
