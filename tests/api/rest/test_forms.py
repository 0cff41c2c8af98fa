"""Forms of the messaging dialect: create, list, show, update, delete and preview, as documented."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tidings.core import ids
from tidings.core.ids import Kind
from tidings.tenancy.service import NewAccount

from helpers import basic

# The document's example request, verbatim apart from the host.
EXAMPLE: dict[str, Any] = {
    "name": "My_form",
    "rejectButton": True,
    "backgroundUrl": "https://tidings.test/assets/login/img/wizard.jpg",
    "logoUrl": "https://tidings.test/assets/img/logo.png",
    "formFields": [
        {"type": "h3", "label": "Your opinion is very important to us"},
        {"type": "text", "label": "Name", "required": True, "description": "Insert your name",
         "placeholder": "Insert your name", "customField": "form_name"},
        {"type": "email", "label": "Email", "required": True, "description": "Insert your email",
         "placeholder": "Insert your email", "customField": "form_email"},
        {"type": "radio", "label": "How satisfied are you with our platform?", "required": True,
         "description": "Select your response depending on your satisfaction", "customField": "form_satisfaction",
         "options": [{"label": "Very satisfied", "value": "10"}, {"label": "Somewhat satisfied", "value": "8"},
                     {"label": "Neither satisfied nor dissatisfied", "value": "6"},
                     {"label": "Somewhat dissatisfied", "value": "4"}, {"label": "Very dissatisfied", "value": "2"}]},
    ],
}


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


async def _create(client: httpx.AsyncClient, auth: dict[str, str], **over: Any) -> dict[str, Any]:
    r = await client.post("/api/rest/form", json={**EXAMPLE, **over}, headers=auth)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def test_the_documented_example_creates_a_form_shown_and_listed_as_documented(
        client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    data = await _create(client, auth)
    form_id = data["id"]
    assert ids.from_int(Kind.FORM, form_id) is not None and form_id > 1_000, "a public id, not the row's key"
    assert data["name"] == "My_form" and data["placeholder"] == f"{{FORM_{form_id}}}"
    assert data["editable"] is True and data["rejectButton"] is True, "editable is true by default"
    assert data["formFields"][3]["options"][0] == {"label": "Very satisfied", "value": "10"}
    assert data["createdAt"].endswith("+00:00") and data["updatedAt"] is None

    shown = await client.get(f"/api/rest/forms/{form_id}", headers=auth)
    assert shown.status_code == 200 and shown.json()["data"] == data
    listed = (await client.get("/api/rest/forms", headers=auth)).json()
    assert listed["data"] == [{k: data[k] for k in ("id", "name", "placeholder", "createdAt", "updatedAt")}]
    assert listed["meta"]["pagination"] == {"total": 1, "count": 1, "per_page": 100, "current_page": 1,
                                            "total_pages": 1, "links": []}


async def test_the_plural_path_of_the_examples_creates_too_and_lists_paginate_with_next_links(
        client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for n in range(3):
        r = await client.post("/api/rest/forms", json={**EXAMPLE, "name": f"form {n}"}, headers=auth)
        assert r.status_code == 201, r.text
    page = (await client.get("/api/rest/forms?limit=2", headers=auth)).json()
    assert [f["name"] for f in page["data"]] == ["form 0", "form 1"]
    assert page["meta"]["pagination"]["total_pages"] == 2
    following = await client.get(page["meta"]["pagination"]["links"]["next"], headers=auth)
    assert [f["name"] for f in following.json()["data"]] == ["form 2"]


async def test_put_replaces_the_definition_and_delete_removes_it(client: httpx.AsyncClient,
                                                                 auth: dict[str, str]) -> None:
    form_id = (await _create(client, auth))["id"]
    r = await client.put(f"/api/rest/forms/{form_id}", headers=auth, json={
        "name": "Renamed", "editable": False, "formFields": [{"type": "checkbox", "label": "OK?", "required": True}]})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["id"] == form_id and data["name"] == "Renamed" and data["editable"] is False
    assert data["rejectButton"] is False and data["logoUrl"] is None, "PUT replaces the whole definition"
    assert data["updatedAt"] is not None and len(data["formFields"]) == 1
    assert (await client.delete(f"/api/rest/forms/{form_id}", headers=auth)).status_code == 204
    gone = await client.get(f"/api/rest/forms/{form_id}", headers=auth)
    assert gone.status_code == 404 and gone.json() == {"error": {"code": 404, "description": "Resource not found"}}


async def test_preview_answers_the_page_html(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    form_id = (await _create(client, auth))["id"]
    r = await client.get(f"/api/rest/forms/{form_id}/preview", headers=auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "<h3>Your opinion is very important to us</h3>" in page
    assert '<label for="f-form_name">Name' in page and 'placeholder="Insert your name"' in page
    assert 'type="radio" name="form_satisfaction" value="10"' in page
    assert 'src="https://tidings.test/assets/img/logo.png"' in page and ">Reject</button>" in page
    assert 'method="post"' not in page, "a preview sends nothing"


@pytest.mark.parametrize(("change", "field"), [
    ({"name": ""}, "name"),
    ({"name": None}, "name"),
    ({"formFields": []}, "formFields"),
    ({"formFields": [{"type": "slider", "label": "x"}]}, "formFields.0.type"),
    ({"formFields": [{"type": "text"}]}, "formFields.0.label"),
    ({"formFields": [{"type": "select", "label": "Plan", "options": []}]}, "formFields.0.options"),
    ({"formFields": [{"type": "textarea", "label": "x", "rows": 0}]}, "formFields.0.rows"),
    ({"logoUrl": "javascript:alert(1)"}, "logoUrl"),
    ({"editable": "maybe"}, "editable"),
])
async def test_invalid_definitions_are_422_naming_the_field_and_store_nothing(
        client: httpx.AsyncClient, auth: dict[str, str], change: dict[str, Any], field: str) -> None:
    body = {k: v for k, v in {**EXAMPLE, **change}.items() if v is not None}
    r = await client.post("/api/rest/form", json=body, headers=auth)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == 422 and field in error["fields"]
    assert (await client.get("/api/rest/forms", headers=auth)).json()["data"] == []


async def test_names_are_unique_per_account(client: httpx.AsyncClient, auth: dict[str, str], make_account: Any) -> None:
    first = await _create(client, auth)
    again = await client.post("/api/rest/form", json=EXAMPLE, headers=auth)
    assert again.status_code == 422 and again.json()["error"]["fields"] == {
        "name": ["The name has already been taken."]}
    other = await _create(client, auth, name="Other")
    taken = await client.put(f"/api/rest/forms/{other['id']}", json=EXAMPLE, headers=auth)
    assert taken.status_code == 422
    same = await client.put(f"/api/rest/forms/{first['id']}", json=EXAMPLE, headers=auth)
    assert same.status_code == 200, "a form keeps its own name"
    stranger = await make_account("Stranger", "owner@stranger.test")
    r = await client.post("/api/rest/form", json=EXAMPLE, headers=basic(stranger.username, stranger.api_password))
    assert r.status_code == 201, "another account may use the same name"


async def test_another_accounts_forms_and_guessed_ids_are_404(client: httpx.AsyncClient, auth: dict[str, str],
                                                             make_account: Any) -> None:
    form_id = (await _create(client, auth))["id"]
    stranger = await make_account("Stranger", "owner@stranger.test")
    theirs = basic(stranger.username, stranger.api_password)
    for method, path in (("GET", f"/api/rest/forms/{form_id}"), ("PUT", f"/api/rest/forms/{form_id}"),
                         ("DELETE", f"/api/rest/forms/{form_id}"), ("GET", f"/api/rest/forms/{form_id}/preview")):
        r = await client.request(method, path, headers=theirs, json=EXAMPLE if method == "PUT" else None)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"]["code"] == 404
    assert (await client.get("/api/rest/forms", headers=theirs)).json()["data"] == []
    for guess in ("1", "2", str(form_id + 1), "abc", "99999999999999999999999"):
        assert (await client.get(f"/api/rest/forms/{guess}", headers=auth)).status_code == 404
    assert (await client.get(f"/api/rest/forms/{form_id}", headers=auth)).status_code == 200


async def test_credentials_are_required(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/rest/forms")
    assert r.status_code == 401 and r.json()["error"]["code"] == 103
