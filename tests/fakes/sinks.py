"""An SMTP sink and an SMSC in one process, writing what they accept to files (the soak test's receivers).

`python tests/fakes/sinks.py --smtp-port A --smpp-port B --out DIR` appends one line per accepted mail
to DIR/smtp.log (its Message-ID) and one per accepted submit_sm to DIR/smpp.log (its destination,
unique per message in the soak), each flushed at once so a reader sees every acceptance.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.smtp import SMTP, Envelope, Session  # noqa: E402

from fakes.smsc import FakeSmsc, Submitted  # noqa: E402

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class _Recorder:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        found = _MESSAGE_ID.search(raw.split(b"\r\n\r\n", 1)[0])
        self.out.write((found.group(1).decode(errors="replace") if found else "-") + "\n")
        self.out.flush()
        return "250 2.0.0 OK"


async def main(smtp_port: int, smpp_port: int, out: Path) -> None:
    with (out / "smtp.log").open("a") as smtp_log, (out / "smpp.log").open("a") as smpp_log:
        recorder = _Recorder(smtp_log)

        def factory() -> Any:
            return SMTP(recorder, hostname="sink", enable_SMTPUTF8=True)

        server = await asyncio.get_running_loop().create_server(factory, host="127.0.0.1", port=smtp_port)

        def submitted(item: Submitted) -> None:
            smpp_log.write(item.destination + "\n")
            smpp_log.flush()

        smsc = await FakeSmsc(port=smpp_port, keep=False, on_submit=submitted).start()
        print("ready", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            server.close()
            await smsc.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--smpp-port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.smtp_port, args.smpp_port, args.out))
