"""Classification of inbound email: bounce, auto-reply, unsubscribe request or human reply.

Quote and signature stripping is done by ``mail-parser-reply``; the bounce and auto-reply rules are
our own because no maintained library covers RFC 3464, RFC 3834 and the common vendor formats together.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses, parseaddr
from typing import Literal

from mailparser_reply import EmailReplyParser

from .mime import html_to_text

__all__ = ["Classification", "Kind", "classify", "extract_body", "references_of", "reply_text_of"]

Kind = Literal["bounce", "auto_reply", "unsubscribe", "reply"]

_PARSER_LANGUAGES = ["en", "es", "fr", "de", "it", "nl"]


@dataclass(frozen=True, slots=True)
class Classification:
    """What an inbound message is; a delayed-delivery notice is an ``auto_reply`` with a 4.x.x status."""

    kind: Kind
    bounced_recipients: list[str] = field(default_factory=list)
    status: str | None = None
    permanent: bool = False
    reply_text: str = ""
    diagnostic: str | None = None
    original_message_id: str | None = None
    reason: str = ""


# --------------------------------------------------------------------------------------------
# Message ids
# --------------------------------------------------------------------------------------------

_ID_RE = re.compile(r"<([^<>\s]+)>")


def _ids(value: str | None) -> list[str]:
    if not value:
        return []
    found = _ID_RE.findall(value)
    if not found:
        # Some broken clients drop the angle brackets.
        found = [tok.strip("<>,;") for tok in value.split() if "@" in tok]
    return [f"<{i}>" for i in found if i]


def references_of(msg: Message) -> list[str]:
    """Message-IDs this message answers: In-Reply-To first, then References in header order, deduplicated."""
    out: list[str] = []
    for header in ("In-Reply-To", "References"):
        for value in msg.get_all(header) or []:
            for mid in _ids(str(value)):
                if mid not in out:
                    out.append(mid)
    return out


# --------------------------------------------------------------------------------------------
# Body extraction
# --------------------------------------------------------------------------------------------


def _decode(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _leaves(msg: Message) -> Iterator[Message]:
    """Leaf parts of the message itself, not descending into attached messages."""
    if msg.is_multipart():
        payload = msg.get_payload()
        if isinstance(payload, list):
            for part in payload:
                if isinstance(part, Message) and not part.get_content_type().startswith("message/"):
                    yield from _leaves(part)
    else:
        yield msg


def extract_body(msg: Message) -> str:
    """The message's own text: the first inline text/plain part, else its first HTML part as text."""
    html_body: str | None = None
    for part in _leaves(msg):
        if part.get_content_disposition() == "attachment":
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain":
            return _decode(part)
        if ctype == "text/html" and html_body is None:
            html_body = _decode(part)
    return html_to_text(html_body) if html_body is not None else ""


_WROTE_LINE_RE = re.compile(
    r"^\s*(?:On\b.{0,200}?\bwrote|El\b.{0,200}?\bescribi[óo]|Em\b.{0,200}?\bescreveu|Le\b.{0,200}?\ba écrit"
    r"|Am\b.{0,200}?\bschrieb|Il giorno\b.{0,200}?\bha scritto|Op\b.{0,200}?\bschreef)"
    r"\s*:?\s*$",
    re.IGNORECASE | re.MULTILINE | re.DOTALL,
)
_OUTLOOK_HEADER_RE = re.compile(
    r"^\s*(?:-{2,}\s*(?:Original Message|Mensaje original|Message d'origine|Ursprüngliche Nachricht"
    r"|Messaggio originale|Oorspronkelijk bericht|Mensagem original)\s*-{2,}"
    r"|_{10,}\s*$"
    r"|\*?(?:From|De|Von|Da|Van)\s*:\*?\s.+\n\s*\*?(?:Sent|Enviado|Envoyé|Gesendet|Inviato|Verzonden|Date|Fecha"
    r"|Data|Datum)\s*:)",
    re.IGNORECASE | re.MULTILINE,
)


