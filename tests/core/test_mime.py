"""Tests for outgoing MIME building and tracking markup."""

from __future__ import annotations

import email
import re
from email import policy
from typing import Any

import pytest

from tidings.core.mime import (
    Attachment,
    add_open_pixel,
    build_email,
    build_email_bytes,
    html_to_text,
    make_message_id,
    rewrite_links,
)

BASE: dict[str, Any] = {
    "from_addr": "sam@acme.example",
    "from_name": "Sam Carter",
    "to_addr": "ann@globex.example",
    "to_name": "Ann Lee",
    "subject": "Quick question",
    "message_id_domain": "acme.example",
}


def roundtrip(msg: email.message.EmailMessage) -> email.message.EmailMessage:
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def test_make_message_id_is_unique_and_well_formed() -> None:
    ids = {make_message_id("acme.example") for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"<[0-9a-f]{32}@acme\.example>", i) for i in ids)


@pytest.mark.parametrize("domain", ["", "bad domain", "a@b", "<x>"])
def test_make_message_id_rejects_bad_domain(domain: str) -> None:
    with pytest.raises(ValueError):
        make_message_id(domain)


def test_text_only_message() -> None:
    msg, mid = build_email(**BASE, html=None, text="Hello Ann")
    parsed = roundtrip(msg)
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content().strip() == "Hello Ann"
    assert parsed["Message-ID"] == mid
    assert str(parsed["From"]) == "Sam Carter <sam@acme.example>"
    assert str(parsed["To"]) == "Ann Lee <ann@globex.example>"
    assert parsed["Date"] is not None


def test_html_only_gets_generated_text_alternative() -> None:
    html = '<p>Hi Ann,</p><p>See <a href="https://acme.example/demo">the demo</a>.</p>'
    msg, _ = build_email(**BASE, html=html, text=None)
    parsed = roundtrip(msg)
    assert parsed.get_content_type() == "multipart/alternative"
    plain = parsed.get_body(("plain",))
    rich = parsed.get_body(("html",))
    assert plain is not None and rich is not None
    assert "the demo (https://acme.example/demo)" in plain.get_content()
    assert rich.get_content().strip() == html


def test_attachments_wrap_alternative_in_mixed() -> None:
    msg, _ = build_email(
        **BASE,
        html="<p>Hi</p>",
        text="Hi",
        attachments=[Attachment("propuesta año.pdf", "application/pdf", b"%PDF-1.4 data")],
    )
    parsed = roundtrip(msg)
    assert parsed.get_content_type() == "multipart/mixed"
    parts = list(parsed.iter_parts())
    assert parts[0].get_content_type() == "multipart/alternative"
    attachments = list(parsed.iter_attachments())
    assert len(attachments) == 1
    assert attachments[0].get_filename() == "propuesta año.pdf"
    assert attachments[0].get_content() == b"%PDF-1.4 data"
    assert "MIME-Version" not in parts[0]


def test_bad_attachment_content_type_falls_back_to_octet_stream() -> None:
    msg, _ = build_email(**BASE, html=None, text="x", attachments=[Attachment("a.bin", "garbage", b"\x00")])
    att = next(roundtrip(msg).iter_attachments())
    assert att.get_content_type() == "application/octet-stream"


def test_threading_headers() -> None:
    msg, _ = build_email(
        **BASE, html=None, text="x", in_reply_to="parent@acme.example", references=["<root@acme.example>"]
    )
    assert msg["In-Reply-To"] == "<parent@acme.example>"
    assert msg["References"] == "<root@acme.example> <parent@acme.example>"


def test_reply_to_cc_and_custom_headers() -> None:
    msg, _ = build_email(
        **BASE,
        html=None,
        text="x",
        reply_to="replies@acme.example",
        cc=["Boss <boss@acme.example>", "x@acme.example"],
        headers={"List-Unsubscribe": "<https://acme.example/u/1>", "Subject": "Override"},
    )
    parsed = roundtrip(msg)
    assert parsed["Reply-To"] == "replies@acme.example"
    assert [a.addr_spec for a in parsed["Cc"].addresses] == ["boss@acme.example", "x@acme.example"]
    assert parsed["List-Unsubscribe"] == "<https://acme.example/u/1>"
    assert parsed.get_all("Subject") == ["Override"]


def test_structural_and_injected_headers_are_rejected() -> None:
    with pytest.raises(ValueError):
        build_email(**BASE, html=None, text="x", headers={"Content-Type": "text/html"})
    with pytest.raises(ValueError):
        build_email(**BASE, html=None, text="x", headers={"X-Tag": "a\r\nBcc: evil@example.com"})


