"""Dashboard pages with 100,000 contacts and 1,000,000 events: median and p95 answer time of each page.

A real `tidings serve --no-engine` on SQLite answers signed-in GETs over HTTP; the baseline is
`/healthz` (one trivial query) measured in the same run. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tidings.core.ids import IdCodec, Kind  # noqa: E402
from tidings.db import models as m  # noqa: E402

CONTACTS = int(os.environ.get("BENCH_CONTACTS", 100_000))
EVENTS = int(os.environ.get("BENCH_EVENTS", 1_000_000))
REPLIES = 2_000
RUNS = 25
SECRET = "bench-dashboard-secret"


def seed(url: str, account_id: int) -> tuple[int, int, int]:
    """A client, a running campaign with two steps, its contacts, messages, events, replies and counters."""
    engine = create_engine(url.replace("+aiosqlite", ""))
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as c:
        client_id = c.execute(insert(m.Client.__table__).values(account_id=account_id, name="Globex", max_emails=5,
                                                                 created_at=now).returning(m.Client.id)).scalar_one()
        campaign_id = c.execute(insert(m.Campaign.__table__).values(
            account_id=account_id, client_id=client_id, name="Founders Q1", status="RUNNING", kind="sequence",
            channel="email", timezone="UTC", tags=[], settings={}, created_at=now,
        ).returning(m.Campaign.id)).scalar_one()
        for n in (1, 2):
            c.execute(insert(m.Step.__table__).values(account_id=account_id, campaign_id=campaign_id, number=n,
                                                      channel="email", subject=f"Step {n}", body="Hi {{first_name}}",
                                                      delay_days=3, variants=[], created_at=now))
        box = c.execute(insert(m.Mailbox.__table__).values(
            account_id=account_id, client_id=client_id, email="sam@acme.test", smtp_host="127.0.0.1",
            created_at=now).returning(m.Mailbox.id)).scalar_one()
        batch = 10_000
        for start in range(0, CONTACTS, batch):
            rows = [{"account_id": account_id, "client_id": client_id, "email": f"lead{i}@prospects.test",
                     "email_key": f"lead{i}@prospects.test", "first_name": f"Lead{i}", "company": f"Co {i}",
                     "tags": [], "custom_fields": {}, "created_at": now} for i in range(start, start + batch)]
            c.execute(insert(m.Contact.__table__), rows)
        first_contact = c.execute(select(m.Contact.id).order_by(m.Contact.id).limit(1)).scalar_one()
        for start in range(0, CONTACTS, batch):
            c.execute(insert(m.Enrollment.__table__), [
                {"account_id": account_id, "campaign_id": campaign_id, "contact_id": first_contact + i,
                 "status": "OK", "interest": "UNMARKED", "emails_sent": 2, "completed_steps": 2, "next_step": 3,
                 "created_at": now} for i in range(start, start + batch)])
        first_enrollment = c.execute(select(m.Enrollment.id).order_by(m.Enrollment.id).limit(1)).scalar_one()
        messages = EVENTS // 5
        for start in range(0, messages, batch):
            c.execute(insert(m.Message.__table__), [
                {"account_id": account_id, "channel": "email", "direction": "out", "status": "delivered",
                 "sender": "sam@acme.test", "recipient": f"lead{i % CONTACTS}@prospects.test",
                 "subject": f"Step {1 + i // CONTACTS}", "body": "Hi", "campaign_id": campaign_id,
                 "enrollment_id": first_enrollment + i % CONTACTS, "contact_id": first_contact + i % CONTACTS,
                 "mailbox_id": box, "step_number": 1 + i // CONTACTS, "parts": 1, "cost": 0, "extra": {},
                 "attempts": 0, "created_at": now - timedelta(minutes=messages - i)}
                for i in range(start, start + batch)])
        first_message = c.execute(select(m.Message.id).order_by(m.Message.id).limit(1)).scalar_one()
        kinds = ("queued", "sent", "delivered", "opened", "clicked")
        for start in range(0, EVENTS, 50_000):
            c.execute(insert(m.Event.__table__), [
                {"account_id": account_id, "message_id": first_message + i // 5, "campaign_id": campaign_id,
                 "kind": kinds[i % 5], "occurred_at": now - timedelta(seconds=EVENTS - i), "details": {}}
                for i in range(start, start + 50_000)])
        for i in range(REPLIES):
            thread = c.execute(insert(m.Thread.__table__).values(
                account_id=account_id, campaign_id=campaign_id, enrollment_id=first_enrollment + i, mailbox_id=box,
                subject="Step 1", created_at=now).returning(m.Thread.id)).scalar_one()
            c.execute(insert(m.Message.__table__).values(
                account_id=account_id, channel="email", direction="in", status="received",
                sender=f"lead{i}@prospects.test", recipient="sam@acme.test", subject="Re: Step 1", body="Sure",
                campaign_id=campaign_id, enrollment_id=first_enrollment + i, thread_id=thread, parts=1, cost=0,
                extra={}, attempts=0, classification="reply", created_at=now - timedelta(minutes=i)))
        today = date.today()
        c.execute(insert(m.StatCounter.__table__), [
            {"account_id": account_id, "scope": "campaign", "scope_id": campaign_id, "step": 0,
             "day": today - timedelta(days=d), "metric": metric, "value": value}
            for d in range(60) for metric, value in (("messages_sent", 3000), ("messages_opened", 900),
                                                     ("replied", 30), ("contacted", 1600))])
    engine.dispose()
    return client_id, campaign_id, thread


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="tidings-dash-bench-"))
    port = 18990
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TIDINGS_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'bench.db'}",
           "TIDINGS_DATA_DIR": str(work), "TIDINGS_SECRET_KEY": SECRET, "TIDINGS_PUBLIC_URL": base,
           "TIDINGS_LOG_LEVEL": "warning", "PYTHONPATH": str(ROOT / "src")}
    cli = [sys.executable, "-m", "tidings.cli"]
    created = json.loads(subprocess.run([*cli, "account", "create", "--name", "Acme", "--email", "o@acme.test",
                                         "--json"], env=env, capture_output=True, text=True, check=True).stdout)
    started = time.perf_counter()
    _, campaign_id, thread_id = seed(env["TIDINGS_DATABASE_URL"], int(created["account_id"]))
    seeded = time.perf_counter() - started
    server = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        web = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
        for _ in range(300):
            try:
                if web.get("/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        link = created["password_link"].split(base, 1)[1]
        csrf = re.search(r'name="csrf" value="([^"]+)"', web.get(link).text)
        assert csrf is not None
        web.post(link, data={"csrf": csrf.group(1), "password": "bench-password-1", "confirm": "bench-password-1"})
        codec = IdCodec(SECRET)
        campaign = codec.encode(Kind.CAMPAIGN, campaign_id)
        pages = {"healthz (baseline)": "/healthz", "overview": "/", "campaigns": "/campaigns",
                 "campaign": f"/campaigns/{campaign}", "campaign contacts page 500": f"/campaigns/{campaign}?p=500",
                 "inbox": "/inbox", "thread": f"/inbox/{codec.encode(Kind.THREAD, thread_id)}",
                 "message log": "/messages", "message log search": "/messages?q=lead4242@prospects.test",
                 "message": f"/messages/{codec.to_int(Kind.MESSAGE, 1000)}", "sendings": "/sendings",
                 "suppressions": "/suppressions", "settings": "/settings", "integrations": "/settings/integrations",
                 "mailboxes": "/mailboxes", "clients": "/clients"}
        results: dict[str, dict[str, float]] = {}
        for name, path in pages.items():
            times = []
            for _ in range(RUNS):
                t0 = time.perf_counter()
                response = web.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{path} answered {response.status_code}")
            times.sort()
            results[name] = {"median_ms": round(statistics.median(times), 1),
                             "p95_ms": round(times[int(len(times) * 0.95) - 1], 1)}
        slowest = max((v["median_ms"], k) for k, v in results.items())
        print(json.dumps({"contacts": CONTACTS, "events": EVENTS, "seed_seconds": round(seeded, 1),
                          "runs_per_page": RUNS, "pages": results, "slowest_median": slowest[1],
                          "slowest_median_ms": slowest[0]}))
    finally:
        server.terminate()
        server.wait(timeout=15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
