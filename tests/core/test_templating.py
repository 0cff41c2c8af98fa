"""Tests for the outreach, 360nrs and Wavy template syntaxes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.core.templating import (
    MissingFieldError,
    fields_used,
    missing_fields,
    render_custom_fields,
    render_outreach,
    render_tags,
)

FIELDS = {"first_name": "Ann", "company": "Acme", "fav color": "green", "last_name": None}


class TestOutreachMergeFields:
    def test_replaces_standard_and_custom_fields(self) -> None:
        out = render_outreach("Hi {{first_name}} at {{company}}, you like {{fav color}}", FIELDS, "s")
        assert out == "Hi Ann at Acme, you like green"

    def test_names_are_case_insensitive_and_trimmed(self) -> None:
        assert render_outreach("{{ First_Name }}/{{COMPANY}}", FIELDS, "s") == "Ann/Acme"

    def test_spaces_dashes_and_underscores_are_equivalent(self) -> None:
        assert render_outreach("{{fav_color}} {{Fav-Color}}", FIELDS, "s") == "green green"

    def test_fallback_used_when_missing_or_blank(self) -> None:
        fields = {"first_name": "  ", "company": None}
        assert render_outreach("Hi {{first_name|there}} from {{company|your team}}", fields, "s") == (
            "Hi there from your team"
        )

    def test_empty_fallback(self) -> None:
        assert render_outreach("Hi {{first_name|}}!", {}, "s") == "Hi !"

    def test_fallback_ignored_when_value_present(self) -> None:
        assert render_outreach("Hi {{first_name|there}}", FIELDS, "s") == "Hi Ann"

    def test_missing_field_without_fallback_raises_with_all_names(self) -> None:
        with pytest.raises(MissingFieldError) as exc:
            render_outreach("{{last_name}} {{title}} {{last_name}} {{x|ok}}", FIELDS, "s")
        assert exc.value.field_names == ["last_name", "title"]

    def test_fields_used_and_missing_fields(self) -> None:
        template = "{Hi {{first_name}}|Hello {{nickname|friend}}} {{Company}} {{title}}"
        assert fields_used(template) == {"first_name", "nickname", "company", "title"}
        assert missing_fields(template, FIELDS) == ["title"]
        assert missing_fields(template, {**FIELDS, "Title": "CEO"}) == []

    def test_values_are_trimmed(self) -> None:
        assert render_outreach("[{{company}}]", {"company": "  Acme  "}, "s") == "[Acme]"

    def test_lone_braces_and_css_are_left_alone(self) -> None:
        template = "<style>p { color: red; }</style> {not spintax} {{}} { and }}"
        assert render_outreach(template, {}, "s") == template


class TestSpintax:
    def test_deterministic_for_a_seed(self) -> None:
        template = "{Hi|Hello|Hey} {there|friend}"
        outs = {render_outreach(template, {}, "contact-1:step-2") for _ in range(5)}
        assert len(outs) == 1

    def test_varies_across_seeds(self) -> None:
        outs = {render_outreach("{a|b|c|d}", {}, f"seed-{i}") for i in range(100)}
        assert outs == {"a", "b", "c", "d"}

    def test_nested(self) -> None:
        outs = {render_outreach("{x {1|2}|y}", {}, f"seed-{i}") for i in range(100)}
        assert outs == {"x 1", "x 2", "y"}

    def test_merge_field_with_fallback_inside_spintax(self) -> None:
        outs = {render_outreach("{Hi {{first_name|there}}|Hello}", {}, f"s{i}") for i in range(50)}
        assert outs == {"Hi there", "Hello"}

    def test_empty_option_allowed(self) -> None:
        outs = {render_outreach("a{|!}", {}, f"s{i}") for i in range(50)}
        assert outs == {"a", "a!"}

    def test_missing_field_in_any_branch_raises_regardless_of_seed(self) -> None:
        for i in range(10):
            with pytest.raises(MissingFieldError):
                render_outreach("{Hi {{first_name}}|Hello}", {}, f"s{i}")

    @given(st.text(alphabet="{}|ab ", max_size=30), st.text(max_size=10))
    def test_never_crashes_on_arbitrary_braces(self, template: str, seed: str) -> None:
        # A field without fallback ("{{a}}") is the documented MissingFieldError, not a crash.
        try:
            out = render_outreach(template, {}, seed)
        except MissingFieldError:
            with pytest.raises(MissingFieldError):
                render_outreach(template, {}, seed)
            return
        assert render_outreach(template, {}, seed) == out


class TestCustomFields:
    @pytest.mark.parametrize(
        ("template", "expected"),
        [
            ("{name|lower}", "my name"),
            ("{name|upper}", "MY NAME"),
            ("{name|capitalize}", "My name"),
            ("{name|capitalizeAll}", "My Name"),
            ("{number|formatDotComma}", "1.234,56"),
            ("{number|formatCommaDot}", "1,234.56"),
        ],
    )
    def test_documented_filters(self, template: str, expected: str) -> None:
        assert render_custom_fields(template, {"name": "mY nAME", "number": "1234.56"}) == expected

    @pytest.mark.parametrize(
        ("value", "dot_comma", "comma_dot"),
        [
            ("1234567", "1.234.567", "1,234,567"),
            ("1234,5", "1.234,5", "1,234.5"),
            ("-1000.25", "-1.000,25", "-1,000.25"),
            ("999", "999", "999"),
            ("1,234,567", "1.234.567", "1,234,567"),
            ("1.234.567,89", "1.234.567,89", "1,234,567.89"),
            ("n/a", "n/a", "n/a"),
        ],
    )
    def test_number_formats(self, value: str, dot_comma: str, comma_dot: str) -> None:
        assert render_custom_fields("{v|formatDotComma}", {"v": value}) == dot_comma
        assert render_custom_fields("{v|formatCommaDot}", {"v": value}) == comma_dot

    def test_shorten_uses_callback_for_valid_urls_only(self) -> None:
        def short(url: str) -> str:
            return "https://sms.tl/xxxxxx"

        values = {"url": "https://example.com/a/long/path", "bad": "not a url"}
        assert render_custom_fields("{url|shorten}", values, shorten=short) == "https://sms.tl/xxxxxx"
        assert render_custom_fields("{bad|shorten}", values, shorten=short) == "not a url"
        assert render_custom_fields("{url|shorten}", values) == "https://example.com/a/long/path"

    def test_field_names_match_case_insensitively(self) -> None:
        assert render_custom_fields("Hello {NAME}", {"name": "Ana"}) == "Hello Ana"

    def test_filters_chain(self) -> None:
        assert render_custom_fields("{n|lower|capitalizeAll}", {"n": "JOHN SMITH"}) == "John Smith"

    def test_unknown_fields_and_filters_are_left_as_written(self) -> None:
        assert render_custom_fields("{foo} {name|bogus} {OTP_CODE}", {"name": "x"}) == (
            "{foo} {name|bogus} {OTP_CODE}"
        )

    def test_unsubscribe_placeholders(self) -> None:
        template = 'Stop: {UNSUB_URL} <a href="[unsubscribe_link]">x</a>'
        assert render_custom_fields(template, {}, unsub_url="https://u.io/1") == (
            'Stop: https://u.io/1 <a href="https://u.io/1">x</a>'
        )
        assert render_custom_fields(template, {}) == template

    def test_empty_value_renders_empty(self) -> None:
        assert render_custom_fields("[{name}]", {"name": ""}) == "[]"


class TestTags:
    def test_replaces_and_blanks_unknown(self) -> None:
        out = render_tags("<p>Hi, {{name}}{{ missing }}!</p>", {"name": "Recipient-1"})
        assert out == "<p>Hi, Recipient-1!</p>"

    def test_dotted_paths_and_types(self) -> None:
        data = {"order": {"id": 42, "items": ["a", "b"]}, "vip": True, "none": None}
        assert render_tags("{{order.id}} {{order.items.1}} {{vip}} [{{none}}]", data) == "42 b true []"

    def test_escape_option_and_triple_braces(self) -> None:
        data = {"x": "<b>&</b>"}
        assert render_tags("{{x}}|{{{x}}}", data, escape=True) == "&lt;b&gt;&amp;&lt;/b&gt;|<b>&</b>"
        assert render_tags("{{x}}", data) == "<b>&</b>"
