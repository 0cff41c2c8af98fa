"""Cold-email sending: messages per second from a RUNNING campaign to a local aiosmtpd sink.

Tidings: 10 mailboxes (limits lifted) and 20,000 contacts due for step 1 of a RUNNING campaign; the
engine schedules, renders, builds the MIME, sends over one SMTP connection per mailbox and records
every outcome with its counters; timed from the moment the campaign is set RUNNING until every message
is sent. Variants: SQLite with the engine in one process (run_forever, as `tidings serve` runs it);
PostgreSQL with two `tidings worker` processes. Baseline, in the same run against the same sink: a bare
aiosmtplib loop sending the same number of pre-rendered messages over 10 connections, no database,
repeated until it has run at least 2 s.
The sink (aiosmtpd's Sink handler, announcing PIPELINING as production servers do: bench/pipelining_sink.py)
runs in its own process so it does not share a CPU with either. Tidings pipelines each envelope (MAIL, RCPT,
DATA in one write); aiosmtplib, the baseline, does not. TIDINGS_BENCH_SMTP_PIPELINING=false: a sink that
does not offer it, so both go in lockstep.
The baseline's messages are text only (16 lines); Tidings sends the step as text and HTML (multipart/alternative,
33 lines), and the sink reads a message line by line: a second bare loop sending the very messages Tidings sends
(`bare_aiosmtplib_loop_same_messages`) is measured beside it, and each variant's ratio over it is reported too
(`ratio_vs_same_messages`, for information: the target is over the first, as the issue set it).
Each figure is the median of TIDINGS_BENCH_RUNS (3) runs, each run measuring the baseline, the variants and the
baseline again; `ratio` is the median of the runs' tidings / bare, bare being the mean of the run's two baseline
measurements (a machine that speeds up or slows down during the run moves both).
TIDINGS_BENCH_CONTACTS changes the size; TIDINGS_BENCH_VARIANTS picks `sqlite,pg2`.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiosmtplib
from sqlalchemy import func, insert, select, update

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__))))
from common import MIN_BASELINE_SECONDS, for_at_least, poll_delay, postgres  # noqa: E402

from tidings.config import Settings
from tidings.core import ids, mime
from tidings.db.base import Base
from tidings.db.engine import Database
from tidings.db.models import Campaign, CampaignMailbox, Client, Contact, Enrollment, Mailbox, Message, Step
from tidings.engine.context import EngineContext
from tidings.engine.runner import Runner
from tidings.messaging import tracking
from tidings.outreach.engine.rendering import render_step
from tidings.runtime import boot, providers_for, run_loop, tune_gc
from tidings.tenancy.service import create_account

CONTACTS = int(os.environ.get("TIDINGS_BENCH_CONTACTS", "20000"))
MAILBOXES = 10
BATCH = 1000
VARIANTS = os.environ.get("TIDINGS_BENCH_VARIANTS", "sqlite,pg2").split(",")
RUNS = int(os.environ.get("TIDINGS_BENCH_RUNS", "3"))
# The sink announces PIPELINING as production servers do; "false" measures the lockstep client.
PIPELINING = os.environ.get("TIDINGS_BENCH_SMTP_PIPELINING", "true") != "false"
TIMEOUT = 600.0
WORKER_START_SECONDS = 4.0
SUBJECT = "Quick question, {{first_name}}"
BODY = "Hi {{first_name}},\n\nwould {{company}} like to {see|try} our product?\n\nSam"
PUBLIC_URL = "https://t.acme.test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_sink(port: int) -> subprocess.Popen[bytes]:
    handler = "pipelining_sink.PipeliningSink" if PIPELINING else "aiosmtpd.handlers.Sink"
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.abspath(__file__))}
    proc = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", handler],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the SMTP sink did not start")


def _settings(url: str, workdir: Path) -> Settings:
    return Settings(database_url=url, secret_key="bench", data_dir=workdir, worker_batch=BATCH,
                    public_url=PUBLIC_URL, outbound_allow_private=True)  # the SMTP sink is on the loopback


async def _setup(db: Database, port: int) -> int:
    """The account, mailboxes, campaign and enrolled contacts, the campaign left PAUSED; returns its id."""
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    async with db.transaction() as s:
        account = (await create_account(s, name="Bench", email="bench@bench.test")).account_id
        client = Client(account_id=account, name="Bench client", max_emails=MAILBOXES)
        s.add(client)
        await s.flush()
        campaign = Campaign(account_id=account, client_id=client.id, name="Bench", status="PAUSED", kind="sequence",
                            channel="email", settings={})
        s.add(campaign)
        await s.flush()
        s.add(Step(account_id=account, campaign_id=campaign.id, number=1, subject=SUBJECT, body=BODY))
        for i in range(MAILBOXES):
            box = Mailbox(account_id=account, client_id=client.id, email=f"sender{i}@acme{i}.test", name=f"Sam {i}",
                          smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", daily_limit=10**9,
                          min_interval_seconds=0)
            s.add(box)
            await s.flush()
            s.add(CampaignMailbox(account_id=account, campaign_id=campaign.id, mailbox_id=box.id))
        await s.execute(insert(Contact), [
            {"account_id": account, "client_id": client.id, "email": f"c{i}@globex{i % 97}.test",
             "email_key": f"c{i}@globex{i % 97}.test", "first_name": f"Person{i}", "company": "Globex",
             "tags": [], "custom_fields": {}} for i in range(CONTACTS)])
        contact_ids = (await s.execute(select(Contact.id).order_by(Contact.id))).scalars().all()
        await s.execute(insert(Enrollment), [
            {"account_id": account, "campaign_id": campaign.id, "contact_id": cid, "status": "OK", "next_step": 1,
             "next_due_at": campaign.created_at} for cid in contact_ids])
    return campaign.id


async def _sent(db: Database) -> int:
    # A reading session: on SQLite the others take the write lock at BEGIN, and the poll would queue with the engine.
    async with db.reading() as s:
        return int((await s.execute(select(func.count()).select_from(Message)
                                    .where(Message.status == "sent"))).scalar() or 0)


async def _until_sent(db: Database, campaign_id: int) -> dict[str, float]:
    """Set the campaign RUNNING and time until every contact's message was sent."""
    async with db.transaction() as s:
        await s.execute(update(Campaign).where(Campaign.id == campaign_id).values(status="RUNNING"))
    started = time.perf_counter()
    sent = 0
    while time.perf_counter() - started < TIMEOUT:
        await asyncio.sleep(poll_delay(CONTACTS - sent, sent, time.perf_counter() - started, finest=0.05))
        sent = await _sent(db)
        if sent >= CONTACTS:
            break
    elapsed = time.perf_counter() - started
    return {"messages": float(sent), "seconds": round(elapsed, 3), "per_second": round(sent / elapsed, 1)}


