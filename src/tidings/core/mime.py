"""Building outgoing email: MIME structure, Message-IDs, HTML to text, click and open tracking markup.

Uses the stdlib ``email`` package (policy.SMTP) for all encoding; the HTML helpers use ``html.parser``
and narrow regexes that rewrite only what they must, so the rest of the markup is kept byte for byte.
"""

from __future__ import annotations

import functools
import html as html_lib
import random
import re
import secrets
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.contentmanager import _encode_text  # type: ignore[attr-defined]  # the stdlib's own choice of 7bit/8bit/QP/base64
from email.generator import Generator
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import format_datetime
from html.parser import HTMLParser
from typing import cast

__all__ = [
    "Attachment",
    "add_open_pixel",
    "build_email",
    "build_email_bytes",
    "html_to_text",
    "make_message_id",
    "rewrite_links",
]

# Structural headers are owned by the MIME builder; letting callers set them would corrupt the message.
_RESERVED_HEADERS = frozenset({"content-type", "content-transfer-encoding", "mime-version"})
_DOMAIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?$")


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to an email."""

    name: str
    content_type: str
    data: bytes


def make_message_id(domain: str) -> str:
    """A new globally unique Message-ID, ``<random@domain>``."""
    domain = domain.strip().lower()
    if not _DOMAIN_RE.match(domain):
        raise ValueError(f"invalid Message-ID domain: {domain!r}")
    return f"<{secrets.token_hex(16)}@{domain}>"


def _normalize_id(value: str) -> str:
    value = value.strip()
    if not value.startswith("<"):
        value = "<" + value
    if not value.endswith(">"):
        value += ">"
    return value


def _address(addr: str, name: str | None) -> Address:
    return Address(display_name=(name or "").strip(), addr_spec=addr.strip())


def build_email(
    *,
    from_addr: str,
    from_name: str | None,
    to_addr: str,
    to_name: str | None,
    subject: str,
    html: str | None,
    text: str | None,
    reply_to: str | None = None,
    cc: Sequence[str] = (),
    message_id_domain: str,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
    attachments: Sequence[Attachment] = (),
    date: datetime | None = None,
    message_id: str | None = None,
) -> tuple[EmailMessage, str]:
    """Build a ready-to-send message and return it with its Message-ID.

    HTML without text gets a generated text/plain alternative; attachments wrap the body in multipart/mixed.
    """
    msg = EmailMessage(policy=policy.SMTP)
    message_id = message_id or make_message_id(message_id_domain)
    msg["From"] = _address(from_addr, from_name)
    msg["To"] = _address(to_addr, to_name)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = message_id
    refs = [_normalize_id(r) for r in references if r.strip()]
    if in_reply_to:
        parent = _normalize_id(in_reply_to)
        msg["In-Reply-To"] = parent
        # Threading clients expect the parent to close the References chain.
        if parent not in refs:
            refs.append(parent)
    if refs:
        msg["References"] = " ".join(refs)
    for name, value in (headers or {}).items():
        if name.strip().lower() in _RESERVED_HEADERS:
            raise ValueError(f"header {name!r} cannot be set directly")
        if name in msg:
            del msg[name]
        msg[name] = value

    if text is None and html is not None:
        text = html_to_text(html)
    msg.set_content(text or "", subtype="plain", charset="utf-8")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8")
    for att in attachments:
        maintype, _, subtype = att.content_type.partition("/")
        if not maintype or not subtype or "/" in subtype:
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(att.data, maintype=maintype, subtype=subtype, filename=att.name)
    _strip_inner_mime_version(msg)
    return msg, message_id


# --------------------------------------------------------------------------------------------
# Fast path: the same bytes as build_email(...)[0].as_bytes() for the common message
# --------------------------------------------------------------------------------------------

_SMTP = policy.SMTP
# A header value the stdlib would write back unchanged: printable ASCII words separated by single
# spaces, no encoded-word marker and no comment or quoting characters it could normalise.
_PLAIN_VALUE_RE = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")
_PLAIN_NAME_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_PLAIN_ADDR_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                            r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_NEWLINES_RE = re.compile(r"\r\n|\r|\n")
_ADDRESS_HEADERS = frozenset({"from", "to"})


_MAX_LINE = _SMTP.max_line_length or 78


@functools.lru_cache(maxsize=256)
def _unstructured(name: str) -> bool:
    """Whether the header registry parses this header as free text (not an address, date or id)."""
    registry = cast(HeaderRegistry, _SMTP.header_factory)
    return len(name) + 1 <= _MAX_LINE and issubclass(registry[name], UnstructuredHeader)


def _plain(line: str) -> bool:
    return len(line) <= _MAX_LINE and "=?" not in line and "(" not in line and '"' not in line


def _header(name: str, value: str) -> bytes:
    """One folded header line, as the SMTP policy's generator writes it."""
    if isinstance(value, str) and _PLAIN_VALUE_RE.fullmatch(value):
        line = f"{name}: {value}"
        if _plain(line):
            return line.encode("ascii") + b"\r\n"
        if " " not in value and _plain(" " + value) and _unstructured(name):
            # One word too long for the first line but not for a line of its own (a List-Unsubscribe
            # URL): the generator moves it to a continuation line.
            return f"{name}:\r\n {value}\r\n".encode("ascii")
    stored_name, stored = _SMTP.header_store_parse(name, value)
    return _SMTP.fold_binary(stored_name, stored)