def reply_text_of(body: str) -> str:
    """The new text of a reply: quotes, quote headers and signatures removed; empty if it is all quote."""
    parsed = EmailReplyParser(languages=_PARSER_LANGUAGES).read(body)
    text = parsed.replies[0].body if parsed.replies else body
    # The parser misses some quote headers (Gmail's wrapped lines, Portuguese) and returns a message
    # that is only a quote as if it were new text, so cut again.
    for rx in (_OUTLOOK_HEADER_RE, _WROTE_LINE_RE):
        m = rx.search(text)
        if m is not None:
            text = text[: m.start()]
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()


# --------------------------------------------------------------------------------------------
# Bounces
# --------------------------------------------------------------------------------------------

_STATUS_RE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_DAEMON_RE = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|bounces?|no-?reply-dsn)@", re.I)
_BOUNCE_SUBJECT_RE = re.compile(
    r"undeliver(?:ed|able)|returned mail|delivery (?:status notification \(failure\)|failure|has failed)"
    r"|mail delivery (?:failed|failure|system)|failure notice|delivery failed|could not be delivered"
    r"|non[- ]?remis|unzustellbar|nicht zustellbar|no se puede entregar|no entregado|no se pudo entregar"
    r"|non recapitabile|onbestelbaar|não entregue|devolvida|rejected",
    re.IGNORECASE,
)
_DELAY_SUBJECT_RE = re.compile(
    r"delayed mail|delivery status notification \(delay\)|delivery delayed|warning: could not send"
    r"|message delayed|still being retried|zustellung verz[öo]gert|entrega retrasada|remise diff[ée]r[ée]e",
    re.IGNORECASE,
)
# Body phrases that introduce the failed address in the common non-RFC 3464 formats.
_BODY_RECIPIENT_RES = [
    # Postfix / qmail: "<user@example.com>: host mx said: 550 ..." (at line start)
    re.compile(r"^\s*<([^<>\s]+@[^<>\s]+)>:", re.MULTILINE),
    # Gmail: "Your message wasn't delivered to user@example.com because ..."
    re.compile(
        r"(?:wasn't|was not|couldn't be|could not be) delivered to\s+<?([^\s<>]+@[^\s<>]+?)>?[\s.,]", re.I
    ),
    # Exchange: "Delivery has failed to these recipients or groups:\n\nuser@example.com (...)"
    re.compile(
        r"delivery has failed to these recipients or groups:[^@]*?([^\s<>()]+@[^\s<>()]+)", re.I
    ),
    # Exim: "could not be delivered to one or more of its recipients ... \n\n  user@example.com"
    re.compile(
        r"one or more of its\s+recipients[^\n]*\n(?:[^\n]*\n)*?\s*<?([^\s<>:]+@[^\s<>:]+?)>?\s*\n", re.I
    ),
    re.compile(r"following (?:message to|address(?:es)?(?: had permanent fatal errors)?)[^\n]*?\s*"
               r"<([^<>\s]+@[^<>\s]+)>", re.I),
    re.compile(r"RCPT TO:\s*<([^<>\s]+@[^<>\s]+)>", re.I),
    re.compile(r"^\s*(?:Final|Original)-Recipient:\s*rfc822;\s*<?([^\s<>]+@[^\s<>]+?)>?\s*$", re.I | re.M),
]


def _clean_addr(value: str) -> str:
    value = value.strip().strip("<>").strip().rstrip(".,;")
    if ";" in value:
        value = value.split(";", 1)[1].strip().strip("<>")
    return value.lower()


@dataclass(slots=True)
class _DsnRecipient:
    address: str
    action: str
    status: str | None
    diagnostic: str | None


def _parse_fields(text: str) -> list[dict[str, str]]:
    """Split a delivery-status body into its blank-line-separated groups of unfolded fields."""
    groups: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last: str | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if current:
                groups.append(current)
            current, last = {}, None
        elif line[0] in " \t" and last is not None:
            current[last] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            last = name.strip().lower()
            current[last] = value.strip()
    if current:
        groups.append(current)
    return groups


def _status_of(value: str | None) -> str | None:
    if not value:
        return None
    m = _STATUS_RE.search(value)
    return ".".join(m.groups()) if m else None