async def _tidings_sqlite(port: int, workdir: Path) -> dict[str, float]:
    """One process, the engine as `tidings serve` runs it (run_forever)."""
    settings = _settings(f"sqlite+aiosqlite:///{workdir / 'bench.db'}", workdir)
    db = boot(settings)
    campaign_id = await _setup(db, port)
    runner = Runner(EngineContext(db, settings, providers_for(settings), "bench"))
    tune_gc()  # as `tidings serve` does once started
    engine = asyncio.create_task(runner.run_forever())
    try:
        return await _until_sent(db, campaign_id)
    finally:
        runner.stop()
        await engine
        await runner.ctx.providers.close()
        await db.dispose()


async def _tidings_workers(port: int, workdir: Path, url: str, workers: int) -> dict[str, float]:
    """PostgreSQL, `workers` `tidings worker` processes started before the campaign runs."""
    db = boot(_settings(url, workdir))
    campaign_id = await _setup(db, port)
    env = {**os.environ, "TIDINGS_DATABASE_URL": url, "TIDINGS_DATA_DIR": str(workdir), "TIDINGS_SECRET_KEY": "bench",
           "TIDINGS_WORKER_BATCH": str(BATCH), "TIDINGS_OUTBOUND_ALLOW_PRIVATE": "true", "TIDINGS_LOG_LEVEL": "warning",
           "TIDINGS_PUBLIC_URL": PUBLIC_URL}
    procs = _start_workers(env, workers)
    try:
        await asyncio.sleep(WORKER_START_SECONDS)  # imports and the first poll: not part of sending
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a worker exited")
        return await _until_sent(db, campaign_id)
    finally:
        _stop_all(procs)
        await db.dispose()


