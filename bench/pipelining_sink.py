"""The benchmarks' SMTP sink: aiosmtpd's Sink handler announcing PIPELINING, as production MTAs do.

Postfix, Exim, Exchange and Gmail all offer PIPELINING (RFC 2920); aiosmtpd reads pipelined commands in
order but does not say so. Run as `python -m aiosmtpd -n -c pipelining_sink.PipeliningSink` with
bench/ on PYTHONPATH.
"""

from __future__ import annotations

from typing import Any

from aiosmtpd.handlers import Sink


class PipeliningSink(Sink):
    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        return [responses[0], "250-PIPELINING", *responses[1:]]