def _dsn_recipients(part: Message) -> list[_DsnRecipient]:
    payload = part.get_payload()
    texts: list[str] = []
    if isinstance(payload, list):
        # The email package parses message/delivery-status into one Message per field group.
        for block in payload:
            if isinstance(block, Message):
                texts.append("".join(f"{k}: {v}\n" for k, v in block.items()))
        text = "\n".join(texts)
    elif isinstance(payload, str):
        text = _decode(part) if part.get("Content-Transfer-Encoding") else payload
    else:
        text = ""
    out: list[_DsnRecipient] = []
    for fields in _parse_fields(text):
        addr = fields.get("final-recipient") or fields.get("original-recipient")
        if not addr:
            continue
        out.append(
            _DsnRecipient(
                address=_clean_addr(addr),
                action=fields.get("action", "").strip().lower(),
                status=_status_of(fields.get("status")),
                diagnostic=" ".join(fields["diagnostic-code"].split()) or None
                if "diagnostic-code" in fields
                else None,
            )
        )
    return out


def _original_message_id(msg: Message) -> str | None:
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message) and inner.get("Message-ID"):
                ids = _ids(str(inner["Message-ID"]))
                if ids:
                    return ids[0]
        elif ctype in ("text/rfc822-headers", "message/rfc822-headers"):
            m = re.search(r"^Message-ID:\s*(<[^<>\s]+>)", _decode(part), re.I | re.M)
            if m:
                return m.group(1)
    return None


def _report_parts(msg: Message) -> list[Message]:
    kinds = ("message/delivery-status", "message/global-delivery-status")
    return [p for p in msg.walk() if p.get_content_type() in kinds]


def _classify_dsn(msg: Message, reports: list[Message]) -> Classification | None:
    recipients = [r for part in reports for r in _dsn_recipients(part)]
    if not recipients:
        return None
    failed = [r for r in recipients if r.action == "failed"]
    original = _original_message_id(msg)
    if not failed:
        delayed = next((r for r in recipients if r.action == "delayed"), None)
        # delivered/relayed/expanded reports and delays are notices, never bounces.
        first = delayed or recipients[0]
        return Classification(
            kind="auto_reply",
            status=first.status,
            diagnostic=first.diagnostic,
            original_message_id=original,
            reason=f"delivery status notification (action: {first.action or 'unknown'})",
        )
    hard = [r for r in failed if r.status and r.status.startswith("5")]
    lead = hard[0] if hard else failed[0]
    return Classification(
        kind="bounce",
        bounced_recipients=list(dict.fromkeys(r.address for r in failed)),
        status=lead.status,
        # A failure without a status code is final: the MTA has given up.
        permanent=bool(hard) or lead.status is None,
        diagnostic=lead.diagnostic,
        original_message_id=original,
        reason="RFC 3464 delivery status notification",
    )


def _is_daemon(msg: Message) -> bool:
    _, addr = parseaddr(str(msg.get("From", "")))
    if _DAEMON_RE.match(addr):
        return True
    name = str(msg.get("From", "")).lower()
    return "mail delivery" in name or "mailer-daemon" in name or "postmaster" in name


def _body_text_for_bounce(msg: Message) -> str:
    texts = []
    for part in _leaves(msg):
        if part.get_content_type() == "text/plain":
            texts.append(_decode(part))
        elif part.get_content_type() == "text/html":
            texts.append(html_to_text(_decode(part)))
    return "\n".join(texts)


