"""The OpenAPI document describes every operation of the four dialects precisely (no generic objects)."""

from __future__ import annotations

from typing import Any

import pytest

from tidings.app import create_app
from tidings.config import Settings

DIALECTS = {"/api/v1": "OutreachError", "/api/rest": "NrsError", "/v1/email": "WavyError", "/v1/omni": "WavyError"}
# Free-form by the documents: custom fields, substitution data, contact info, notification extras.
FREE_FORM = {"custom_merge_fields", "custom_merge_fields[]", "substitutionData", "contactInfo", "customFields",
             "events", "settings", "sub"}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("openapi")
    settings = Settings(database_url=f"sqlite+aiosqlite:///{folder / 'x.db'}", secret_key="k", data_dir=folder)
    document: dict[str, Any] = create_app(settings).openapi()
    return document


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    return [(prefix, method, path, op) for path, ops in spec["paths"].items() for method, op in ops.items()
            for prefix in DIALECTS if path.startswith(prefix)]


def _generic(schema: dict[str, Any], components: dict[str, Any], seen: set[str], where: str) -> list[str]:
    """Places where a schema is an object of anything (or nothing at all) outside the free-form fields."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return []
        seen.add(name)
        return _generic(components[name], components, seen, name)
    found: list[str] = []
    if schema == {} or schema.get("additionalProperties") is True and not schema.get("properties"):
        found.append(where)
    for key, sub in (schema.get("properties") or {}).items():
        if key not in FREE_FORM:
            found += _generic(sub, components, seen, f"{where}.{key}")
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key) or []:
            found += _generic(sub, components, seen, where)
    if isinstance(schema.get("items"), dict):
        found += _generic(schema["items"], components, seen, f"{where}[]")
    return found


def test_every_operation_declares_its_errors_in_the_dialects_envelope(spec: dict[str, Any]) -> None:
    operations = _operations(spec)
    assert len(operations) > 80
    for prefix, method, path, op in operations:
        responses = op["responses"]
        for status in ("401", "404", "413", "422", "429"):
            assert status in responses, (method, path, status)
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": f"#/components/schemas/{DIALECTS[prefix]}"}, (method, path, status)
        assert "400" in responses or prefix == "/api/v1", (method, path)
    rest = [op for prefix, _, _, op in operations if prefix == "/api/rest"]
    assert all("402" in op["responses"] for op in rest), "insufficient balance is documented everywhere"


def test_success_answers_and_request_bodies_have_precise_models(spec: dict[str, Any]) -> None:
    components = spec["components"]["schemas"]
    vague: list[str] = []
    for _, method, path, op in _operations(spec):
        for status, response in op["responses"].items():
            for media, content in (response.get("content") or {}).items():
                if status.startswith("2") and media == "application/json":
                    vague += [f"{method} {path} {status}: {w}" for w in
                              _generic(content.get("schema", {}), components, set(), "body")]
        body = (op.get("requestBody") or {}).get("content", {}).get("application/json")
        if body is not None:
            vague += [f"{method} {path} request: {w}" for w in
                      _generic(body.get("schema", {}), components, set(), "body")]
    assert not vague, "\n".join(vague)


def test_files_are_documented_with_their_content_types(spec: dict[str, Any]) -> None:
    paths = spec["paths"]
    assert list(paths["/api/rest/sms/certificates/{message_id}"]["get"]["responses"]["200"]["content"]) == [
        "application/pdf"]
    assert list(paths["/api/rest/sendings/{sending_id}/reports/events"]["get"]["responses"]["200"]["content"]) == [
        "text/csv"]
    assert list(paths["/api/v1/campaigns/{campaign_id}/contacts/export"]["get"]["responses"]["200"]["content"]) == [
        "text/csv"]
    assert {"application/json", "text/csv", "multipart/form-data"} <= set(
        paths["/api/v1/campaigns/{campaign_id}/contacts/import"]["post"]["requestBody"]["content"])
