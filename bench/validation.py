"""Email validation throughput: addresses per second against a local DNS server (dnsmasq), no SMTP probe.

Three runs on one dnsmasq answering MX and A records for DOMAINS domains under .bench.test:
`distinct_domains` checks one address per domain (every check is an MX and an A/AAAA round trip),
`shared_domains` checks ten addresses per domain (what a real list looks like: the per-domain answer is
cached for the job), and `engine` posts one validation of the shared-domain list through the API and
runs the engine job until it is finished (DNS plus the per-chunk writes: items, verdict cache,
counters), on SQLite. Without dnsmasq the benchmark says so instead of a number.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dns.exception  # noqa: E402
import dns.nameserver  # noqa: E402
import dns.resolver  # noqa: E402
import httpx  # noqa: E402
from common import free_port  # noqa: E402

from tidings.app import create_app  # noqa: E402
from tidings.config import Settings  # noqa: E402
from tidings.db.base import Base  # noqa: E402
from tidings.engine.context import EngineContext  # noqa: E402
from tidings.engine.runner import Runner  # noqa: E402
from tidings.messaging.validation.checks import Checker  # noqa: E402
from tidings.runtime import boot  # noqa: E402
from tidings.tenancy.service import create_account  # noqa: E402

DOMAINS = 1000
PER_DOMAIN = 10


def _start_dnsmasq(workdir: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    binary = shutil.which("dnsmasq") or ("/usr/sbin/dnsmasq" if Path("/usr/sbin/dnsmasq").exists() else None)
    if binary is None:
        return None
    lines = ["local=/bench.test/", "host-record=mx.bench.test,127.0.0.1"]
    lines += [f"mx-host=d{i}.bench.test,mx.bench.test,10" for i in range(DOMAINS)]
    conf = workdir / "zone.conf"
    conf.write_text("\n".join(lines) + "\n")
    port = free_port()
    proc = subprocess.Popen([binary, "--no-daemon", f"--port={port}", "--listen-address=127.0.0.1",
                             "--bind-interfaces", "--no-resolv", "--no-hosts", "--no-poll", f"--conf-file={conf}",
                             "--cache-size=10000", "--log-facility=-"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", port)]
    resolver.lifetime = 0.5
    for _ in range(100):
        try:
            resolver.resolve("d0.bench.test", "MX")
            return proc, port
        except dns.exception.DNSException:
            time.sleep(0.05)
    proc.terminate()
    return None


async def _checker(settings: Settings, addresses: list[str]) -> dict[str, float]:
    checker = Checker(settings)
    limit = asyncio.Semaphore(settings.validation_concurrency)

    async def one(address: str) -> str:
        async with limit:
            return (await checker.check(address)).result

    started = time.perf_counter()
    results = await asyncio.gather(*(one(a) for a in addresses))
    elapsed = time.perf_counter() - started
    checker.close()
    assert all(r == "valid" for r in results), set(results)
    return {"addresses": len(addresses), "seconds": round(elapsed, 3), "per_second": round(len(addresses) / elapsed, 1)}


async def _engine(settings: Settings, addresses: list[str]) -> dict[str, float]:
    db = boot(settings)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await db.dispose()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with app.state.db.transaction() as s:
            account = await create_account(s, name="Bench", email="bench@bench.test")
        auth = base64.b64encode(f"{account.username}:{account.api_password}".encode()).decode()
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
            started = time.perf_counter()
            r = await client.post("/api/rest/validation/emails", json={"emails": addresses, "allowRisky": True},
                                  headers={"Authorization": f"Basic {auth}"})
            r.raise_for_status()
            accepted = time.perf_counter() - started
            runner = Runner(EngineContext(app.state.db, settings, app.state.providers, "bench"))
            await runner.run_until_idle(max_rounds=1000)
            elapsed = time.perf_counter() - started
            r = await client.get(f"/api/rest/validation/emails/{r.json()['data']['id']}",
                                 headers={"Authorization": f"Basic {auth}"})
            data = r.json()["data"]
            assert data["status"] == "finished" and data["valid"] == len(addresses), data
    return {"addresses": len(addresses), "request_seconds": round(accepted, 3), "seconds": round(elapsed, 3),
            "per_second": round(len(addresses) / elapsed, 1)}


async def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        started = _start_dnsmasq(workdir)
        if started is None:
            return {"skipped": "dnsmasq (apt-get install dnsmasq-base) is not available"}
        proc, port = started
        try:
            settings = Settings(database_url=f"sqlite+aiosqlite:///{workdir / 'bench.db'}", secret_key="bench",
                                data_dir=workdir, public_url="http://bench", outbound_allow_private=True,
                                validation_resolver=f"127.0.0.1:{port}", rate_limits={"rest": "100000/minute"})
            distinct = [f"user@d{i}.bench.test" for i in range(DOMAINS)]
            shared = [f"user{n}@d{i}.bench.test" for i in range(DOMAINS) for n in range(PER_DOMAIN)]
            return {
                "domains": DOMAINS, "concurrency": settings.validation_concurrency,
                "distinct_domains": await _checker(settings, distinct),
                "shared_domains": await _checker(settings, shared),
                "engine_sqlite": await _engine(settings, shared),
            }
        finally:
            proc.terminate()
            proc.wait(5)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