def _classify_nonstandard(msg: Message, subject: str) -> Classification | None:
    failed_header = [
        _clean_addr(a) for value in msg.get_all("X-Failed-Recipients") or [] for a in str(value).split(",")
    ]
    failed_header = [a for a in failed_header if "@" in a]
    daemon = _is_daemon(msg)
    bounce_subject = bool(_BOUNCE_SUBJECT_RE.search(subject))
    if not failed_header and not (daemon and (bounce_subject or _DELAY_SUBJECT_RE.search(subject))):
        return None
    body = _body_text_for_bounce(msg)
    status = _status_of(body)
    original = _original_message_id(msg)
    if original is None:
        # Exim and others paste the returned message inline rather than attaching it.
        inline = re.search(r"^Message-ID:\s*(<[^<>\s]+>)", body, re.I | re.M)
        original = inline.group(1) if inline else None
    if not failed_header and _DELAY_SUBJECT_RE.search(subject) and not bounce_subject:
        return Classification(
            kind="auto_reply", status=status, original_message_id=original, reason="delivery delayed notice"
        )
    recipients = list(dict.fromkeys(failed_header))
    if not recipients:
        own = {_clean_addr(a) for _, a in getaddresses([str(v) for v in msg.get_all("To") or []])}
        for rx in _BODY_RECIPIENT_RES:
            for m in rx.finditer(body):
                addr = _clean_addr(m.group(1))
                if "@" in addr and addr not in own and not _DAEMON_RE.match(addr) and addr not in recipients:
                    recipients.append(addr)
            if recipients:
                break
    smtp = re.search(r"\b([45])\d\d\b[ -]", body)
    permanent = status.startswith("5") if status else not (smtp and smtp.group(1) == "4")
    diag = re.search(r"^.*\b[45]\d\d[ -]?(?:[45]\.\d{1,3}\.\d{1,3})?.*$", body, re.M)
    return Classification(
        kind="bounce",
        bounced_recipients=recipients,
        status=status,
        permanent=permanent,
        diagnostic=diag.group(0).strip() if diag else None,
        original_message_id=original,
        reason="X-Failed-Recipients header" if failed_header else "mailer-daemon failure notice",
    )


# --------------------------------------------------------------------------------------------
# Auto-replies
# --------------------------------------------------------------------------------------------

_AUTO_PHRASES = (
    r"out of (?:the )?office|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|automatic response"
    r"|vacation reply|on vacation|on holiday|on annual leave|away from (?:the|my) office|absence notice"
    r"|respuesta autom[áa]tica|fuera de la oficina|fuera de oficina|ausente|de vacaciones"
    r"|resposta autom[áa]tica|fora do escrit[óo]rio|em f[ée]rias"
    r"|r[ée]ponse automatique|absence|absent(?:e)? du bureau|en cong[ée]s?"
    r"|abwesenheitsnotiz|automatische antwort|abwesend|nicht im b[üu]ro|au[ßs]er haus|im urlaub"
    r"|risposta automatica|fuori ufficio|fuori sede|assente|in ferie"
    r"|afwezig|automatisch antwoord|niet op kantoor|met vakantie"
)
_AUTO_SUBJECT_START_RE = re.compile(rf"^\s*[\[(]?\s*(?:auto\s*:|{_AUTO_PHRASES})", re.IGNORECASE)
_AUTO_SUBJECT_ANY_RE = re.compile(rf"\b(?:{_AUTO_PHRASES})\b", re.IGNORECASE)
_OOF_BODY_RE = re.compile(
    r"\b(?:i(?:'m| am) (?:currently |now )?(?:out of (?:the )?office|away"
    r"|on (?:vacation|holiday|leave|annual leave)|travell?ing with limited)"
    r"|out of (?:the )?office (?:until|till|from|and)|limited access to (?:my )?e-?mail"
    r"|thank you for your (?:e-?mail|message)[.,!]? i (?:am|will be)"
    r"|estoy (?:fuera de la oficina|de vacaciones|ausente)|me encuentro (?:fuera|ausente|de vacaciones)"
    r"|estou (?:fora do escrit[óo]rio|de f[ée]rias|ausente)"
    r"|je suis (?:actuellement )?(?:absente?|en cong[ée]s?|en vacances)"
    r"|ich bin (?:derzeit |zurzeit |bis .{1,30} )?(?:nicht im b[üu]ro|abwesend|im urlaub|au[ßs]er haus)"
    r"|sono (?:attualmente )?(?:fuori ufficio|assente|in ferie)"
    r"|ik ben (?:momenteel |tot .{1,30} )?(?:afwezig|met vakantie|niet op kantoor))",
    re.IGNORECASE,
)


