"""A real DNS server for tests: Debian's dnsmasq on a free UDP/TCP port of 127.0.0.1, answering from a config.

`dns_server(lines)` starts it with dnsmasq config lines (mx-host=..., host-record=..., local=/test/)
and yields "127.0.0.1:PORT"; the test is skipped, visibly, when dnsmasq is not installed (an error
instead with TIDINGS_TEST_REQUIRE_DNSMASQ=1, as in CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dns.exception
import dns.nameserver
import dns.resolver
import pytest

from smtp_sink import free_port

# The records every validation test uses (the special-use .test TLD never leaks to the real DNS).
RECORDS = (
    "local=/test/",
    "mx-host=good.test,mx.good.test,10",
    "host-record=mx.good.test,127.0.0.1",
    "mx-host=nullmx.test,.,0",
    "host-record=amx.test,127.0.0.1",
    "mx-host=dangling.test,nowhere.test,10",
    "local=/mailinator.com/",
    "mx-host=mailinator.com,mx.good.test,10",
)


@contextmanager
def dns_server(lines: tuple[str, ...] | list[str] = RECORDS) -> Iterator[str]:
    binary = shutil.which("dnsmasq") or next((p for p in ("/usr/sbin/dnsmasq", "/sbin/dnsmasq") if Path(p).exists()),
                                             None)
    if binary is None:
        if os.environ.get("TIDINGS_TEST_REQUIRE_DNSMASQ"):
            pytest.fail("dnsmasq is required here (TIDINGS_TEST_REQUIRE_DNSMASQ) but not installed")
        pytest.skip("dnsmasq is not installed (apt-get install dnsmasq-base): no local DNS server")
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "zone.conf"
        conf.write_text("\n".join(lines) + "\n")
        port = free_port()
        proc = subprocess.Popen(
            [binary, "--no-daemon", f"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces",
             "--no-resolv", "--no-hosts", "--no-poll", f"--conf-file={conf}", "--log-facility=-"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_ready(port, proc)
            yield f"127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", port)]
    resolver.lifetime = 0.5
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dnsmasq exited with {proc.returncode}")
        try:
            resolver.resolve("good.test", "MX", raise_on_no_answer=False)
            return
        except dns.exception.Timeout:
            time.sleep(0.05)
        except dns.exception.DNSException:
            return  # any answer (even "no such name") means it is serving
    pytest.fail("dnsmasq did not answer within 10 s")
