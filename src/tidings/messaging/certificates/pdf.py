"""The certificate as a PDF, drawn with fpdf2.

Text uses DejaVu Sans from Debian's fonts-dejavu-core (or Fedora's path) when it is installed, so
Latin, Greek, Cyrillic and many other scripts print as written; no font is shipped. A character the
font cannot draw (or, without DejaVu, any character outside Latin-1, as the PDF core fonts have no
others) is printed as `[U+XXXX]`, and so are control and format characters (zero-width, direction
marks), so that nothing in the content is silently dropped or hidden. Complex scripts are drawn
unshaped (fpdf2 shapes only with the optional uharfbuzz).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import TTFFont

from tidings.messaging.certificates.service import Certificate

FONT_DIRS: Final = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
_DEJAVU: Final = {"sans": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf", "mono": "DejaVuSansMono.ttf"}
_CORE: Final = {"sans": ("helvetica", ""), "bold": ("helvetica", "B"), "mono": ("courier", "")}
LABEL_WIDTH: Final = 42.0
LINE: Final = 5.0
CHANNEL_NAMES: Final = {"sms": "SMS", "email": "email"}


@lru_cache(maxsize=1)
def dejavu_dir() -> Path | None:
    """The directory holding the three DejaVu faces used here, or None when they are not installed."""
    for directory in FONT_DIRS:
        if all((directory / name).is_file() for name in _DEJAVU.values()):
            return directory
    return None


def printable(text: str, drawable: Callable[[int], bool]) -> str:
    """The text with every character that cannot or should not be drawn shown as [U+XXXX]."""
    out: list[str] = []
    for char in text:
        code = ord(char)
        if char == "\n":
            out.append(char)
        elif unicodedata.category(char)[0] == "C" or char in "\u2028\u2029" or not drawable(code):
            out.append(f"[U+{code:04X}]")
        else:
            out.append(char)
    return "".join(out)


class _Document(FPDF):
    """A4 pages with the code and page number in the footer."""

    def __init__(self, code: str) -> None:
        super().__init__(format="A4")
        self.code = code
        self.faces: dict[str, tuple[str, str]] = dict(_CORE)
        self.cmaps: dict[str, set[int]] = {}
        directory = dejavu_dir()
        if directory is not None:
            for face, name in _DEJAVU.items():
                family = f"dejavu-{face}"
                self.add_font(family, "", str(directory / name))
                self.faces[face] = (family, "")
                self.set_font(family, size=10)
                font = self.current_font
                if isinstance(font, TTFFont):
                    self.cmaps[face] = set(font.cmap)

    def use(self, face: str, size: float) -> None:
        family, style = self.faces[face]
        self.set_font(family, style, size)

    def safe(self, text: str, face: str) -> str:
        cmap = self.cmaps.get(face)
        if cmap is None:
            return printable(text, lambda code: 0x20 <= code < 0x7F or 0xA0 <= code <= 0xFF)
        return printable(text, cmap.__contains__)

    def footer(self) -> None:
        self.set_y(-12)
        self.use("sans", 7)
        self.set_text_color(110)
        self.cell(0, 4, self.safe(f"Verification code {self.code}  -  page {self.page_no()}/{{nb}}", "sans"),
                  align="C")
        self.set_text_color(0)


class _Writer:
    """Sections, label/value rows and paragraphs on a _Document."""

    def __init__(self, doc: _Document) -> None:
        self.doc = doc

    def heading(self, text: str) -> None:
        self.doc.ln(3)
        self.doc.use("bold", 12)
        self.doc.cell(0, 7, self.doc.safe(text, "bold"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.doc.set_draw_color(160)
        self.doc.line(self.doc.l_margin, self.doc.get_y(), self.doc.w - self.doc.r_margin, self.doc.get_y())
        self.doc.ln(1.5)

    def row(self, label: str, value: Any, *, face: str = "sans", size: float = 9.5) -> None:
        if value is None or value == "" or value == []:
            return
        self.doc.use("bold", 9.5)
        self.doc.cell(LABEL_WIDTH, LINE, self.doc.safe(label, "bold"))
        self.doc.use(face, size)
        self.doc.multi_cell(0, LINE, self.doc.safe(str(value), face), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def text(self, value: str, *, face: str = "sans", size: float = 9.5) -> None:
        self.doc.use(face, size)
        self.doc.multi_cell(0, LINE, self.doc.safe(value, face), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def note(self, value: str) -> None:
        self.doc.set_text_color(90)
        self.text(value, size=8)
        self.doc.set_text_color(0)

    def boxed(self, value: str) -> None:
        """The content exactly as sent, in a light frame."""
        self.doc.use("sans", 9.5)
        self.doc.set_fill_color(245)
        self.doc.multi_cell(0, LINE, self.doc.safe(value, "sans") or " ", border=1, fill=True, padding=2,
                            align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.doc.ln(1.5)


def _size(size: int) -> str:
    return f"{size:,} bytes".replace(",", " ")


def _message(w: _Writer, facts: dict[str, Any]) -> None:
    w.heading("Message")
    w.row("Message id", facts["message_id"])
    account = facts["account"]
    w.row("Account", f"{account['name']} (id {account['id']})")
    w.row("Channel", facts["channel"])
    sender = facts["sender"]
    w.row("Sender", f"{facts['sender_name']} <{sender}>" if facts.get("sender_name") else sender)
    w.row("Recipient", facts["recipient"])
    w.row("Cc", ", ".join(facts.get("cc") or []))
    w.row("Reply-To", facts.get("reply_to"))
    w.row("Submitted (UTC)", facts["submitted_at"])
    w.row("Scheduled for (UTC)", facts.get("scheduled_at"))
    w.row("Message-ID", facts.get("rfc_message_id"))


def _content(w: _Writer, cert: Certificate) -> None:
    facts = cert.facts
    content = facts["content"]
    w.heading("Content as sent")
    if facts["channel"] == "sms":
        w.row("Encoding, parts", f"{content.get('encoding') or '-'}, {content.get('parts')}")
        w.boxed(content["text"])
        return
    w.row("Subject", content["subject"])
    w.note("Body (a text rendering of the HTML as sent; links are shown as text (url)):")
    w.boxed(cert.body_text or "")
    w.row("Body SHA-256", content["body_sha256"], face="mono", size=8)
    w.note("SHA-256 of the body as submitted (UTF-8), merge fields filled, before the unsubscribe and tracking links.")
    attachments = content.get("attachments") or []
    if not attachments:
        w.row("Attachments", "none")
    for number, item in enumerate(attachments, start=1):
        w.row(f"Attachment {number}", f"{item['name']} ({item['type']}, {_size(item['size'])})")
        w.row("   SHA-256", item["sha256"], face="mono", size=8)


def _events(w: _Writer, facts: dict[str, Any]) -> None:
    w.heading("Delivery events (UTC)")
    if not facts["events"]:
        w.text("No event recorded.")
    doc = w.doc
    for event in facts["events"]:
        doc.use("mono", 9)
        doc.cell(LABEL_WIDTH, LINE, doc.safe(event["at"], "mono"))
        doc.use("sans", 9.5)
        shown = event["kind"] + (f"  (code {event['code']})" if event.get("code") else "")
        doc.multi_cell(0, LINE, doc.safe(shown, "sans"), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _integrity(w: _Writer, cert: Certificate) -> None:
    facts = cert.facts
    w.heading("Integrity and verification")
    digest = facts.get("content_sha256")
    w.row("Content SHA-256", digest or "not recorded", face="mono" if digest else "sans", size=8 if digest else 9.5)
    if facts["channel"] == "sms":
        w.note("SHA-256 of the text above in UTF-8, exactly as handed to the SMS provider.")
    else:
        w.note("SHA-256 of the complete message (RFC 5322 bytes: headers, body, attachments) as handed to the "
               "relay.")
    w.row("Events", f"the first {facts['through_event']}" if facts.get("version", 1) >= 2
          else f"up to event #{facts['through_event']}")
    w.row("Verification code", cert.code, face="mono", size=7.5)
    w.row("Verify at", cert.verify_url, face="mono", size=7.5)
    w.doc.ln(2)
    w.note("The verification code is an HMAC-SHA256, under this installation's secret key, of the canonical JSON "
           "(sorted keys, no whitespace, ASCII escapes) of the facts on this certificate, with the events recorded "
           "up to the event number above. The address above answers whether the code is genuine and shows the same "
           "facts without the content; its content_sha256 must equal the one printed here. Characters that cannot "
           "be printed are shown as [U+XXXX].")


def render(cert: Certificate) -> bytes:
    """The PDF bytes of one certificate."""
    doc = _Document(cert.code)
    channel = CHANNEL_NAMES.get(cert.facts["channel"], cert.facts["channel"])
    doc.set_title(f"Certificate of certified {channel} message {cert.facts['message_id']}")
    doc.set_author("Tidings")
    doc.set_creator("Tidings")
    doc.set_subject(f"Verification code {cert.code}")
    doc.set_creation_date(cert.issued_at)
    doc.set_auto_page_break(True, margin=16)
    doc.set_margins(14, 14, 14)
    doc.add_page()
    w = _Writer(doc)
    doc.use("bold", 16)
    doc.cell(0, 9, f"Certificate of a certified {channel} message", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    w.note(f"Issued {cert.issued_at.strftime('%Y-%m-%d %H:%M:%S')} UTC. It attests what was sent to whom and "
           "every delivery event recorded for the message up to its issue.")
    _message(w, cert.facts)
    _content(w, cert)
    _events(w, cert.facts)
    _integrity(w, cert)
    return bytes(doc.output())