def _auto_reply_reason(msg: Message, subject: str, reply_text: str) -> str | None:
    auto_submitted = str(msg.get("Auto-Submitted", "")).strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return f"Auto-Submitted: {auto_submitted}"
    for header in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Autogenerated", "X-AutoReply-From",
                   "X-Mail-Autoreply", "X-Vacation"):
        value = msg.get(header)
        if value is not None and str(value).strip().lower() not in ("no", "false", "0"):
            return f"{header} header"
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if precedence in ("auto_reply", "bulk", "junk"):
        return f"Precedence: {precedence}"
    if _AUTO_SUBJECT_START_RE.match(subject):
        return "auto-reply subject"
    # Outlook puts X-Auto-Response-Suppress on ordinary mail too; only trust it with an OOF-looking subject.
    suppress = str(msg.get("X-Auto-Response-Suppress", "")).lower()
    if ("oof" in suppress or "all" in suppress) and _AUTO_SUBJECT_ANY_RE.search(subject):
        return "X-Auto-Response-Suppress with auto-reply subject"
    # Body wording alone decides only for short messages whose opening says so; a human reply that
    # mentions being away further down stays a reply.
    if len(reply_text) <= 800 and _OOF_BODY_RE.search(reply_text[:300]):
        return "out-of-office wording"
    return None


# --------------------------------------------------------------------------------------------
# Unsubscribe requests
# --------------------------------------------------------------------------------------------

_UNSUB_RE = re.compile(
    r"\b(?:unsubscribe|unsub|opt(?:ed)?[- ]?out|opt (?:me|us) out"
    r"|remove (?:me|us|my (?:e-?mail|address|name))"
    r"|take (?:me|us|my (?:e-?mail|address)) off|off (?:of )?(?:your|the) (?:mailing |e-?mail |contact )?list"
    r"|stop (?:e-?mailing|sending|contacting|messaging|writing|spamming)"
    r"|(?:do not|don'?t) (?:e-?mail|contact|write|send)|no more e-?mails"
    r"|delete (?:me|my (?:e-?mail|address|data))"
    r"|darse de baja|dar(?:me|nos)? de baja|de baja|baja|no (?:me )?(?:escrib|envi|contact)\w*"
    r"|elimin\w* de (?:la|su|tu|vuestra) lista|quita(?:r)?(?:me|nos)? de"
    r"|descadastr\w*|remov\w* (?:da|de|meu)\b|cancelar (?:a )?inscri\w*"
    r"|d[ée]sabonn\w*|d[ée]sinscri\w*|retirez[- ]moi|supprimez[- ]moi|abmelden|abbestellen|austragen"
    r"|entfernen sie mich|keine (?:weiteren )?e-?mails|disiscriv\w*|cancellami|rimuov\w*mi"
    r"|afmelden|uitschrijven"
    r"|verwijder (?:mij|me|ons))\b",
    re.IGNORECASE,
)
_STOP_ONLY_RE = re.compile(
    r"^(?:stop|stopp|arr[êe]t|alto|para|basta)(?: (?:please|pls|por favor|bitte|merci))?$"
)
_MAX_UNSUB_WORDS = 15


def _is_unsubscribe(reply_text: str) -> bool:
    words = re.sub(r"[^\w'@.-]+", " ", reply_text.lower()).split()
    if not words or len(words) > _MAX_UNSUB_WORDS:
        return False
    normalized = " ".join(w.strip(".-'") for w in words)
    return bool(_STOP_ONLY_RE.match(normalized) or _UNSUB_RE.search(normalized))


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def classify(msg: Message) -> Classification:
    """Classify an inbound message; bounces win over auto-replies, which win over unsubscribe requests."""
    subject = str(msg.get("Subject", "") or "")
    reports = _report_parts(msg)
    if reports:
        dsn = _classify_dsn(msg, reports)
        if dsn is not None:
            return dsn
    nonstandard = _classify_nonstandard(msg, subject)
    if nonstandard is not None:
        return nonstandard
    reply_text = reply_text_of(extract_body(msg))
    reason = _auto_reply_reason(msg, subject, reply_text)
    if reason is not None:
        return Classification(kind="auto_reply", reply_text=reply_text, reason=reason)
    if _is_unsubscribe(reply_text):
        return Classification(kind="unsubscribe", reply_text=reply_text, reason="short unsubscribe request")
    return Classification(kind="reply", reply_text=reply_text, reason="human reply")
