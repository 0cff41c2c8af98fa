"""The `tidings` command: serve, worker, migrate and operator tasks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from tidings import net
from tidings.cli_support import in_transaction
from tidings.config import Settings, get_settings
from tidings.db.engine import is_sqlite
from tidings.db.migrate import revision, upgrade
from tidings.runtime import boot, raise_open_files_limit, run_loop, tune_gc, warm

app = typer.Typer(help="Tidings: self-hosted outreach and messaging.", no_args_is_help=True)
account_app = typer.Typer(help="Accounts and their credentials.", no_args_is_help=True)
app.add_typer(account_app, name="account")
sender_app = typer.Typer(help="Verified sender addresses of an account (messaging API fromEmail/replyTo).",
                         no_args_is_help=True)
app.add_typer(sender_app, name="sender")
voice_app = typer.Typer(help="Voice calls of the messaging API.", no_args_is_help=True)
app.add_typer(voice_app, name="voice")
caller_app = typer.Typer(help="Caller ids an account may use in a request's `callers` (error 132 otherwise).",
                         no_args_is_help=True)
voice_app.add_typer(caller_app, name="caller")
console = Console()
T = TypeVar("T")
# Contact database CSV import and export (issue 10).
from tidings.cli_contacts import contacts_app  # noqa: E402

app.add_typer(contacts_app, name="contacts")


@app.command()
def migrate() -> None:
    """Apply every database migration."""
    settings = get_settings()
    upgrade(settings.database_url)
    console.print("database is up to date")


@app.command("db-revision", hidden=True)
def db_revision(message: Annotated[str, typer.Option("-m", "--message")]) -> None:
    """Autogenerate a migration from the models (for developers)."""
    revision(get_settings().database_url, message)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_engine: Annotated[
        bool, typer.Option("--no-engine", help="Serve the API only; run `tidings worker` apart.")
    ] = False,
    smtp_port: Annotated[int | None, typer.Option(help="Also accept inbound mail (replies) on this port.")] = None,
) -> None:
    """Serve the API (and, unless --no-engine, the engine) in one process."""
    import uvicorn

    from tidings.app import create_app
    from tidings.logging import configure
    from tidings.serving import uvicorn_options

    settings = get_settings()
    configure(settings.log_level)
    if is_sqlite(settings.database_url):
        upgrade(settings.database_url)
    if smtp_port is not None:
        settings.inbound_smtp_port = smtp_port
    application = create_app(settings, engine=not no_engine, warm=True)
    if not no_engine:
        warm(settings)
    raise_open_files_limit()
    tune_gc()
    uvicorn.run(application, host=host, port=port, log_level=settings.log_level, **uvicorn_options(settings))


@app.command()
def worker() -> None:
    """Run the engine only (scale out: any number of workers against one PostgreSQL)."""
    from tidings.engine.context import EngineContext
    from tidings.engine.runner import Runner, release_worker, worker_name
    from tidings.logging import configure
    from tidings.runtime import providers_for

    settings = get_settings()
    configure(settings.log_level)

    async def main() -> None:
        db = boot(settings)
        ctx = EngineContext(db, settings, providers_for(settings), worker_name())
        raise_open_files_limit()
        runner = Runner(ctx)
        warm(settings)
        tune_gc()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            # Finish the current batch and give leases back instead of dying mid-send.
            loop.add_signal_handler(sig, runner.stop)
        try:
            await runner.run_forever()
        finally:
            await release_worker(ctx)
            await ctx.providers.close()
            await net.close_shared_clients()
            await db.dispose()

    with contextlib.suppress(KeyboardInterrupt):
        run_loop(main())


@account_app.command("create")
def account_create(
    name: Annotated[str, typer.Option(help="The account's name (agency or company).")],
    email: Annotated[str, typer.Option(help="The owner's email address.")],
    username: Annotated[str | None, typer.Option(help="Basic-auth username; derived from the email if unset.")] = None,
    set_password: Annotated[bool, typer.Option("--set-password", help="Ask for the owner's dashboard password now.")
                            ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create an account with its owner; prints the owner's secrets and a set-password link once."""
    from tidings.db.models import User
    from tidings.tenancy import passwords
    from tidings.tenancy.service import create_account

    password = typer.prompt("Dashboard password", hide_input=True, confirmation_prompt=True) if set_password else None
    settings = get_settings()

    async def work(session: AsyncSession) -> dict[str, object]:
        created = asdict(await create_account(session, name=name, email=email, username=username))
        owner = await session.get(User, await _owner_id(session, int(created["account_id"])))
        assert owner is not None
        if password is not None:
            passwords.set_password(owner, password)
            await session.flush()
        else:
            created["password_link"] = _password_link(settings, passwords.reset_token(settings.resolved_secret_key(),
                                                                                      owner))
        return created

    result = in_transaction(work)
    if as_json:
        typer.echo(json.dumps(result))
        return
    console.print(f"Account {result['account_id']} created for {result['email']}.")
    console.print("These secrets are shown once; keep them now.")
    console.print(f"  Bearer token / AuthenticationToken: {result['api_token']}")
    console.print(f"  Basic auth username:              {result['username']}")
    console.print(f"  Basic auth API password:          {result['api_password']}")
    if "password_link" in result:
        typer.echo(f"Set the dashboard password (link valid 7 days, once): {result['password_link']}")
    else:
        console.print(f"Sign in at {settings.public_url}/ with {result['email']} and the password you chose.")


