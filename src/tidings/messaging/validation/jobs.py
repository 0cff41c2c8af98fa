"""The engine side of email validations: the job that checks the addresses, and the notificationUrl calls.

The job is network-bound (DNS, SMTP), so it is an io_job: it reads a chunk of unchecked addresses in
one short transaction, checks them with no transaction open, and records the verdicts (items, the
account's verdict cache, counters, blacklist) in another. It renews its lease per chunk, and a job
that dies half-way is picked up again and resumes with the addresses still unchecked.

Notifications are POSTed as JSON (`{"data": {...}}`, the document's shape with `error`) at started
and at finished or failed, through the same guarded client and retry schedule as the SMS
notificationUrl calls (tidings.messaging.notifications).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any, Final

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.config import Settings
from tidings.core import clock
from tidings.db.base import table_of
from tidings.db.jobs import enqueue
from tidings.db.models import Account, EmailValidation, EmailValidationItem, EmailVerdict, Job
from tidings.engine.context import EngineContext
from tidings.engine.registry import io_job
from tidings.messaging import blacklist, netguard, notifications
from tidings.messaging.validation import checks
from tidings.messaging.validation.service import JOB_KIND, render

log = structlog.get_logger("tidings.validation")

NOTIFY_KIND: Final = "validation.notification"
CHUNK: Final = 200
FAILED_MESSAGE: Final = "Failed to process email validation"


async def queue_notification(session: AsyncSession, validation: EmailValidation, settings: Settings) -> None:
    """Queue the notification of the validation's current state, when it has a notificationUrl."""
    if not validation.notification_url:
        return
    await enqueue(session, NOTIFY_KIND, {"validation_id": validation.id, "url": validation.notification_url,
                                         "body": render(validation, settings.public_url, notification=True),
                                         "retry": 0}, account_id=validation.account_id)


@io_job(NOTIFY_KIND, ordered_by="validation_id")
async def notify(ctx: EngineContext, job_row: Job) -> None:
    """POST one state to the notificationUrl; retried 1 to 5 minutes apart while the receiver fails."""
    payload: dict[str, Any] = dict(job_row.payload)
    content = json.dumps({"data": payload["body"]}).encode()
    try:
        error = await notifications.call(str(payload["url"]), ctx.settings.outbound_allow_private, method="POST",
                                         content=content, headers={"Content-Type": "application/json"})
    except netguard.UnsafeUrl as exc:
        log.warning("validation notification refused", validation_id=payload.get("validation_id"), reason=str(exc))
        return
    if error is not None:
        await notifications.retry_later(ctx, job_row, error, validation_id=payload.get("validation_id"))


@io_job(JOB_KIND)
async def run_validation(ctx: EngineContext, job_row: Job) -> None:
    """Check every address of a validation; a failure marks it failed (and notifies) instead of retrying."""
    pk = int(job_row.payload["validation_id"])
    checker: checks.Checker | None = None
    try:
        checker = checks.Checker(ctx.settings)  # a malformed resolver setting fails here
        await _run(ctx, job_row, pk, checker)
    except Exception as exc:  # noqa: BLE001 - whatever broke, the user is told "failed", never left "started"
        log.error("validation failed", validation_id=pk, error=f"{type(exc).__name__}: {exc}")
        await _fail(ctx, pk)
    finally:
        if checker is not None:
            checker.close()


async def _run(ctx: EngineContext, job_row: Job, pk: int, checker: checks.Checker) -> None:
    async with ctx.db.transaction() as session:
        validation = await session.get(EmailValidation, pk)
        if validation is None or validation.status in ("finished", "failed"):
            return
        if validation.status == "pending":
            validation.status, validation.updated_at = "started", clock.now()
            # The document's "started" notification shows the estimate as the cost being incurred.
            validation.cost = validation.estimated_cost
            await queue_notification(session, validation, ctx.settings)
    heartbeat = asyncio.ensure_future(_keep_lease(ctx, job_row))
    try:
        await _check_all(ctx, job_row, pk, checker)
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat


async def _keep_lease(ctx: EngineContext, job_row: Job) -> None:
    """Renew the job's lease while a chunk is being checked (slow DNS can outlast one lease)."""
    period = max(1.0, ctx.settings.worker_lease_seconds / 3)
    while True:
        await asyncio.sleep(period)
        async with ctx.db.transaction() as session:
            await _renew(session, ctx, job_row)


async def _renew(session: AsyncSession, ctx: EngineContext, job_row: Job) -> bool:
    """Extend this worker's lease on the job; False when another worker holds it now."""
    renewed = await session.execute(
        update(Job).where(Job.id == job_row.id, Job.locked_by == ctx.worker)
        .values(locked_until=clock.now() + timedelta(seconds=ctx.settings.worker_lease_seconds))
        .execution_options(synchronize_session=False))
    return bool(renewed.rowcount)  # type: ignore[attr-defined]


