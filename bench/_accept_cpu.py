"""The CPU of accepting SMS alone: POST /api/rest/sms in process, no engine (session 32).

Not part of `make bench` (the leading underscore). 2,000 SMS warm the app up (its routes are built on the first
request), then N more are posted, 1,000 recipients a request, through httpx's ASGI transport: the process CPU per
message (the API and the HTTP client together). SQLite unless TIDINGS_BENCH_DATABASE_URL names another database
(it is emptied). The steadiest A/B probe of the accept path; interleave pairs of two commits.
`python bench/_accept_cpu.py [N]`
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import structlog
from common import fresh_app, post_sms

from tidings.config import Settings
from tidings.runtime import run_loop, tune_gc

N = int(next((a for a in sys.argv[1:] if a.isdigit()), "12000"))


async def main(workdir: Path) -> None:
    url = os.environ.get("TIDINGS_BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    settings = Settings(database_url=url, secret_key="bench", data_dir=workdir, outbound_allow_private=True,
                        rate_limits={"rest": "1000000/minute"},
                        sms_url="smpp://tidings:secret@127.0.0.1:1?window=10&binds=2")  # never connected
    async with fresh_app(settings) as (app, auth):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
            await post_sms(client, auth, 2000)
            tune_gc()
            wall, cpu = time.perf_counter(), time.process_time()
            await post_sms(client, auth, N)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"accept: {N} SMS in {wall:.2f} s ({N / wall:.0f}/s), process CPU {cpu / N * 1e6:.0f} us per message")


if __name__ == "__main__":
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as tmp:
        run_loop(main(Path(tmp)))
