"""Helpers shared by the tests: one function per credential style, and a real local HTTP receiver."""

from __future__ import annotations

import base64
import datetime
import os
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tidings.core import ids
from tidings.core.ids import Kind
from tidings.db.models import Account


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def wavy(username: str, token: str) -> dict[str, str]:
    return {"UserName": username, "AuthenticationToken": token}


@dataclass
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        """The application/x-www-form-urlencoded body, one value per name."""
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


class Receiver:
    """A real HTTP(S) server on 127.0.0.1 (ours, not a fake of the outside world) that records every request.

    It answers the queued `statuses` first, then 200. Use it as a context manager. `hold()` makes it keep
    every request waiting (a slow receiver) until `release()`.
    """

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.requests: list[Received] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        self.answering = threading.Event()
        self.answering.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver.lock:
                    receiver.requests.append(Received(self.command, self.path, dict(self.headers.items()), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.answering.wait(30)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = _answer  # noqa: N815 - the http.server API

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.tls = ssl_context is not None
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def base(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def calls(self) -> list[str]:
        return [r.path for r in self.requests]

    def queries(self) -> list[dict[str, str]]:
        return [{k: v[0] for k, v in parse_qs(urlsplit(c).query, keep_blank_values=True).items()}
                for c in self.calls]

    def forms(self) -> list[dict[str, str]]:
        return [r.form() for r in self.requests]

    def hold(self) -> None:
        self.answering.clear()

    def release(self) -> None:
        self.answering.set()

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


def row_id(kind: Kind, public: int | str) -> int:
    """The primary key behind a messaging-dialect id from a response (tests that read the row itself)."""
    pk = ids.from_int(kind, public)
    assert pk is not None, f"{public!r} is not a {kind.name} id"
    return pk


def public_id(kind: Kind, pk: int) -> int:
    """The messaging-dialect id of a row the test created directly."""
    return ids.to_int(kind, pk)


def self_signed(tmp: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `name` and its key, as PEM files in `tmp`."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def script_values(stdout: str) -> dict[str, str]:
    """The KEY=value lines a throwaway-server script (scripts/*-throwaway.sh) prints when it has started."""
    return dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)


def unavailable(service: str, reason: str) -> NoReturn:
    """Skip visibly for want of a real component, or fail where TIDINGS_TEST_REQUIRE_<SERVICE>=1 (CI) requires it."""
    if os.environ.get(f"TIDINGS_TEST_REQUIRE_{service.upper()}"):
        pytest.fail(f"{service} is required here but unavailable: {reason}")
    pytest.skip(f"{service} unavailable: {reason}")


async def notify_events(db: Any, account_id: int) -> None:
    """Turn an account's event notifications on as stored settings (sealed values: the jobs are queued, not sent)."""
    async with db.transaction() as s:
        row = await s.get(Account, account_id)
        assert row is not None
        row.settings = {**(row.settings or {}), "event_notifications": {"url": "sealed", "secret": "sealed"}}
