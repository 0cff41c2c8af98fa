"""Profile the engine's SMS path (claim, prepare, submit_sm, record, receipts) with cProfile.

Not part of `make bench` (the leading underscore): `python bench/_profile_sms.py [N]` prints the
top functions by cumulative and by own time, for docs/performance.md.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from common import until_delivered  # noqa: E402

from tidings.channels.registry import build_provider  # noqa: E402
from tidings.config import Settings  # noqa: E402
from tidings.db.base import Base  # noqa: E402
from tidings.engine.context import EngineContext  # noqa: E402
from tidings.engine.runner import Runner  # noqa: E402
from tidings.messaging import outbox  # noqa: E402
from tidings.runtime import boot, providers_for  # noqa: E402
from tidings.tenancy.service import create_account  # noqa: E402
from tidings.tenancy.subject import AuthSubject  # noqa: E402

from fakes.smsc import FakeSmsc  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000


async def main() -> None:
    async with FakeSmsc(keep=False) as smsc:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp}/p.db", secret_key="bench", data_dir=Path(tmp),
                                worker_batch=500)
            db = boot(settings)
            async with db.engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            async with db.transaction() as s:
                account = await create_account(s, name="Bench", email="bench@bench.test")
                subject = AuthSubject(account_id=account.account_id, user_id=1)
                sending = await outbox.open_sending(s, subject, channel="sms", source="bench")
                s.add_all([outbox.new_message(account_id=account.account_id, channel="sms", sender="TIDINGS",
                                              recipient=f"3466655{i:04d}", sending=sending, body=f"Code {i}",
                                              extra={"kind": "transactional"}) for i in range(N)])
            providers = providers_for(settings)
            providers.set("sms", build_provider("sms", smsc.url(window="10", binds="2")))
            runner = Runner(EngineContext(db, settings, providers, "bench"))
            profile = cProfile.Profile()
            started = time.perf_counter()
            profile.enable()
            await until_delivered(runner, db, N)
            profile.disable()
            print(f"{N} messages submitted and delivered in {time.perf_counter() - started:.2f} s (profiled)")
            await providers.close()
            await db.dispose()
    for key in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(key).print_stats(40)
        print(out.getvalue())


if __name__ == "__main__":
    asyncio.run(main())
