"""A real `tidings serve` process and Debian's Chromium driven by Playwright.

Chromium comes from `apt-get install chromium`; without it the browser tests are skipped visibly,
unless TIDINGS_TEST_REQUIRE_CHROMIUM=1 (CI) makes that an error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from smtp_sink import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(os.environ.get("TIDINGS_SCREENSHOTS", ROOT / "build" / "screenshots"))


@dataclass
class Server:
    url: str
    smtp_port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    def cli(self, *args: str, stdin: str | None = None) -> str:
        out = subprocess.run([sys.executable, "-m", "tidings.cli", *args], env=self.env, input=stdin,
                             capture_output=True, text=True, timeout=60, check=True)
        return out.stdout

    def account(self, name: str, email: str) -> dict[str, Any]:
        created: dict[str, Any] = json.loads(self.cli("account", "create", "--name", name, "--email", email, "--json"))
        return created


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    port, smtp_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TIDINGS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dash.db'}",
           "TIDINGS_DATA_DIR": str(tmp_path), "TIDINGS_PUBLIC_URL": url, "TIDINGS_OUTBOUND_ALLOW_PRIVATE": "true",
           "TIDINGS_SECRET_KEY": "dashboard-test-secret", "TIDINGS_LOG_LEVEL": "warning",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-m", "tidings.cli", "migrate"], env=env, check=True, capture_output=True)
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "tidings.cli", "serve", "--port", str(port),
                                "--smtp-port", str(smtp_port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("tidings serve did not start: " + (tmp_path / "serve.log").read_text()[-2000:])
        time.sleep(0.2)
    try:
        yield Server(url, smtp_port, env, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped: Playwright's sync API keeps an event loop running in this thread while it is open,
    which the asyncio tests of other modules must not find."""
    if CHROMIUM is None:
        if os.environ.get("TIDINGS_TEST_REQUIRE_CHROMIUM"):
            raise RuntimeError("Chromium is required here (TIDINGS_TEST_REQUIRE_CHROMIUM) but not installed")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run"])
        try:
            yield launched
        finally:
            launched.close()


def shot(page: Any, name: str) -> None:
    """Keep a screenshot of a main page (build/screenshots, or TIDINGS_SCREENSHOTS) to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