def _start_workers(env: dict[str, str], workers: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", "from tidings.cli import app; app()", "worker"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(30)


def _prerendered() -> list[tuple[str, str, bytes]]:
    out = []
    for i in range(CONTACTS):
        box = i % MAILBOXES
        sender, rcpt = f"sender{box}@acme{box}.test", f"c{i}@globex{i % 97}.test"
        built, _ = mime.build_email(from_addr=sender, from_name=f"Sam {box}", to_addr=rcpt, to_name=f"Person{i}",
                                    subject=f"Quick question, Person{i}", html=None,
                                    text=f"Hi Person{i},\n\nwould Globex like to see our product?\n\nSam",
                                    message_id_domain=f"acme{box}.test",
                                    headers={"List-Unsubscribe": "<https://t.acme.test/u/x>",
                                             "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
        out.append((sender, rcpt, built.as_bytes()))
    return out


def _as_tidings_sends() -> list[tuple[str, str, bytes]]:
    """The campaign's messages as the engine builds them: the step rendered to text and HTML, its unsubscribe link."""
    step = Step(number=1, subject=SUBJECT, body=BODY)
    with tempfile.TemporaryDirectory() as tmp:
        key = _settings("sqlite+aiosqlite://", Path(tmp)).resolved_secret_key()  # the engine's own keys
    ids.configure(key)
    tracking.configure(key)
    out = []
    for i in range(CONTACTS):
        box = i % MAILBOXES
        sender, rcpt = f"sender{box}@acme{box}.test", f"c{i}@globex{i % 97}.test"
        rendered = render_step(step, 0, {"first_name": f"Person{i}", "company": "Globex", "email": rcpt}, f"{i}:1",
                               None)
        unsubscribe = tracking.unsubscribe_url(PUBLIC_URL, i + 1)
        raw, _ = mime.build_email_bytes(
            from_addr=sender, from_name=f"Sam {box}", to_addr=rcpt, to_name=f"Person{i}", subject=rendered.subject,
            html=rendered.html, text=rendered.text, message_id_domain=f"acme{box}.test",
            headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
        out.append((sender, rcpt, raw))
    return out


async def _bare(port: int, same_messages: bool = False) -> dict[str, float]:
    messages = _as_tidings_sends() if same_messages else _prerendered()
    lanes = [messages[i::MAILBOXES] for i in range(MAILBOXES)]

    async def lane(items: list[tuple[str, str, bytes]]) -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await smtp.connect()
        for sender, rcpt, raw in items:
            await smtp.sendmail(sender, [rcpt], raw)
        await smtp.quit()

    async def one_round() -> tuple[int, float]:
        started = time.perf_counter()
        await asyncio.gather(*(lane(items) for items in lanes))
        return len(messages), time.perf_counter() - started

    return await for_at_least(one_round)


async def main() -> dict[str, object]:
    port = _free_port()
    sink = _start_sink(port)
    result: dict[str, object] = {"benchmark": "outreach_send", "contacts": CONTACTS, "mailboxes": MAILBOXES,
                                 "worker_batch": BATCH, "sink_offers_pipelining": PIPELINING, "runs": RUNS}
    rates: dict[str, list[float]] = {"bare_aiosmtplib_loop": [], "bare_aiosmtplib_loop_same_messages": []}
    ratios: dict[str, list[float]] = {}
    same_ratios: dict[str, list[float]] = {}
    try:
        for _ in range(RUNS):
            # Each run measures the baselines before and after its variants, so every ratio compares the same minutes.
            first = (await _bare(port))["per_second"]
            first_same = (await _bare(port, same_messages=True))["per_second"]
            run: dict[str, float] = {}
            for name, measure in _variants(port):
                ours = await measure()
                if ours is None:
                    result[name] = "skipped: no PostgreSQL available"
                    continue
                run[name] = ours["per_second"]
            same = round((first_same + (await _bare(port, same_messages=True))["per_second"]) / 2, 1)
            bare = round((first + (await _bare(port))["per_second"]) / 2, 1)
            rates["bare_aiosmtplib_loop"].append(bare)
            rates["bare_aiosmtplib_loop_same_messages"].append(same)
            for name, per_second in run.items():
                rates.setdefault(name, []).append(per_second)
                ratios.setdefault(name, []).append(round(per_second / bare, 3))
                same_ratios.setdefault(name, []).append(round(per_second / same, 3))
    finally:
        sink.terminate()
        sink.wait(10)
    result["bare_aiosmtplib_loop"] = {"per_second": statistics.median(rates["bare_aiosmtplib_loop"]),
                                      "seconds_per_run_at_least": MIN_BASELINE_SECONDS}
    result["bare_aiosmtplib_loop_same_messages"] = {
        "per_second": statistics.median(rates["bare_aiosmtplib_loop_same_messages"]),
        "seconds_per_run_at_least": MIN_BASELINE_SECONDS}
    for name, per_run in ratios.items():
        result[name] = {"per_second": statistics.median(rates[name]), "ratio": statistics.median(per_run),
                        "ratio_per_run": per_run, "ratio_vs_same_messages": statistics.median(same_ratios[name]),
                        "ratio_vs_same_messages_per_run": same_ratios[name]}
    return result


def _variants(port: int) -> list[tuple[str, Callable[[], Awaitable[dict[str, float] | None]]]]:
    async def sqlite() -> dict[str, float]:
        with tempfile.TemporaryDirectory() as tmp:
            return await _tidings_sqlite(port, Path(tmp))

    async def pg2() -> dict[str, float] | None:
        with postgres() as url, tempfile.TemporaryDirectory() as tmp:
            return None if url is None else await _tidings_workers(port, Path(tmp), url, 2)

    chosen = {"sqlite": ("sqlite_1_process", sqlite), "pg2": ("postgresql_2_workers", pg2)}
    return [chosen[v] for v in VARIANTS if v in chosen]


if __name__ == "__main__":
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print(json.dumps(run_loop(main())))  # uvloop, as `tidings serve` and `tidings worker` run