async def _owner_id(session: AsyncSession, account_id: int) -> int:
    from sqlalchemy import select

    from tidings.db.models import User

    return int((await session.execute(select(User.id).where(User.account_id == account_id, User.is_owner.is_(True))
                                      .order_by(User.id).limit(1))).scalar_one())


def _password_link(settings: Settings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/set-password/{token}"


@account_app.command("password")
def account_password(
    email: Annotated[str, typer.Option(help="The user's email address.")],
    account: Annotated[int | None, typer.Option("--account", help="Account id, when the email is in several.")] = None,
    set_now: Annotated[bool, typer.Option("--set", help="Ask for the new password here instead of printing a link.")
                       ] = False,
) -> None:
    """Print a one-time link that sets a user's dashboard password (or --set it here)."""
    from sqlalchemy import func, select

    from tidings.db.models import User
    from tidings.tenancy import passwords

    password = typer.prompt("New password", hide_input=True, confirmation_prompt=True) if set_now else None
    settings = get_settings()

    async def work(session: AsyncSession) -> str | None:
        stmt = select(User).where(func.lower(User.email) == email.strip().lower(), User.active.is_(True))
        if account is not None:
            stmt = stmt.where(User.account_id == account)
        users = list((await session.execute(stmt.limit(2))).scalars())
        if len(users) != 1:
            return None
        if password is not None:
            passwords.set_password(users[0], password)
            return ""
        return _password_link(settings, passwords.reset_token(settings.resolved_secret_key(), users[0]))

    link = in_transaction(work)
    if link is None:
        typer.echo("error: no single active user has that email (give --account)", err=True)
        raise typer.Exit(1)
    if link:
        typer.echo(f"Set the dashboard password (link valid 7 days, once): {link}")
    else:
        console.print("password set")


@account_app.command("allow-ips")
def account_allow_ips(
    account: Annotated[int, typer.Option("--account", help="Account id.")],
    ips: Annotated[list[str] | None, typer.Argument(help="Addresses or CIDR networks; none clears the list.")] = None,
) -> None:
    """Restrict the messaging API (/api/rest) to these caller IPs."""
    from tidings.tenancy.service import set_allowed_ips

    async def work(session: AsyncSession) -> None:
        await set_allowed_ips(session, account, ips or [])

    in_transaction(work)
    console.print("allowed IPs: " + (", ".join(ips) if ips else "any"))


@account_app.command("credit")
def account_credit(
    amount: Annotated[str, typer.Argument(help="Amount to add to the balance, e.g. 25 or 12.50.")],
    account: Annotated[int, typer.Option("--account", help="Account id.")],
) -> None:
    """Top up an account's balance (the messaging API charges SMS against it); prints the new balance."""
    from tidings.messaging.pricing import credit, parse_amount

    async def work(session: AsyncSession) -> object:
        return await credit(session, account, parse_amount(amount))

    balance = in_transaction(work)
    console.print(f"account {account} balance: {balance}")


@account_app.command("notifications")
def account_notifications(
    account: Annotated[int, typer.Option("--account", help="Account id.")],
    url: Annotated[str | None, typer.Option(help="Where to POST every event (http or https).")] = None,
    events: Annotated[str | None, typer.Option(help="Only these events, comma-separated (default: all).")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Stop event notifications.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show, set (--url; prints a new signing secret once) or --clear the account's event notifications."""
    from tidings.messaging import event_webhooks
    from tidings.tenancy.subject import AuthSubject

    if url is not None and clear:
        typer.echo("error: --url and --clear exclude each other", err=True)
        raise typer.Exit(2)
    wanted = [e.strip() for e in events.split(",") if e.strip()] if events is not None else None
    subject = AuthSubject(account_id=account, user_id=0)

    async def work(session: AsyncSession) -> dict[str, object]:
        if clear:
            return {"cleared": await event_webhooks.clear(session, subject)}
        if url is not None:
            view, secret = await event_webhooks.configure(
                session, subject, url, wanted, allow_private=get_settings().outbound_allow_private)
            return {**asdict(view), "secret": secret}
        shown = await event_webhooks.show(session, subject)
        return asdict(shown) if shown is not None else {"url": None}

    result = in_transaction(work)
    if as_json:
        typer.echo(json.dumps(result))
    elif "cleared" in result:
        console.print("event notifications removed" if result["cleared"] else "event notifications were not set")
    elif result.get("url") is None:
        console.print(f"account {account} has no event notifications")
    else:
        filter_ = result.get("events")
        console.print(f"event notifications: POST {result['url']} "
                      f"({', '.join(map(str, filter_)) if isinstance(filter_, list) else 'every event'})")
        if "secret" in result:
            # Plain echo: rich would wrap the secret at the console width.
            typer.echo(f"Signing secret (shown once; keep it now): {result['secret']}")


@sender_app.command("add")
def sender_add(
    email: Annotated[str, typer.Argument(help="The sender address.")],
    account: Annotated[int, typer.Option("--account", help="Account id.")],
    name: Annotated[str, typer.Option(help="Display name kept with the address.")] = "",
) -> None:
    """Add a verified sender to an account directly (no verification mail)."""
    from tidings.messaging.senders import add_verified

    async def work(session: AsyncSession) -> str:
        return (await add_verified(session, account, email, name)).email

    added = in_transaction(work)
    console.print(f"{added} is a verified sender of account {account}")


@sender_app.command("list")
def sender_list(
    account: Annotated[int, typer.Option("--account", help="Account id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
) -> None:
    """List an account's senders and whether each is verified."""
    from tidings.messaging.senders import list_senders
    from tidings.tenancy.subject import AuthSubject

    async def work(session: AsyncSession) -> list[dict[str, object]]:
        rows = await list_senders(session, AuthSubject(account_id=account, user_id=0))
        return [{"email": r.email, "name": r.name, "verified": r.verified_at is not None} for r in rows]

    rows = in_transaction(work)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        console.print(f"{row['email']}\t{'verified' if row['verified'] else 'not verified'}\t{row['name']}")


@caller_app.command("add")
def voice_caller_add(
    country: Annotated[str, typer.Argument(help="ISO 3166 alpha-2 country the caller is used for, e.g. ES.")],
    number: Annotated[str, typer.Argument(help="The caller's number, e.g. 34911222333.")],
    account: Annotated[int, typer.Option("--account", help="Account id.")],
) -> None:
    """Register a caller id for an account in one country."""
    from tidings.messaging.voice import callers

    async def work(session: AsyncSession) -> tuple[str, str]:
        row = await callers.add(session, account, country, number)
        return row.country, row.number

    iso, digits = in_transaction(work)
    console.print(f"{digits} is a caller of account {account} for {iso}")


@caller_app.command("remove")
def voice_caller_remove(
    country: Annotated[str, typer.Argument(help="ISO 3166 alpha-2 country.")],
    number: Annotated[str, typer.Argument(help="The caller's number.")],
    account: Annotated[int, typer.Option("--account", help="Account id.")],
) -> None:
    """Take a caller id away from an account."""
    from tidings.messaging.voice import callers

    async def work(session: AsyncSession) -> None:
        await callers.remove(session, account, country, number)

    in_transaction(work)
    console.print("removed")


@caller_app.command("list")
def voice_caller_list(
    account: Annotated[int, typer.Option("--account", help="Account id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
) -> None:
    """List an account's caller ids by country."""
    from tidings.messaging.voice import callers

    async def work(session: AsyncSession) -> list[dict[str, str]]:
        return [{"country": r.country, "number": r.number} for r in await callers.listed(session, account)]

    rows = in_transaction(work)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        console.print(f"{row['country']}\t{row['number']}")




attachment_app = typer.Typer(help="Files that messages link with [attachment_{ID}] (kept under the data dir).",
                             no_args_is_help=True)
app.add_typer(attachment_app, name="attachment")


@attachment_app.command("add")
def attachment_add(
    file: Annotated[Path, typer.Argument(help="The file to store.", exists=True, dir_okay=False, readable=True)],
    account: Annotated[int, typer.Option("--account", help="Account id.")],
    name: Annotated[str, typer.Option(help="File name shown to recipients (default: the file's).")] = "",
    content_type: Annotated[str, typer.Option("--type", help="MIME type (default: guessed from the name).")] = "",
) -> None:
    """Store a file for an account and print the ID that `[attachment_{ID}]` links name."""
    import mimetypes

    from tidings.messaging import stored_attachments
    from tidings.tenancy.subject import AuthSubject

    shown = name or file.name
    kind = content_type or mimetypes.guess_type(shown)[0] or "application/octet-stream"
    data = file.read_bytes()

    async def work(session: AsyncSession) -> int:
        row = await stored_attachments.store(session, AuthSubject(account_id=account, user_id=0),
                                             get_settings().data_dir, shown, kind, data)
        return stored_attachments.public_id(row)

    public = in_transaction(work)
    typer.echo(f"{public}\t{shown}\t{kind}\t[attachment_{public}]")


@attachment_app.command("list")
def attachment_list(account: Annotated[int, typer.Option("--account", help="Account id.")]) -> None:
    """List an account's stored files with their IDs."""
    from tidings.messaging import stored_attachments
    from tidings.tenancy.subject import AuthSubject

    async def work(session: AsyncSession) -> list[tuple[int, str, str, int]]:
        rows = await stored_attachments.listing(session, AuthSubject(account_id=account, user_id=0))
        return [(stored_attachments.public_id(r), r.name, r.content_type, r.size) for r in rows]

    for public, shown, kind, size in in_transaction(work):
        typer.echo(f"{public}\t{shown}\t{kind}\t{size}")


from tidings.cli_whatsapp import whatsapp_app  # noqa: E402

app.add_typer(whatsapp_app, name="whatsapp")

if __name__ == "__main__":
    app()