def test_non_ascii_names_and_subject_roundtrip() -> None:
    msg, _ = build_email(**{**BASE, "from_name": "José Núñez", "subject": "Propuesta para Año Nuevo"},
                         html=None, text="¡Hola!")
    parsed = roundtrip(msg)
    assert parsed["Subject"] == "Propuesta para Año Nuevo"
    assert parsed["From"].addresses[0].display_name == "José Núñez"
    assert parsed.get_content().strip() == "¡Hola!"
    assert all(ord(c) < 128 for c in msg.as_string())


class TestHtmlToText:
    def test_blocks_lists_and_breaks(self) -> None:
        html = "<h1>Title</h1><p>One<br>Two</p><ul><li>a</li><li>b</li></ul>"
        assert html_to_text(html) == "Title\n\nOne\nTwo\n\n- a\n- b"

    def test_links_keep_urls(self) -> None:
        html = '<a href="https://x.io/p?a=1&amp;b=2">Pricing</a> <a href="https://x.io">https://x.io</a>'
        assert html_to_text(html) == "Pricing (https://x.io/p?a=1&b=2) https://x.io"

    def test_drops_head_style_and_script(self) -> None:
        html = (
            "<html><head><title>T</title><style>p{color:red}</style></head>"
            "<body><script>x()</script>Hi</body>"
        )
        assert html_to_text(html) == "Hi"

    def test_entities_and_whitespace(self) -> None:
        assert html_to_text("<p>Fish &amp;   chips\n  &euro;5</p>") == "Fish & chips €5"


class TestRewriteLinks:
    def test_rewrites_http_links_only(self) -> None:
        html = (
            '<a href="https://acme.example/a?x=1&amp;y=2" class="btn">A</a>'
            "<a href='http://b.example'>B</a>"
            '<a href="mailto:sam@acme.example">M</a><a href="#top">T</a><a name="n">N</a>'
            '<a href="tel:+34600000000">P</a>'
        )
        seen: list[str] = []

        def track(url: str) -> str:
            seen.append(url)
            return f"https://t.example/c/{len(seen)}?u=1&v=2"

        out = rewrite_links(html, track)
        assert seen == ["https://acme.example/a?x=1&y=2", "http://b.example"]
        assert '<a href="https://t.example/c/1?u=1&amp;v=2" class="btn">A</a>' in out
        assert '<a href="https://t.example/c/2?u=1&amp;v=2">B</a>' in out
        assert '<a href="mailto:sam@acme.example">M</a><a href="#top">T</a><a name="n">N</a>' in out

    def test_skip_predicate_leaves_unsubscribe_alone(self) -> None:
        html = '<a href="https://acme.example/u/abc">Unsubscribe</a> <A HREF="https://acme.example/p">p</A>'
        out = rewrite_links(html, lambda u: "https://t.example/x", skip=lambda u: "/u/" in u)
        assert out == '<a href="https://acme.example/u/abc">Unsubscribe</a> <A HREF="https://t.example/x">p</A>'

    def test_text_outside_tags_untouched(self) -> None:
        html = "<p>Visit https://acme.example today</p>"
        assert rewrite_links(html, lambda u: "X") == html


class TestOpenPixel:
    def test_inserted_before_closing_body(self) -> None:
        out = add_open_pixel("<html><body><p>Hi</p></BODY></html>", "https://t.example/o.gif?a=1&b=2")
        assert out.startswith("<html><body><p>Hi</p><img ")
        assert out.endswith("</BODY></html>")
        assert 'src="https://t.example/o.gif?a=1&amp;b=2"' in out

    def test_appended_without_body(self) -> None:
        out = add_open_pixel("<p>Hi</p>", "https://t.example/o.gif")
        assert out.startswith("<p>Hi</p><img ") and out.endswith("/>")


def test_date_header_of_the_fast_builder_keeps_each_zone() -> None:
    from datetime import UTC, datetime, timedelta, timezone
    from email.utils import format_datetime

    instant = datetime(2026, 12, 2, 7, 50, 1, 999_999, tzinfo=UTC)
    madrid = instant.astimezone(timezone(timedelta(hours=1)))
    dates = []
    for when in (instant, madrid, instant + timedelta(microseconds=1)):
        raw, _ = build_email_bytes(from_addr="a@acme.test", from_name=None, to_addr="b@globex.test",
                                   to_name=None, subject="Hi", html=None, text="Hello",
                                   message_id_domain="acme.test", date=when)
        dates.append(next(line for line in raw.split(b"\r\n") if line.startswith(b"Date: ")).decode())
    assert dates[0] == "Date: " + format_datetime(instant) == "Date: Wed, 02 Dec 2026 07:50:01 +0000"
    assert dates[1] == "Date: " + format_datetime(madrid) == "Date: Wed, 02 Dec 2026 08:50:01 +0100"
    assert dates[2] == "Date: Wed, 02 Dec 2026 07:50:02 +0000", "the next second is a new header"
