"""Soak: workers killed with SIGKILL (and the database restarted) while 20,000 emails and 20,000 SMS drain.

One PostgreSQL, `tidings serve --no-engine`, WORKERS `tidings worker` processes, an SMTP sink and a
fake SMSC in a process of their own (tests/fakes/sinks.py). Emails are a RUNNING outreach campaign
(contacts imported through the API, one step, several mailboxes on the sink); SMS are submitted
through the messaging API (`POST /api/rest/sms`) while the workers die, one unique recipient each.
Every KILL_EVERY seconds a random worker is killed with SIGKILL and started again. The second
scenario also stops PostgreSQL once in the middle for DB_DOWN seconds and starts it again: the
workers and the API must recover by themselves. Each scenario is bounded by a deadline.

Reported per scenario: lost (accepted by the API, never reached the sink or SMSC; must be 0),
duplicates (copies counted by Message-ID at the sink and by recipient at the SMSC), seconds to drain.
`python bench/soak.py [--emails N] [--sms N] [--workers N] [--kill-every S] [--deadline S]
[--unrecorded-per-connection N]`.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))  # the same sources as the processes it starts
sys.path.insert(0, str(ROOT / "bench"))
from common import free_port, wait_port  # noqa: E402

PG = ROOT / "scripts" / "pg-throwaway.sh"
MAILBOXES = 5
SMS_BATCH = 500


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@dataclass
class Soak:
    emails: int
    sms: int
    workers: int
    kill_every: float
    deadline: float
    db_restart: bool
    db_down: float = 5.0
    lease: int = 10
    window: int | None = None  # TIDINGS_WORKER_UNRECORDED_PER_CONNECTION; None: the default
    work: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tidings-soak-")))
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    kills: int = 0
    restarts: int = 0
    db_restarted_at: float | None = None
    api_retries: int = 0
    sms_accepted: int = 0
    health_during_outage: dict[str, Any] | None = None
    pg_dir: str = ""

    # -- processes ---------------------------------------------------------------------------------
    def _env(self, url: str, smpp_port: int) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TIDINGS_DATABASE_URL": url,
                "TIDINGS_DATA_DIR": str(self.work / "data"), "TIDINGS_SECRET_KEY": "soak-secret",
                "TIDINGS_SMS_URL": f"smpp://tidings:secret@127.0.0.1:{smpp_port}?receipts=false",
                "TIDINGS_OUTBOUND_ALLOW_PRIVATE": "true", "TIDINGS_LOG_LEVEL": "warning",
                "TIDINGS_WORKER_LEASE_SECONDS": str(self.lease), "TIDINGS_WORKER_BATCH": "100",
                "TIDINGS_RATE_LIMITS": json.dumps({"default": "100000/minute", "rest": "100000/minute",
                                                   "clients": "100000/minute"}),
                **({"TIDINGS_WORKER_UNRECORDED_PER_CONNECTION": str(self.window)} if self.window else {})}

    def _spawn(self, args: list[str], env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
        out = (self.work / log).open("ab")
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.work)
        self.procs.append(proc)
        return proc

    def _tidings(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "tidings.cli", *args]

    # -- the run -----------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        smtp_port, smpp_port, api_port = free_port(), free_port(), free_port()
        out = subprocess.run([str(PG), "start", str(free_port())], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            return {"skipped": "no PostgreSQL: " + out.stderr.strip()}
        values = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
        url, self.pg_dir = values["URL"], values["DIR"]
        env = self._env(url, smpp_port)
        try:
            account = _prepare_database(url, env)
            self._spawn([sys.executable, str(ROOT / "tests" / "fakes" / "sinks.py"), "--smtp-port", str(smtp_port),
                         "--smpp-port", str(smpp_port), "--out", str(self.work)], env, "sinks.log")
            wait_port(smtp_port)
            wait_port(smpp_port)
            self._spawn(self._tidings("serve", "--no-engine", "--port", str(api_port)), env, "server.log")
            wait_port(api_port, 60)
            api = f"http://127.0.0.1:{api_port}"
            workers = [self._spawn(self._tidings("worker"), env, f"worker{i}.log") for i in range(self.workers)]
            started = time.monotonic()
            with httpx.Client(base_url=api, timeout=120) as http:
                self._campaign(http, account, smtp_port)
                submitter = threading.Thread(target=self._submit_sms, args=(api, account), daemon=True)
                submitter.start()
                drained = self._chaos(workers, env, started, submitter, http)
                elapsed = time.monotonic() - started
                health = self._health(http)
            submitter.join(timeout=5)
            time.sleep(1.0)  # copies in flight when the last original arrived
            by_status = _by_status(url)
            return {**self._report(drained, elapsed, health, by_status), "messages_by_status": by_status}
        finally:
            self._stop_all()
            subprocess.run([str(PG), "stop", self.pg_dir], capture_output=True)

    def _call(self, http: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request retried while the API answers 5xx or cannot be reached (the database is restarting)."""
        for _ in range(600):
            try:
                r = http.request(method, path, **kwargs)
                if r.status_code < 500:
                    return r
            except httpx.TransportError:
                pass
            self.api_retries += 1
            time.sleep(0.2)
        raise RuntimeError(f"{method} {path} never succeeded")

    def _campaign(self, http: httpx.Client, account: dict[str, Any], smtp_port: int) -> None:
        headers = {"Authorization": f"Bearer {account['api_token']}"}
        client = self._call(http, "POST", "/api/v1/clients", headers=headers,
                            json={"name": "Soak", "max_emails": MAILBOXES}).json()["data"]["id"]
        boxes = [self._call(http, "POST", "/api/v1/mailboxes", headers=headers, json={
            "client_id": client, "email": f"sender{i}@soak{i}.test", "name": f"Sam {i}", "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port, "smtp_security": "none", "daily_limit": 100_000, "min_interval_seconds": 0,
        }).json()["data"]["id"] for i in range(MAILBOXES)]
        campaign = self._call(http, "POST", "/api/v1/campaigns", headers=headers,
                              json={"name": "Soak", "client_id": client, "timezone": "UTC"}).json()["data"]["id"]
        base = f"/api/v1/campaigns/{campaign}"
        self._call(http, "POST", f"{base}/steps", headers=headers,
                   json={"subject": "Hello {{first_name}}", "body": "Hi {{first_name}}, a word from Soak."})
        self._call(http, "PUT", f"{base}/mailboxes", headers=headers, json={"mailbox_ids": boxes})
        self._call(http, "PUT", f"{base}/schedule", headers=headers,
                   json={"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "23:59"})
        rows = "\n".join(f"person{i}@example{i % 97}.org,First{i}" for i in range(self.emails))
        imported = self._call(http, "POST", f"{base}/contacts/import", headers=headers,
                              files={"file": ("c.csv", f"email,first_name\n{rows}\n".encode(), "text/csv")})
        if imported.status_code != 200 or imported.json()["data"]["created"] != self.emails:
            raise RuntimeError(f"import failed: {imported.status_code} {imported.text[:300]}")
        self._call(http, "POST", f"{base}/start", headers=headers)

    def _submit_sms(self, api: str, account: dict[str, Any]) -> None:
        auth = (account["username"], account["api_password"])
        with httpx.Client(base_url=api, timeout=120, auth=auth) as http:
            for first in range(0, self.sms, SMS_BATCH):
                # Paced by delivery, so that submissions go on through the kills and the database restart.
                while first - len(self._delivered()[1]) > 4 * SMS_BATCH:
                    time.sleep(0.2)
                to = [f"3460{n:07d}" for n in range(first, min(self.sms, first + SMS_BATCH))]
                # A batch whose answer was lost may have been stored: the duplicates count would show it.
                r = self._call(http, "POST", "/api/rest/sms", json={"to": to, "from": "SOAK", "message": "soak"})
                if r.status_code != 202:
                    raise RuntimeError(f"SMS refused: {r.status_code} {r.text[:300]}")
                self.sms_accepted += len(to)

    def _delivered(self) -> tuple[collections.Counter[str], collections.Counter[str]]:
        return (collections.Counter(_lines(self.work / "smtp.log")),
                collections.Counter(_lines(self.work / "smpp.log")))

    def _chaos(self, workers: list[subprocess.Popen[bytes]], env: dict[str, str], started: float,
               submitter: threading.Thread, http: httpx.Client) -> bool:
        next_kill = time.monotonic() + self.kill_every
        born = [started] * len(workers)
        while time.monotonic() - started < self.deadline:
            emails, sms = self._delivered()
            done = len(emails) >= self.emails and len(sms) >= self.sms and not submitter.is_alive()
            if done:
                return True
            if self.db_restart and self.db_restarted_at is None and len(emails) + len(sms) >= (
                    self.emails + self.sms) // 2:
                subprocess.run([str(PG), "pause", self.pg_dir], check=True, capture_output=True)
                self.db_restarted_at = time.monotonic() - started
                time.sleep(min(1.0, self.db_down))
                self.health_during_outage = self._health(http)
                time.sleep(max(0.0, self.db_down - 1.0))
                subprocess.run([str(PG), "resume", self.pg_dir], check=True, capture_output=True)
            # A worker still booting has nothing in flight: the victim is one that has been up a while.
            settled = [i for i, at in enumerate(born) if time.monotonic() - at >= self.kill_every]
            if time.monotonic() >= next_kill and settled:
                i = random.choice(settled)  # noqa: S311
                workers[i].send_signal(signal.SIGKILL)
                workers[i].wait()
                self.kills += 1
                workers[i] = self._spawn(self._tidings("worker"), env, f"worker{i}.log")
                born[i] = time.monotonic()
                self.restarts += 1
                next_kill = time.monotonic() + self.kill_every
            time.sleep(0.25)
        return False

    def _health(self, http: httpx.Client) -> dict[str, Any]:
        try:
            r = http.get("/healthz")
            return {"status_code": r.status_code, **r.json()}
        except (httpx.HTTPError, ValueError) as exc:
            return {"error": type(exc).__name__}

    def _report(self, drained: bool, elapsed: float, health: dict[str, Any], by_status: dict[str, int]
                ) -> dict[str, Any]:
        """Lost: accepted, not received, and no longer waiting in the queue (a deadline is not a loss)."""
        emails, sms = self._delivered()
        sms_ids = {f"3460{n:07d}" for n in range(self.sms)}
        waiting = {channel: sum(by_status.get(f"{channel} {s}", 0) for s in ("queued", "sending"))
                   for channel in ("email", "sms")}
        exits = [p.poll() for p in self.procs if p.poll() not in (None, -signal.SIGKILL)]
        return {
            "scenario": "kill -9 workers" + (" + database restart" if self.db_restart else ""),
            "drained": drained, "seconds_to_drain": round(elapsed, 1) if drained else None,
            "emails": {"expected": self.emails, "delivered": len(emails), "still_queued": waiting["email"],
                       "lost": max(0, self.emails - len(emails) - waiting["email"]),
                       "duplicates": sum(n - 1 for n in emails.values())},
            "sms": {"expected": self.sms, "accepted_by_api": self.sms_accepted,
                    "delivered": len(sms.keys() & sms_ids), "still_queued": waiting["sms"],
                    "lost": max(0, self.sms_accepted - len(sms.keys() & sms_ids) - waiting["sms"]),
                    "duplicates": sum(n - 1 for n in sms.values())},
            "workers": self.workers, "kills": self.kills, "kill_every_seconds": self.kill_every,
            "lease_seconds": self.lease, "unrecorded_per_connection": self.window or "default (16)",
            "database_restarted_at_second": (
                round(self.db_restarted_at, 1) if self.db_restarted_at is not None else None),
            "database_down_seconds": self.db_down if self.db_restart else None,
            "duplicates_per_kill": round((sum(n - 1 for n in emails.values()) + sum(n - 1 for n in sms.values()))
                                         / self.kills, 2) if self.kills else None,
            "api_retries": self.api_retries, "health_during_outage": self.health_during_outage,
            "health_after": health,
            "unexpected_exits": exits,
        }

    def _stop_all(self) -> None:
        # Workers first (the last started), the sinks last: a worker still sending must find its receivers.
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _prepare_database(url: str, env: dict[str, str]) -> dict[str, Any]:
    """Migrate and create the account in this process (two CLI processes would cost seconds of start-up each)."""
    import asyncio
    from dataclasses import asdict

    from tidings.config import Settings
    from tidings.db.migrate import upgrade
    from tidings.runtime import boot
    from tidings.tenancy.service import create_account

    upgrade(url)

    async def create() -> dict[str, Any]:
        db = boot(Settings(database_url=url, secret_key=env["TIDINGS_SECRET_KEY"],
                           data_dir=Path(env["TIDINGS_DATA_DIR"])))
        try:
            async with db.transaction() as session:
                return asdict(await create_account(session, name="Soak", email="soak@soak.test"))
        finally:
            await db.dispose()

    return asyncio.run(create())


def _by_status(url: str) -> dict[str, int]:
    """Outbound messages per channel and status, as the database ends up."""
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def query() -> dict[str, int]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(text("SELECT channel, status, count(*) FROM messages "
                                               "WHERE direction = 'out' GROUP BY channel, status"))
                return {f"{channel} {status}": int(n) for channel, status, n in rows}
        finally:
            await engine.dispose()

    try:
        return asyncio.run(query())
    except Exception as exc:  # noqa: BLE001 - a diagnostic only
        return {"error": type(exc).__name__}  # type: ignore[dict-item]


def soak(emails: int, sms: int, workers: int = 2, kill_every: float = 4.0, deadline: float = 600.0,
         db_restart: bool = False, lease: int = 10, db_down: float = 5.0, window: int | None = None) -> dict[str, Any]:
    """One scenario; the suite calls this with small numbers."""
    return Soak(emails, sms, workers, kill_every, deadline, db_restart, db_down=db_down, lease=lease,
                window=window).run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=20_000)
    parser.add_argument("--sms", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-every", type=float, default=4.0)
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds per scenario before giving up")
    parser.add_argument("--unrecorded-per-connection", type=int, default=None,
                        help="TIDINGS_WORKER_UNRECORDED_PER_CONNECTION for the workers (default: the setting's)")
    args = parser.parse_args()
    results = [soak(args.emails, args.sms, args.workers, args.kill_every, args.deadline, db_restart=restart,
                    window=args.unrecorded_per_connection) for restart in (False, True)]
    print(json.dumps({"bench": "soak", "database": "postgresql", "scenarios": results,
                      "lost": sum(r.get("emails", {}).get("lost", 0) + r.get("sms", {}).get("lost", 0)
                                  for r in results)}))


if __name__ == "__main__":
    main()
