"""Checks that mime.build_email_bytes writes exactly what build_email(...)[0].as_bytes() writes.

Random senders, names, subjects (ASCII, accented, long, encoded-word look-alikes), bodies (ASCII,
UTF-8, long lines, CR/LF mixes), threading and custom headers; the Message-ID and the multipart
boundary (random by design) are normalised before comparing. Prints JSON; exits 1 on a mismatch.
Also times both paths.
"""

from __future__ import annotations

import json
import random
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from tidings.core import mime

WORDS = ["Hi", "José", "Núñez", "O'Brien", "J.", "Smith,", "Año", "=?utf-8?q?x?=", "a(b)", '"quoted"', "x" * 90,
         "über", "日本", "Sam", "Person1", "", "  ", "tab\there", "emoji🙂", "ok", "\\", "<tag>", "100%", "a=b"]
BODIES = ["Hi Person1,\n\nwould Globex like to see our product?\n\nSam", "Hola José,\r\n¿qué tal?\r\n",
          "x" * 200 + "\n" + "y" * 80, "línea " * 40, "", "\n\n", "a\rb\r\nc\nd", "🙂" * 30, "plain ascii only",
          "=3D not qp\n" * 12, "ü" * 100 + "\n" * 15]
HTML = [None, "<div>Hi<br>\nyou</div>", "<p>Hola <b>José</b></p>", "<p>" + "long " * 60 + "</p>",
        '<a href="https://x.test/a?b=c">link</a> ñ', "<div>" + "é" * 300 + "</div>"]


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def case(rng: random.Random) -> dict[str, Any]:
    headers = {}
    if rng.random() < 0.7:
        # Tokens of the real length and longer: a URL that no longer fits beside the name moves to its own line.
        token = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789.-_") for _ in range(rng.randrange(8, 70)))
        headers = {"List-Unsubscribe": f"<https://t.acme.test/u/{rng.choice([str(rng.randrange(10**12)), token])}>",
                   "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    if rng.random() < 0.2:
        headers["X-Tag"] = words(rng, rng.randrange(1, 4))
    refs = tuple(f"<{rng.randrange(10**20)}@acme.test>" for _ in range(rng.randrange(0, 6)))
    return {
        "from_addr": rng.choice(["sam@acme.test", "sender0@acme0.test", "a.b+c@sub.acme.test"]),
        "from_name": rng.choice([None, "", "Sam 0", words(rng, 2), words(rng, 1)]),
        "to_addr": rng.choice(["c1@globex1.test", "x_y@globex.test"]),
        "to_name": rng.choice([None, "Person1", words(rng, 2), "Ann"]),
        "subject": rng.choice(["Quick question, Person1", words(rng, rng.randrange(0, 12)), "Re: hello", ""]),
        "html": rng.choice(HTML),
        "text": rng.choice([None, *BODIES]),
        "reply_to": rng.choice([None, None, "reply@acme.test"]),
        "cc": rng.choice([(), (), ("cc1@x.test", "cc2@y.test")]),
        "message_id_domain": "acme.test",
        "in_reply_to": rng.choice([None, "<parent@acme.test>", "bare@acme.test"]),
        "references": refs,
        "headers": headers,
        "date": datetime(2026, 11, 23, 15, 47, 43, tzinfo=UTC),
    }


def normalise(raw: bytes, message_id: str) -> bytes:
    raw = raw.replace(message_id.encode(), b"<ID>")
    return re.sub(rb"={15}\d{19}==", b"BOUNDARY", raw)


def main() -> dict[str, object]:
    rng = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
    cases = [case(rng) for _ in range(3000)]
    mismatches = []
    for kwargs in cases:
        slow, slow_id = mime.build_email(**kwargs)
        fast, fast_id = mime.build_email_bytes(**kwargs)
        if normalise(slow.as_bytes(), slow_id) != normalise(fast, fast_id):
            mismatches.append({"input": repr(kwargs), "stdlib": repr(normalise(slow.as_bytes(), slow_id)),
                               "fast": repr(normalise(fast, fast_id))})
    started = time.perf_counter()
    for kwargs in cases:
        mime.build_email(**kwargs)[0].as_bytes()
    slow_s = time.perf_counter() - started
    started = time.perf_counter()
    for kwargs in cases:
        mime.build_email_bytes(**kwargs)
    fast_s = time.perf_counter() - started
    return {"benchmark": "mime_equivalence", "cases": len(cases), "mismatches": len(mismatches),
            "first_mismatch": mismatches[0] if mismatches else None,
            "stdlib_ms_per_message": round(slow_s / len(cases) * 1000, 3),
            "fast_ms_per_message": round(fast_s / len(cases) * 1000, 3)}


if __name__ == "__main__":
    result = main()
    print(json.dumps(result))
    sys.exit(1 if result["mismatches"] else 0)
