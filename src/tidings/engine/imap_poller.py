"""Reading replies from every mailbox with IMAP settings (aioimaplib), polled and pushed by IDLE.

Each round polls the mailboxes not polled for `POLL_SECONDS`: new UIDs above the last one seen
(reset when UIDVALIDITY changes) are fetched with BODY.PEEK[] (mail stays unread for people
reading the same inbox) and ingested in batches; the batch's transaction also advances the
mailbox's last UID, guarded so that two workers never ingest the same mail twice. Where the
server offers IDLE, a watcher task per mailbox waits for its push and polls at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import ssl
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aioimaplib
import structlog
from sqlalchemy import select, update

from tidings import net
from tidings.core import clock
from tidings.core.secrets import vault
from tidings.db.engine import Database
from tidings.db.models import Mailbox
from tidings.engine.context import EngineContext
from tidings.engine.registry import loop
from tidings.outreach.inbound.service import ingest

log = structlog.get_logger("tidings.imap")
POLL_SECONDS = 60.0
ERROR_BACKOFF_SECONDS = 600.0
IDLE_SECONDS = 25 * 60.0  # RFC 2177: re-issue IDLE before the server's 30-minute timeout
FETCH_CHUNK = 200
INGEST_BATCH = 100
TIMEOUT = 30.0
# An IDLE watcher that lost its server or database retries after 5 s, then doubling up to 5 minutes.
WATCH_RETRY_FIRST = 5.0
WATCH_RETRY_CAP = 300.0
_FETCH_UID = re.compile(rb"UID (\d+)")
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")


class ImapError(Exception):
    """The IMAP server refused us (login, select); the text is safe to show."""


@dataclass
class _State:
    """Per database: when each mailbox was last polled, its lock, its IDLE watcher."""

    polled: dict[int, datetime] = field(default_factory=dict)
    locks: dict[int, asyncio.Lock] = field(default_factory=dict)
    watchers: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    allow_private: bool = False  # TIDINGS_OUTBOUND_ALLOW_PRIVATE, set by each polling round


_STATES: weakref.WeakKeyDictionary[Database, _State] = weakref.WeakKeyDictionary()
# Off in tests that drive polling by hand; serve and worker keep it on.
IDLE_ENABLED = True


def _state(db: Database) -> _State:
    state = _STATES.get(db)
    if state is None:
        state = _STATES[db] = _State()
    return state


class _PinnedIMAP4(aioimaplib.IMAP4):
    """aioimaplib's client on a socket the outbound guard connected; TLS still checks the host name."""

    def __init__(self, sock: socket.socket, host: str, ssl_context: ssl.SSLContext | None) -> None:
        self._sock = sock
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        super().__init__(host, 0, timeout=TIMEOUT, ssl_context=ssl_context)

    def _lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        if self._conn_lost_cb is not None:
            self._conn_lost_cb(exc)

    async def greeted(self) -> None:
        """The server's greeting, failing as soon as the server hangs up (aioimaplib waits out its timeout)."""
        hello = asyncio.ensure_future(self.wait_hello_from_server())
        await asyncio.wait({hello, self.lost}, return_when=asyncio.FIRST_COMPLETED)
        if not hello.done():
            hello.cancel()
            raise ConnectionError("the server closed the connection without a greeting")
        hello.result()

    def create_client(self, host: str, port: int, loop: asyncio.AbstractEventLoop | None,
                      conn_lost_cb: Any = None, ssl_context: ssl.SSLContext | None = None) -> None:
        running = loop if loop is not None else asyncio.get_running_loop()
        self._conn_lost_cb = conn_lost_cb  # still told, after `lost`
        self.protocol = aioimaplib.IMAP4ClientProtocol(running, self._lost)
        self._client_task = running.create_task(running.create_connection(
            lambda: self.protocol, sock=self._sock, ssl=ssl_context,
            server_hostname=host if ssl_context is not None else None))


async def _connect(box: Mailbox, allow_private: bool) -> aioimaplib.IMAP4:
    security = box.imap_security or ("tls" if box.imap_port == 993 else "none")
    if security == "starttls":
        raise ImapError("IMAP STARTTLS is not supported; use tls (port 993) or none")
    port = box.imap_port or (993 if security == "tls" else 143)
    host = box.imap_host or ""
    try:
        sock = await net.open_socket(host, port, allow_private=allow_private, timeout=TIMEOUT)
    except net.UnsafeUrl:
        raise ImapError("IMAP host refused: it leads to a non-public address") from None
    except net.Unreachable as exc:
        raise ImapError(f"IMAP {exc}") from None
    client = _PinnedIMAP4(sock, host, ssl.create_default_context() if security == "tls" else None)
    try:
        await client.greeted()
    except Exception:  # noqa: BLE001 - no greeting reads like no connection, so ports cannot be told apart
        _abort(client)
        sock.close()
        raise ImapError("IMAP " + net.unreachable_message(host, port)) from None
    password = vault().decrypt(box.imap_password_enc) if box.imap_password_enc else ""
    response = await client.login(box.imap_username or box.email, password)
    if response.result != "OK":
        await _close(client)
        raise ImapError("IMAP login failed")
    return client


