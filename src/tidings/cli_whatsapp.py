"""`tidings whatsapp ...`: the operator's registry of WhatsApp senders and templates, and the template sync."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

whatsapp_app = typer.Typer(help="WhatsApp senders and templates of an account.", no_args_is_help=True)
console = Console()
BUTTON_TYPES = ("QUICK_REPLY", "URL", "PHONE_NUMBER", "OTP", "COPY_CODE")


def _run(work: Any) -> Any:
    from tidings.cli_support import in_transaction as _in_transaction

    return _in_transaction(work)


def _subject(account: int) -> Any:
    from tidings.tenancy.subject import AuthSubject

    return AuthSubject(account_id=account, user_id=0)


def _template_row(row: Any) -> dict[str, Any]:
    from tidings.core import ids
    from tidings.messaging.whatsapp import templates

    needs = templates.needs(row)
    return {"templateId": ids.to_int(ids.Kind.WHATSAPP_TEMPLATE, row.id), "name": row.name,
            "language": row.language, "category": row.category, "status": row.status,
            "headerFields": needs.header, "bodyFields": needs.body, "callToActionFields": needs.actions,
            "location": needs.location, "quickReplies": needs.quick_replies}


@whatsapp_app.command("sender-add")
def sender_add(
    number: Annotated[str, typer.Argument(help="The WhatsApp number, international (e.g. 34666777555).")],
    account: Annotated[int, typer.Option("--account", help="Account id.")],
    phone_number_id: Annotated[str, typer.Option(help="The provider's phone-number id of this number.")],
    waba_id: Annotated[str | None, typer.Option(help="The WhatsApp Business Account id (for the template sync).")]
    = None,
    name: Annotated[str, typer.Option(help="A name kept with the number.")] = "",
) -> None:
    """Register a number the account may send WhatsApp templates and messages from."""
    from tidings.messaging.whatsapp import service

    async def work(session: AsyncSession) -> str:
        sender = await service.add_sender(session, account, number, phone_number_id, waba_id=waba_id, name=name)
        return sender.number

    console.print(f"{_run(work)} is a WhatsApp sender of account {account}")


@whatsapp_app.command("senders")
def senders(
    account: Annotated[int, typer.Option("--account", help="Account id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
) -> None:
    """List the account's WhatsApp senders."""
    from tidings.messaging.whatsapp import service

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        return [{"number": s.number, "phoneNumberId": s.phone_number_id, "wabaId": s.waba_id, "name": s.name}
                for s in await service.list_senders(session, _subject(account))]

    rows = _run(work)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        console.print(f"{row['number']}\tphone-number id {row['phoneNumberId']}\tWABA {row['wabaId'] or '-'}"
                      f"\t{row['name']}")


def _buttons(raw: list[str]) -> list[dict[str, str]]:
    out = []
    for item in raw:
        kind, _, rest = item.partition(":")
        kind = kind.strip().upper()
        if kind not in BUTTON_TYPES or not rest.strip():
            raise typer.BadParameter(f"a button is TYPE:TEXT[:URL] with TYPE one of {', '.join(BUTTON_TYPES)}")
        text, url = rest.partition(":")[::2] if kind == "URL" else (rest, "")
        button = {"type": kind, "text": text.strip()}
        if kind == "URL":
            if not url.strip():
                raise typer.BadParameter("a URL button is URL:TEXT:https://...")
            button["url"] = url.strip()
        out.append(button)
    return out