async def _check_all(ctx: EngineContext, job_row: Job, pk: int, checker: checks.Checker) -> None:
    limit = asyncio.Semaphore(max(1, ctx.settings.validation_concurrency))

    async def one(email: str) -> checks.Verdict:
        async with limit:
            return await checker.check(email)

    while True:
        todo = await _next_chunk(ctx, job_row, pk)
        if todo is None:
            return  # deleted, or another worker holds the job now
        items, cached, account_id, allow_risky = todo
        if not items:
            break
        fresh = [(item_id, email, key) for item_id, email, key in items if key not in cached]
        verdicts = await asyncio.gather(*(one(email) for _, email, _ in fresh))
        found = {key: verdict for (_, _, key), verdict in zip(fresh, verdicts, strict=True)}
        if not await _record(ctx, pk, account_id, allow_risky, items, cached, found):
            return
    await _finish(ctx, pk)


async def _next_chunk(ctx: EngineContext, job_row: Job, pk: int) -> tuple[
        list[tuple[int, str, str]], dict[str, checks.Verdict], int, bool] | None:
    """The next unchecked addresses and the reusable verdicts on them; None when the job should stop."""
    async with ctx.db.transaction() as session:
        if not await _renew(session, ctx, job_row):
            return None
        validation = await session.get(EmailValidation, pk)
        if validation is None:
            return None
        rows = (await session.execute(
            select(EmailValidationItem.id, EmailValidationItem.email, EmailValidationItem.email_key)
            .where(EmailValidationItem.validation_id == pk, EmailValidationItem.result.is_(None))
            .order_by(EmailValidationItem.id).limit(CHUNK))).all()
        items = [(int(i), str(e), str(k)) for i, e, k in rows]
        cached: dict[str, checks.Verdict] = {}
        if items and not validation.force:
            cutoff = clock.now() - timedelta(days=ctx.settings.validation_reuse_days)
            stmt = select(EmailVerdict.email_key, EmailVerdict.result, EmailVerdict.reason).where(
                EmailVerdict.account_id == validation.account_id, EmailVerdict.checked_at >= cutoff,
                EmailVerdict.email_key.in_([k for _, _, k in items]))
            cached = {k: checks.Verdict(r, reason) for k, r, reason in (await session.execute(stmt)).all()}
        return items, cached, validation.account_id, validation.allow_risky


async def _record(ctx: EngineContext, pk: int, account_id: int, allow_risky: bool,
                  items: list[tuple[int, str, str]], cached: dict[str, checks.Verdict],
                  found: dict[str, checks.Verdict]) -> bool:
    """Write one chunk's verdicts; False when the validation was deleted meanwhile."""
    now = clock.now()
    async with ctx.db.transaction() as session:
        validation = await session.get(EmailValidation, pk)
        if validation is None:
            return False
        updates: list[dict[str, Any]] = []
        valid = 0
        for item_id, _, key in items:
            verdict = found.get(key) or cached[key]
            valid += verdict.result == checks.VALID
            updates.append({"id": item_id, "result": verdict.result, "reason": verdict.reason,
                            "reused": key not in found, "checked_at": now})
        await session.execute(update(EmailValidationItem), updates)
        if found:
            await _remember(session, account_id, found, now)
        if not allow_risky:
            for _, email, key in items:
                verdict = found.get(key) or cached[key]
                if verdict.result != checks.VALID and blacklist.normalize("mailing", email) is not None:
                    await blacklist.add(session, account_id, "mailing", email, reason="email validation")
        validation.processed += len(items)
        validation.valid += valid
        validation.checked += len(found)
        validation.updated_at = now
    return True


async def _remember(session: AsyncSession, account_id: int, found: dict[str, checks.Verdict], now: Any) -> None:
    """Upsert the account's verdict cache, so later validations reuse these answers."""
    rows = [{"account_id": account_id, "email_key": key, "result": v.result, "reason": v.reason, "checked_at": now}
            for key, v in found.items()]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table_of(EmailVerdict)).values(rows)
    stmt = stmt.on_conflict_do_update(index_elements=["account_id", "email_key"], set_={
        "result": stmt.excluded.result, "reason": stmt.excluded.reason, "checked_at": stmt.excluded.checked_at})
    await session.execute(stmt)


async def _finish(ctx: EngineContext, pk: int) -> None:
    """Finished: the cost of the addresses actually checked, debited from the balance, and the notification."""
    async with ctx.db.transaction() as session:
        validation = await session.get(EmailValidation, pk)
        if validation is None or validation.status != "started":
            return
        now = clock.now()
        cost = Decimal(validation.unit_price) * validation.checked
        validation.status, validation.cost, validation.finished_at, validation.updated_at = \
            "finished", cost, now, now
        if cost > 0:
            await session.execute(update(Account).where(Account.id == validation.account_id)
                                  .values(balance=Account.balance - cost).execution_options(synchronize_session=False))
        await queue_notification(session, validation, ctx.settings)


async def _fail(ctx: EngineContext, pk: int) -> None:
    async with ctx.db.transaction() as session:
        validation = await session.get(EmailValidation, pk)
        if validation is None or validation.status in ("finished", "failed"):
            return
        validation.status, validation.error, validation.cost = "failed", FAILED_MESSAGE, Decimal("0")
        validation.updated_at = clock.now()
        await queue_notification(session, validation, ctx.settings)