async def check(box: Mailbox, allow_private: bool) -> str | None:
    """Sign in to the mailbox's IMAP server once: None when that works, else why (without secrets)."""
    try:
        client = await asyncio.wait_for(_connect(box, allow_private), TIMEOUT + 5)
    except ImapError as exc:
        return str(exc)
    except (TimeoutError, OSError, aioimaplib.AioImapException) as exc:
        return "could not connect: " + type(exc).__name__
    await _close(client)
    return None


async def _close(client: aioimaplib.IMAP4) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.logout(), 5)


def _abort(client: aioimaplib.IMAP4) -> None:
    """Drop a connection at once (an IDLE one being cancelled cannot wait for LOGOUT)."""
    with contextlib.suppress(Exception):
        client.protocol.transport.close()


def _fetched(lines: list[bytes | bytearray]) -> list[tuple[int, bytes]]:
    """(uid, raw) pairs of a UID FETCH response; the UID may come before or after the literal."""
    out: list[tuple[int, bytes]] = []
    uid: int | None = None
    literal: bytes | None = None
    for line in lines:
        if isinstance(line, bytearray):
            literal = bytes(line)
            continue
        if b"FETCH (" in line:
            if literal is not None and uid is not None:
                out.append((uid, literal))
            found = _FETCH_UID.search(line)
            uid, literal = (int(found.group(1)) if found else None), None
        elif uid is None and (found := _FETCH_UID.search(line)) is not None:
            uid = int(found.group(1))
    if literal is not None and uid is not None:
        out.append((uid, literal))
    return out


async def poll_mailbox(db: Database, mailbox_id: int, allow_private: bool | None = None) -> int:
    """Fetch and ingest a mailbox's new mail; returns how many messages were read.

    `allow_private` defaults to the engine's setting (TIDINGS_OUTBOUND_ALLOW_PRIVATE, set by each polling round).
    """
    async with _state(db).locks.setdefault(mailbox_id, asyncio.Lock()):
        async with db.reading() as session:
            box = await session.get(Mailbox, mailbox_id)
        if box is None or not box.imap_host:
            return 0
        client = await _connect(box, _state(db).allow_private if allow_private is None else allow_private)
        try:
            selected = await client.select("INBOX")
            if selected.result != "OK":
                raise ImapError("IMAP select INBOX failed")
            validity = next((int(m.group(1)) for line in selected.lines if isinstance(line, bytes)
                             and (m := _UIDVALIDITY.search(line))), None)
            last = box.imap_last_uid if validity == box.imap_uidvalidity else 0
            found = await client.uid_search(f"UID {last + 1}:*")
            uids = sorted(int(u) for line in found.lines[:-1] if isinstance(line, bytes)
                          for u in line.split() if u.isdigit() and int(u) > last)
            read = 0
            for i in range(0, len(uids), FETCH_CHUNK):
                chunk = uids[i:i + FETCH_CHUNK]
                response = await client.uid("fetch", ",".join(map(str, chunk)), "(UID BODY.PEEK[])")
                mails = sorted(m for m in _fetched(response.lines) if m[0] > last)
                for j in range(0, len(mails), INGEST_BATCH):
                    batch = mails[j:j + INGEST_BATCH]
                    if not await _ingest_batch(db, box, batch, last, validity):
                        return read  # another worker took these; it will carry on
                    last = batch[-1][0]
                    read += len(batch)
            if not uids and validity != box.imap_uidvalidity:
                await _ingest_batch(db, box, [], last, validity)
            return read
        finally:
            await _close(client)


async def _ingest_batch(db: Database, box: Mailbox, mails: list[tuple[int, bytes]], last: int,
                        validity: int | None) -> bool:
    """Ingest mails and advance the mailbox's last UID in one transaction; False if someone else did."""
    new_last = mails[-1][0] if mails else last
    async with db.transaction() as session:
        moved = await session.execute(
            update(Mailbox).where(Mailbox.id == box.id, Mailbox.imap_last_uid == box.imap_last_uid,
                                  Mailbox.imap_uidvalidity.is_(box.imap_uidvalidity) if box.imap_uidvalidity is None
                                  else Mailbox.imap_uidvalidity == box.imap_uidvalidity)
            .values(imap_last_uid=new_last, imap_uidvalidity=validity, last_error=None
                    if (box.last_error or "").startswith("IMAP") else box.last_error))
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return False
        current = await session.get(Mailbox, box.id)
        for _, raw in mails:
            await ingest(session, raw, mailbox=current)
    box.imap_last_uid, box.imap_uidvalidity = new_last, validity
    return True


