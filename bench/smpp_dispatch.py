"""SMS dispatch over SMPP: messages per second from the outbox to a local fake SMSC.

Tidings: queued single-part SMS rows, dispatched by the engine (claim, gates, prepare, submit_sm,
record "sent" with pricing) on SQLite. Baseline, measured in the same run against the same SMSC: a
bare asyncio loop that binds once and sends the same number of submit_sm PDUs, one at a time, waiting
for each submit_sm_resp (what the provider did before windowing), with no database, repeated until it
has run at least 2 s. `ratio` = tidings / bare.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from common import for_at_least  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from tidings.channels.registry import build_provider  # noqa: E402
from tidings.channels.sms.smpp import make_pdu, parse_pdu, read_pdu  # noqa: E402
from tidings.config import Settings  # noqa: E402
from tidings.db.base import Base  # noqa: E402
from tidings.db.models import Message  # noqa: E402
from tidings.engine.context import EngineContext  # noqa: E402
from tidings.engine.runner import Runner  # noqa: E402
from tidings.messaging import outbox  # noqa: E402
from tidings.runtime import boot, providers_for  # noqa: E402
from tidings.tenancy.service import create_account  # noqa: E402
from tidings.tenancy.subject import AuthSubject  # noqa: E402

from fakes.smsc import FakeSmsc  # noqa: E402

MESSAGES = 2000


async def _tidings(smsc: FakeSmsc, workdir: Path) -> dict[str, float]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{workdir / 'bench.db'}", secret_key="bench",
                        data_dir=workdir, worker_batch=200)
    db = boot(settings)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with db.transaction() as s:
        account = await create_account(s, name="Bench", email="bench@bench.test")
        subject = AuthSubject(account_id=account.account_id, user_id=1)
        sending = await outbox.open_sending(s, subject, channel="sms", source="bench")
        s.add_all([outbox.new_message(account_id=account.account_id, channel="sms", sender="TIDINGS",
                                      recipient=f"3466655{i % 10000:04d}", sending=sending, body=f"Code {i}",
                                      extra={"kind": "transactional"}) for i in range(MESSAGES)])
    providers = providers_for(settings)
    providers.set("sms", build_provider("sms", smsc.url(receipts="false")))
    runner = Runner(EngineContext(db, settings, providers, "bench"))
    started = time.perf_counter()
    await runner.run_until_idle(max_rounds=10_000)
    elapsed = time.perf_counter() - started
    async with db.sessions() as s:
        sent = (await s.execute(select(func.count()).select_from(Message).where(Message.status == "sent"))).scalar()
    await providers.close()
    await db.dispose()
    return {"messages": float(sent or 0), "seconds": round(elapsed, 3), "per_second": round((sent or 0) / elapsed, 1)}


async def _bare_round(smsc: FakeSmsc) -> tuple[int, float]:
    reader, writer = await asyncio.open_connection(smsc.host, smsc.port)

    async def call(seq: int, name: str, **fields: object) -> object:
        writer.write(make_pdu(name, seq, **fields).generate())
        await writer.drain()
        return parse_pdu(await read_pdu(reader))

    await call(1, "bind_transceiver", system_id=smsc.system_id, password=smsc.password, system_type="",
               interface_version=0x34, addr_ton=0, addr_npi=0, address_range="")
    started = time.perf_counter()
    for i in range(MESSAGES):
        await call(i + 2, "submit_sm", service_type="", source_addr_ton=5, source_addr_npi=0, source_addr="TIDINGS",
                   dest_addr_ton=1, dest_addr_npi=1, destination_addr=f"3466655{i % 10000:04d}", esm_class=0,
                   protocol_id=0, priority_flag=0, registered_delivery=0, data_coding=0,
                   short_message=f"Code {i}".encode())
    elapsed = time.perf_counter() - started
    await call(MESSAGES + 2, "unbind")
    writer.close()
    return MESSAGES, elapsed


async def _bare(smsc: FakeSmsc) -> dict[str, float]:
    return await for_at_least(lambda: _bare_round(smsc))


async def main() -> dict[str, object]:
    async with FakeSmsc(keep=False) as smsc:
        bare = await _bare(smsc)
        with tempfile.TemporaryDirectory() as tmp:
            ours = await _tidings(smsc, Path(tmp))
    return {"benchmark": "smpp_dispatch", "database": "sqlite", "messages": MESSAGES, "tidings": ours,
            "bare_smpp_loop": bare, "ratio": round(ours["per_second"] / bare["per_second"], 3)}


if __name__ == "__main__":
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print(json.dumps(asyncio.run(main())))
