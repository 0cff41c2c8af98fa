"""Personalising one step for one contact: A/B variant, merge fields with fallbacks, spintax.

A step's own subject and body are variant 0 and each entry of `variants` is variant 1, 2 ...;
a variant without a subject uses the step's. A body with HTML tags is sent as HTML (the text
alternative is derived from it); a plain body keeps its line breaks in both parts.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from tidings.core.headerfields import one_line
from tidings.core.templating import merge_values, render_values
from tidings.db.models import Step

_TAG_RE = re.compile(r"<[a-zA-Z][^>]*>")


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str | None


def variants_of(step: Step) -> list[tuple[str, str]]:
    """(subject, body) templates of every variant of the step, the step's own first."""
    out = [(step.subject or "", step.body or "")]
    for variant in step.variants or []:
        if isinstance(variant, dict) and str(variant.get("body") or "").strip():
            out.append((str(variant.get("subject") or "") or (step.subject or ""), str(variant["body"])))
    return out


def pick_variant(counts: Mapping[int, int], how_many: int) -> int:
    """The variant sent least so far (lowest index on ties), which splits sends evenly."""
    return min(range(how_many), key=lambda i: (counts.get(i, 0), i))


def render_step(step: Step, variant: int, fields: Mapping[str, str | None], seed: str,
                first_subject: str | None) -> Rendered:
    """Render a variant; raises MissingFieldError when a field without fallback is empty.

    A follow-up without a subject of its own replies to the thread: "Re: " + the first subject.
    """
    subject_t, body_t = variants_of(step)[variant]
    values = merge_values(fields)
    # A merged value may span lines (custom fields, addresses); a header cannot.
    subject = one_line(render_values(subject_t, values, seed + ":s")).strip() if subject_t.strip() else ""
    body = render_values(body_t, values, seed + ":b")
    if not subject and first_subject is not None:
        subject = first_subject if first_subject.lower().startswith("re:") else "Re: " + first_subject
    if _TAG_RE.search(body):
        return Rendered(subject, body, None)
    escaped = html_lib.escape(body).replace("\r\n", "\n").replace("\n", "<br>\n")
    return Rendered(subject, f"<div>{escaped}</div>", body)