async def _record_error(db: Database, mailbox_id: int, error: str) -> None:
    async with db.transaction() as session:
        await session.execute(update(Mailbox).where(Mailbox.id == mailbox_id).values(last_error=error[:500]))


async def _watch(db: Database, mailbox_id: int) -> None:
    """Hold an IDLE connection and poll as soon as the server announces new mail; outages are waited out."""
    failing_since: datetime | None = None
    delay = WATCH_RETRY_FIRST
    while True:
        try:
            async with db.reading() as session:
                box = await session.get(Mailbox, mailbox_id)
            if box is None or not box.imap_host:
                return
            client = await _connect(box, _state(db).allow_private)
            idle: asyncio.Future[object] | None = None
            try:
                if not client.has_capability("IDLE"):
                    return
                await client.select("INBOX")
                if failing_since is not None:
                    log.warning("IMAP IDLE watcher connected again", mailbox_id=mailbox_id,
                                outage_seconds=round((clock.now() - failing_since).total_seconds(), 1))
                    failing_since, delay = None, WATCH_RETRY_FIRST
                while True:
                    idle = await client.idle_start(timeout=IDLE_SECONDS)
                    pushed = []
                    with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                        pushed = await client.wait_server_push(timeout=IDLE_SECONDS)
                    client.idle_done()
                    with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                        await asyncio.wait_for(idle, 10)
                    if isinstance(pushed, list) and any(b"EXISTS" in bytes(p) for p in pushed
                                                        if isinstance(p, bytes | bytearray)):
                        await poll_mailbox(db, mailbox_id)
                        _state(db).polled[mailbox_id] = clock.now()
            finally:
                # aioimaplib's IDLE command is a task of its own: left pending, a closing loop reports it destroyed.
                if idle is not None and not idle.done():
                    idle.cancel()
                _abort(client)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - reconnect after any network, server or database trouble
            if failing_since is None:
                failing_since = clock.now()
                log.warning("IMAP IDLE watcher lost its connection, retrying with backoff", mailbox_id=mailbox_id,
                            error=type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(WATCH_RETRY_CAP, delay * 2)


def start_watcher(db: Database, mailbox_id: int) -> None:
    state = _state(db)
    task = state.watchers.get(mailbox_id)
    if task is None or task.done():
        state.watchers[mailbox_id] = asyncio.create_task(_watch(db, mailbox_id), name=f"imap-idle-{mailbox_id}")


async def stop_watchers(db: Database) -> None:
    """Cancel this database's IDLE watchers (app and worker shutdown)."""
    state = _STATES.get(db)
    if state is None:
        return
    tasks = list(state.watchers.values())
    state.watchers.clear()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


@loop("imap.poll")
async def poll(ctx: EngineContext) -> int:
    """Poll every IMAP mailbox that is due; start IDLE watchers where the server has IDLE."""
    state = _state(ctx.db)
    state.allow_private = ctx.settings.outbound_allow_private
    now = clock.now()
    async with ctx.db.reading() as session:
        ids = (await session.execute(select(Mailbox.id).where(Mailbox.imap_host.is_not(None), Mailbox.imap_host != "")
                                     .order_by(Mailbox.id))).scalars().all()
    read = 0
    for mailbox_id in ids:
        last = state.polled.get(mailbox_id)
        if last is not None and now - last < timedelta(seconds=POLL_SECONDS):
            continue
        state.polled[mailbox_id] = now
        try:
            read += await poll_mailbox(ctx.db, mailbox_id)
        except Exception as exc:  # noqa: BLE001 - one broken mailbox must not stop the others
            detail = str(exc) if isinstance(exc, ImapError) else f"IMAP error: {type(exc).__name__}"
            log.warning("IMAP poll failed", mailbox_id=mailbox_id, error=detail)
            await _record_error(ctx.db, mailbox_id, detail if detail.startswith("IMAP") else "IMAP " + detail)
            state.polled[mailbox_id] = now + timedelta(seconds=ERROR_BACKOFF_SECONDS - POLL_SECONDS)
            continue
        if IDLE_ENABLED:
            start_watcher(ctx.db, mailbox_id)
    return read
