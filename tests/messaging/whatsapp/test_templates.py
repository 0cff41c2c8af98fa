"""What a template needs from a send, and what a send makes of it (components, content, button presses)."""

from __future__ import annotations

from typing import Any

from tidings.db.models import WhatsappTemplate
from tidings.messaging.whatsapp import templates
from tidings.messaging.whatsapp.templates import Values

from fakes.whatsapp import template as listed


def _row(**over: Any) -> WhatsappTemplate:
    values: dict[str, Any] = {"name": "t", "language": "es", "category": "MARKETING", "header": {}, "body": "",
                              "footer": None, "buttons": []}
    values.update(over)
    return WhatsappTemplate(**values)


def test_variables_are_counted_by_their_highest_position() -> None:
    assert templates.count("Hola {{1}}, tu pedido {{2}} ({{ 2 }})") == 2
    assert templates.count("sin variables {{nombre}}") == 0
    assert templates.fill("{{2}} y {{1}} y {{3}}", ["a", "b"]) == "b y a y {{3}}"
    row = _row(header={"format": "TEXT", "text": "Hola {{1}}"}, body="{{1}} {{2}} {{3}}",
               buttons=[{"type": "URL", "text": "a", "url": "https://x/{{1}}"}, {"type": "QUICK_REPLY", "text": "Sí"},
                        {"type": "URL", "text": "b", "url": "https://y/"}])
    assert templates.needs(row) == templates.Needs(header=1, body=3, actions=1, location=False, quick_replies=1)
    assert templates.needs(_row(header={"format": "LOCATION"})).location is True
    auth = _row(category="AUTHENTICATION", body="*{{1}}*",
                buttons=[{"type": "URL", "text": "Copiar", "url": "https://www.whatsapp.com/otp/code/?code=otp{{1}}"}])
    assert templates.needs(auth).actions == 0, "the copy-code button repeats the body's code"


def test_components_follow_the_cloud_api() -> None:
    row = _row(header={"format": "TEXT", "text": "Hola {{1}}"}, body="Pedido {{1}}", footer="Tienda",
               buttons=[{"type": "QUICK_REPLY", "text": "Sí"}, {"type": "URL", "text": "Ver", "url": "https://x/{{1}}"}])
    values = Values(header=["Ana"], body=["A-1"], actions=["A-1"], with_payloads=True)
    assert templates.message_object(row, values) == {"type": "template", "template": {
        "name": "t", "language": {"code": "es"}, "components": [
            {"type": "header", "parameters": [{"type": "text", "text": "Ana"}]},
            {"type": "body", "parameters": [{"type": "text", "text": "A-1"}]},
            {"type": "button", "sub_type": "quick_reply", "index": "0",
             "parameters": [{"type": "payload", "payload": "tidings-button-0"}]},
            {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "A-1"}]}]}}
    assert templates.content(row, values) == "Hola Ana\nPedido A-1\nTienda"
    located = _row(header={"format": "LOCATION"}, body="Ven")
    loc = Values(location={"lat": "39.9", "long": "-0.1", "name": "NRS"})
    assert templates.components(located, loc) == [{"type": "header", "parameters": [
        {"type": "location", "location": {"latitude": "39.9", "longitude": "-0.1", "name": "NRS"}}]}]
    assert templates.content(located, loc) == "NRS\nVen"


def test_button_presses_name_their_quick_reply() -> None:
    row = _row(buttons=[{"type": "URL", "text": "Ver", "url": "https://x"}, {"type": "QUICK_REPLY", "text": "Sí"},
                        {"type": "QUICK_REPLY", "text": "No"}])
    assert templates.button_index(row, "tidings-button-2", None) == 1
    assert templates.button_index(row, "tidings-button-0", None) is None, "a URL button is not a quick reply"
    assert templates.button_index(row, "other", "Sí") == 0
    assert templates.button_index(row, None, "Quizás") is None


def test_provider_templates_become_rows() -> None:
    raw = listed("welcome", "Hola {{1}}", header={"format": "TEXT", "text": "Hi {{1}}"}, footer="f",
                 buttons=[{"type": "QUICK_REPLY", "text": "Sí"}], status="APPROVED", id_="42")
    row = templates.from_provider(raw)
    assert row is not None
    assert {k: row[k] for k in ("name", "language", "status", "provider_id", "body", "footer")} == {
        "name": "welcome", "language": "es", "status": "APPROVED", "provider_id": "42", "body": "Hola {{1}}",
        "footer": "f"}
    assert row["header"] == {"format": "TEXT", "text": "Hi {{1}}"} and row["buttons"] == [
        {"type": "QUICK_REPLY", "text": "Sí"}]
    assert templates.from_provider({"name": "x"}) is None


def test_a_media_header_takes_its_url() -> None:
    row = _row(header={"format": "IMAGE"}, body="Mira")
    assert templates.needs(row).header == 1 and templates.needs(row).media
    assert templates.components(row, Values(header=["https://cdn.example/a.png"])) == [
        {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://cdn.example/a.png"}}]}]