def _address_header(name: str, addr: str, display: str | None) -> bytes:
    """From/To as the header registry writes `_address(addr, display)`, without parsing the plain case."""
    addr, display = addr.strip(), (display or "").strip()
    if (not display or _PLAIN_NAME_RE.fullmatch(display)) and _PLAIN_ADDR_RE.fullmatch(addr):
        line = f"{name}: {display} <{addr}>" if display else f"{name}: {addr}"
        if _plain(line):
            return line.encode("ascii") + b"\r\n"
    stored_name, stored = _SMTP.header_store_parse(name, _address(addr, display))
    return _SMTP.fold_binary(stored_name, stored)


@functools.lru_cache(maxsize=8)
def _date_header(second: datetime, _offset: object) -> bytes:
    """The Date header line of one second (a batch builds many in the same second); the offset is in the key
    because datetimes of the same instant in different zones are equal, and their headers are not."""
    return _header("Date", format_datetime(second))


_BOUNDARY_WIDTH = len(repr(sys.maxsize - 1))


def _boundary(text: str) -> str:
    """A boundary as the generator makes one; the stdlib's own check runs when it could collide."""
    boundary = "=" * 15 + f"{random.randrange(sys.maxsize):0{_BOUNDARY_WIDTH}d}" + "=="
    if "--" + boundary in text:
        return str(Generator._make_boundary(text))  # type: ignore[attr-defined]
    return boundary


def _body(text: str, subtype: str) -> tuple[bytes, str]:
    """A text part's headers and body, encoded as set_content(charset="utf-8") would, and its text."""
    cte, payload = _encode_text(text, "utf-8", None, _SMTP)
    headers = (f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n'
               .encode("ascii"))
    return headers, _NEWLINES_RE.sub("\r\n", payload)


def build_email_bytes(
    *,
    from_addr: str,
    from_name: str | None,
    to_addr: str,
    to_name: str | None,
    subject: str,
    html: str | None,
    text: str | None,
    reply_to: str | None = None,
    cc: Sequence[str] = (),
    message_id_domain: str,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
    attachments: Sequence[Attachment] = (),
    date: datetime | None = None,
    message_id: str | None = None,
) -> tuple[bytes, str]:
    """`build_email` serialised: the same bytes, built directly for a message without attachments.

    Header values the stdlib would change (encoded words, long lines, quoting) are folded by the
    stdlib itself, and anything unusual (attachments, a custom header naming a standard one,
    reserved headers) goes through `build_email`, so the output is always what it would write.
    """
    extra = dict(headers or {})
    names = [n.strip().lower() for n in extra]
    standard = {"from", "to", "cc", "reply-to", "subject", "date", "message-id", "in-reply-to", "references"}
    if attachments or len(set(names)) != len(names) or standard.intersection(names) or \
            _RESERVED_HEADERS.intersection(names) or any(n != n.strip() or not n for n in extra):
        msg, message_id = build_email(
            from_addr=from_addr, from_name=from_name, to_addr=to_addr, to_name=to_name, subject=subject, html=html,
            text=text, reply_to=reply_to, cc=cc, message_id_domain=message_id_domain, in_reply_to=in_reply_to,
            references=references, headers=headers, attachments=attachments, date=date, message_id=message_id)
        return msg.as_bytes(), message_id
    message_id = message_id or make_message_id(message_id_domain)
    out = [_address_header("From", from_addr, from_name), _address_header("To", to_addr, to_name)]
    if cc:
        out.append(_header("Cc", ", ".join(cc)))
    if reply_to:
        out.append(_header("Reply-To", reply_to))
    out.append(_header("Subject", subject))
    when = date or datetime.now(UTC)
    out.append(_date_header(when.replace(microsecond=0), when.utcoffset()))
    out.append(_header("Message-ID", message_id))
    refs = [_normalize_id(r) for r in references if r.strip()]
    if in_reply_to:
        parent = _normalize_id(in_reply_to)
        out.append(_header("In-Reply-To", parent))
        if parent not in refs:
            refs.append(parent)
    if refs:
        out.append(_header("References", " ".join(refs)))
    for name, value in extra.items():
        out.append(_header(name, value))
    if text is None and html is not None:
        text = html_to_text(html)
    plain_headers, plain = _body(text or "", "plain")
    if html is None:
        out += [plain_headers, b"MIME-Version: 1.0\r\n\r\n", plain.encode("ascii", "surrogateescape")]
        return b"".join(out), message_id
    html_headers, marked_up = _body(html, "html")
    boundary = _boundary(plain + "\r\n" + marked_up)
    # The boundary has a fixed width, so the stdlib always folds this header before it.
    out += [b"MIME-Version: 1.0\r\n", f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'
            .encode("ascii"), f"--{boundary}\r\n".encode("ascii"), plain_headers, b"\r\n",
            plain.encode("ascii", "surrogateescape"), f"\r\n--{boundary}\r\n".encode("ascii"), html_headers, b"\r\n",
            marked_up.encode("ascii", "surrogateescape"), f"\r\n--{boundary}--\r\n".encode("ascii")]
    return b"".join(out), message_id


