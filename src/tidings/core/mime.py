"""Building outgoing email: MIME structure, Message-IDs, HTML to text, click and open tracking markup.

Uses the stdlib ``email`` package (policy.SMTP) for all encoding; the HTML helpers use ``html.parser``
and narrow regexes that rewrite only what they must, so the rest of the markup is kept byte for byte.
"""

from __future__ import annotations

import html as html_lib
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from html.parser import HTMLParser

__all__ = [
    "Attachment",
    "add_open_pixel",
    "build_email",
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
) -> tuple[EmailMessage, str]:
    """Build a ready-to-send message and return it with its Message-ID.

    HTML without text gets a generated text/plain alternative; attachments wrap the body in multipart/mixed.
    """
    msg = EmailMessage(policy=policy.SMTP)
    message_id = make_message_id(message_id_domain)
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