@whatsapp_app.command("template-add")
def template_add(
    account: Annotated[int, typer.Option("--account", help="Account id.")],
    name: Annotated[str, typer.Option(help="The template's name at the provider.")],
    body: Annotated[str, typer.Option(help="The body, with positional variables {{1}}, {{2}} ...")],
    language: Annotated[str, typer.Option(help="Language code, e.g. es or en_US.")] = "es",
    category: Annotated[str, typer.Option(help="MARKETING, UTILITY or AUTHENTICATION.")] = "MARKETING",
    header: Annotated[str | None, typer.Option(help="A text header (may have variables).")] = None,
    header_location: Annotated[bool, typer.Option("--header-location", help="A location header.")] = False,
    header_media: Annotated[str | None, typer.Option(help="A media header: image, video or document.")] = None,
    footer: Annotated[str | None, typer.Option(help="A footer text.")] = None,
    button: Annotated[list[str] | None, typer.Option(
        help="A button: QUICK_REPLY:Text, URL:Text:https://x/{{1}}, PHONE_NUMBER:Text, OTP:Copy code (repeatable).")]
    = None,
    status: Annotated[str, typer.Option(help="APPROVED (sendable), PENDING or REJECTED.")] = "APPROVED",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Add (or replace) a template by hand; prints its templateId for POST /api/rest/whatsapp."""
    from tidings.messaging.whatsapp import service

    if sum(bool(h) for h in (header, header_location, header_media)) > 1:
        raise typer.BadParameter("--header, --header-location and --header-media exclude each other")
    head: dict[str, str] = {"format": "TEXT", "text": header} if header else {}
    if header_location:
        head = {"format": "LOCATION"}
    if header_media:
        if header_media.upper() not in ("IMAGE", "VIDEO", "DOCUMENT"):
            raise typer.BadParameter("--header-media is image, video or document")
        head = {"format": header_media.upper()}
    values = {"name": name, "language": language, "category": category, "body": body, "header": head,
              "footer": footer, "buttons": _buttons(button or []), "status": status}

    async def work(session: AsyncSession) -> dict[str, Any]:
        row, _ = await service.save_template(session, account, values)
        return _template_row(row)

    row = _run(work)
    if as_json:
        typer.echo(json.dumps(row))
    else:
        console.print(f"template {row['name']} ({row['language']}, {row['status']}): templateId {row['templateId']}")


@whatsapp_app.command("templates")
def templates_list(
    account: Annotated[int, typer.Option("--account", help="Account id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
) -> None:
    """List the account's templates with their ids and the values a send must carry."""
    from tidings.messaging.whatsapp import service

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        return [_template_row(r) for r in await service.list_templates(session, _subject(account))]

    rows = _run(work)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        console.print(f"{row['templateId']}\t{row['name']}\t{row['language']}\t{row['category']}\t{row['status']}"
                      f"\theader {row['headerFields']}, body {row['bodyFields']}, "
                      f"actions {row['callToActionFields']}{', location' if row['location'] else ''}")


@whatsapp_app.command("sync-templates")
def sync_templates(
    account: Annotated[int, typer.Option("--account", help="Account id.")],
) -> None:
    """Read the templates of every business account of the account's senders from the provider."""
    from tidings.channels.base import ProviderError
    from tidings.channels.registry import build_provider
    from tidings.channels.whatsapp.meta import MetaProvider
    from tidings.config import get_settings
    from tidings.messaging.whatsapp import service

    async def wabas(session: AsyncSession) -> list[str]:
        return sorted({s.waba_id for s in await service.list_senders(session, _subject(account)) if s.waba_id})

    waba_ids: list[str] = _run(wabas)
    if not waba_ids:
        typer.echo("error: no sender of this account has a WhatsApp Business Account id (--waba-id)", err=True)
        raise typer.Exit(2)
    provider = build_provider("whatsapp", get_settings().whatsapp_url)
    if not isinstance(provider, MetaProvider):
        typer.echo("error: the template sync needs TIDINGS_WHATSAPP_URL=meta://...", err=True)
        raise typer.Exit(2)

    async def fetch() -> dict[str, list[dict[str, Any]]]:
        try:
            return {waba: await provider.list_templates(waba) for waba in waba_ids}
        finally:
            await provider.close()

    try:
        listed = asyncio.run(fetch())
    except ProviderError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None

    async def save(session: AsyncSession) -> list[str]:
        lines = []
        for waba, rows in listed.items():
            done = await service.sync_templates(session, account, waba, rows)
            lines.append(f"WABA {waba}: {done.created} new, {done.updated} updated, {done.removed} deleted")
        return lines

    for line in _run(save):
        console.print(line)