def _strip_inner_mime_version(msg: EmailMessage) -> None:
    # The email package stamps MIME-Version on every subpart; it belongs on the top level only.
    for part in msg.walk():
        if part is not msg and "MIME-Version" in part:
            del part["MIME-Version"]


# --------------------------------------------------------------------------------------------
# HTML to text
# --------------------------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset", "figcaption",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "main", "nav",
        "ol", "p", "pre", "section", "table", "tr", "ul",
    }
)
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._pre = 0
        self._links: list[tuple[str | None, int]] = []

    def _newline(self, count: int = 1) -> None:
        self.parts.append("\n" * count)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "br":
            self._newline()
        elif tag == "li":
            self._newline()
            self.parts.append("- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag == "a":
            self._links.append((dict(attrs).get("href"), len(self.parts)))
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and not self._skip:
                self.parts.append(alt)
        if tag in _BLOCK_TAGS:
            self._newline(2)
        if tag == "pre":
            self._pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "a":
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag == "a" and self._links:
            href, start = self._links.pop()
            label = re.sub(r"\s+", " ", "".join(self.parts[start:])).strip()
            if href and re.match(r"(?i)^(https?:|mailto:)", href.strip()):
                url = href.strip()
                shown = url[7:] if url.lower().startswith("mailto:") else url
                if not label:
                    self.parts.append(url)
                elif label.rstrip("/") not in (url.rstrip("/"), shown):
                    self.parts.append(f" ({url})")
        if tag in _BLOCK_TAGS:
            self._newline(2)
        if tag == "pre":
            self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            self.parts.append(data.replace("\n", "\x00"))
        else:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Readable plain text for an HTML body; links are kept as ``text (url)``."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    raw = "".join(parser.parts)
    lines = [re.sub(r"[ \t\xa0]+", " ", line).strip() for line in raw.split("\n")]
    text = "\n".join(lines).replace("\x00", "\n")
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


# --------------------------------------------------------------------------------------------
# Tracking
# --------------------------------------------------------------------------------------------

_A_TAG_RE = re.compile(r"<a\b[^>]*>", re.IGNORECASE)
_HREF_RE = re.compile(r"""(\bhref\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
_BODY_CLOSE_RE = re.compile(r"</body\s*>", re.IGNORECASE)


def rewrite_links(
    html: str,
    make_url: Callable[[str], str],
    skip: Callable[[str], bool] | None = None,
) -> str:
    """Replace http(s) hrefs of ``<a>`` tags with ``make_url(original)`` for click tracking.

    Other schemes (mailto:, tel:), fragments, placeholders and URLs where ``skip`` is true stay as written.
    """

    def tag(m: re.Match[str]) -> str:
        markup = m.group(0)
        h = _HREF_RE.search(markup)
        if h is None:
            return markup
        raw = next(g for g in (h.group(2), h.group(3), h.group(4)) if g is not None)
        url = html_lib.unescape(raw).strip()
        if not re.match(r"(?i)^https?://", url) or (skip is not None and skip(url)):
            return markup
        new = f'{h.group(1)}"{html_lib.escape(make_url(url), quote=True)}"'
        return markup[: h.start()] + new + markup[h.end() :]

    return _A_TAG_RE.sub(tag, html)


def add_open_pixel(html: str, pixel_url: str) -> str:
    """Insert a 1x1 tracking image before the last ``</body>``, or append it when there is none."""
    pixel = (
        f'<img src="{html_lib.escape(pixel_url, quote=True)}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0;" />'
    )
    closes = list(_BODY_CLOSE_RE.finditer(html))
    if not closes:
        return html + pixel
    at = closes[-1].start()
    return html[:at] + pixel + html[at:]
