"""Form definitions and answers are checked by the rules of the annex, server-side."""

from __future__ import annotations

from typing import Any

import pytest

from tidings.core.errors import ValidationFailed
from tidings.messaging.forms import fields

EVERY_TYPE: list[dict[str, Any]] = [
    {"type": "h1", "label": "Title"}, {"type": "h2", "label": "Sub"}, {"type": "h3", "label": "h3"},
    {"type": "h4", "label": "h4"}, {"type": "p", "label": "Text"}, {"type": "blockquote", "label": "Quote"},
    {"type": "text", "label": "Name", "required": True, "customField": "name"},
    {"type": "password", "label": "Pin", "customField": "pin"},
    {"type": "email", "label": "Email", "customField": "email"},
    {"type": "number", "label": "Age", "customField": "age"},
    {"type": "textarea", "label": "Notes", "customField": "notes", "rows": 5},
    {"type": "date", "label": "Birthday", "customField": "birthday"},
    {"type": "color", "label": "Colour", "customField": "colour"},
    {"type": "countrySelector", "label": "Country", "customField": "country"},
    {"type": "select", "label": "Plan", "customField": "plan", "options": [{"label": "A", "value": "a"}]},
    {"type": "radio", "label": "Score", "customField": "score",
     "options": [{"label": "Good", "value": "10"}, {"label": "Bad", "value": "2"}]},
    {"type": "checkbox", "label": "Terms", "required": True, "customField": "terms"},
]


def test_every_element_of_the_annex_is_kept_with_its_keys() -> None:
    stored = fields.check_definition(EVERY_TYPE)
    assert [e["type"] for e in stored] == [e["type"] for e in EVERY_TYPE]
    assert stored[0] == {"type": "h1", "label": "Title"}, "static elements keep no input keys"
    assert stored[10]["rows"] == 5 and stored[15]["options"][0] == {"label": "Good", "value": "10"}
    assert stored[6] == {"type": "text", "label": "Name", "required": True, "customField": "name"}


@pytest.mark.parametrize(("elements", "field"), [
    ([{"type": "h1", "label": "Only a title"}], "formFields"),
    ([{"type": "select", "label": "Plan", "options": []}], "formFields.0.options"),
    ([{"type": "text", "label": "x", "options": [{"label": "a", "value": "a"}]}], "formFields.0.options"),
    ([{"type": "radio", "label": "x", "options": [{"label": "a", "value": "1"}, {"label": "b", "value": "1"}]}],
     "formFields.0.options"),
    ([{"type": "text", "label": "a", "customField": "dup"}, {"type": "email", "label": "b", "customField": "dup"}],
     "formFields.1.customField"),
    ([{"type": "text", "label": "a", "customField": "_action"}], "formFields.0.customField"),
    ([{"type": "text", "label": "a", "customField": "has space"}], "formFields.0.customField"),
])
def test_definitions_the_page_could_not_honour_are_refused_naming_the_element(
        elements: list[dict[str, Any]], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        fields.check_definition(elements)
    assert list(caught.value.fields) == [field]


def test_valid_answers_are_normalised() -> None:
    stored = fields.check_definition(EVERY_TYPE)
    checked = fields.check_answers(stored, {
        "name": "  Ann ", "pin": " 12 ", "email": "Ann@Example.test", "age": "41.50", "notes": "hi",
        "birthday": "1985-02-03", "colour": "#A0B0C0", "country": "es", "plan": "a", "score": "10", "terms": "1"})
    assert checked.errors == {}
    assert checked.values == {"name": "Ann", "pin": " 12 ", "email": "Ann@example.test", "age": "41.50",
                              "notes": "hi", "birthday": "1985-02-03", "colour": "#a0b0c0", "country": "ES",
                              "plan": "a", "score": "10", "terms": "1"}


def test_wrong_and_missing_answers_are_reported_per_field() -> None:
    stored = fields.check_definition(EVERY_TYPE)
    checked = fields.check_answers(stored, {
        "email": "nope", "age": "1e5", "birthday": "2020-02-30", "colour": "red", "country": "XX", "plan": "b",
        "score": "11", "notes": "x" * (fields.MAX_TEXTAREA + 1), "pin": "a\x00b"})
    assert set(checked.errors) == {"name", "email", "age", "birthday", "colour", "country", "plan", "score",
                                   "notes", "terms", "pin"}
    assert checked.errors["name"] == "This field is required."
    assert checked.errors["terms"] == "This box must be checked."


def test_optional_empty_answers_are_left_out_and_an_unchecked_box_is_0() -> None:
    stored = fields.check_definition([{"type": "text", "label": "a"}, {"type": "checkbox", "label": "b"}])
    checked = fields.check_answers(stored, {})
    assert checked.errors == {} and checked.values == {"field_2": "0"}, "no customField: field_<n>"
