"""SMS prices by destination country and network, the balance check, top-ups and charging at send time.

The price list is a CSV (`messaging/data/prices.csv`, or the operator's file in TIDINGS_PRICE_LIST)
with one default row per country (empty `mnc`, network "Default") and optional rows per network
(MCC/MNC). A number's network comes from phonenumbers' carrier data, which names the range holder
(a ported number keeps its original network, as with any prefix-based price list); the network's row
is used when its name matches, else the country's default row.

Charging happens once per message, on its first "sent" event, in the dispatcher's transaction:
Message.cost = parts x price (plus TIDINGS_CERTIFIED_SURCHARGE once for a certified SMS), added to
Sending.cost and debited from Account.balance with SQL arithmetic so that concurrent workers never
lose an update.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tidings.channels.base import SendResult
from tidings.config import Settings, get_settings
from tidings.core import sms
from tidings.core.errors import InsufficientBalance, NotFound, ValidationFailed
from tidings.core.phones import carrier_of, phone_country
from tidings.db.at_commit import Pending, SharedWrite
from tidings.db.base import table_of
from tidings.db.models import Account, Message, Sending
from tidings.messaging import delivery, events

COLUMNS: Final = ("country_iso", "country_name", "prefix", "mcc", "mnc", "network", "price", "currency")
DEFAULT_NETWORK: Final = "Default"
CURRENCY_SYMBOLS: Final = {"EUR": "€", "USD": "$", "GBP": "£", "BRL": "R$", "MXN": "$", "COP": "$", "CHF": "CHF",
                           "JPY": "¥", "INR": "₹", "ARS": "$", "CLP": "$", "PEN": "S/"}
_NOT_ALNUM: Final = re.compile(r"[^0-9a-z]+")


def currency_symbol(code: str) -> str:
    """The usual symbol of a currency code, or the code itself."""
    return CURRENCY_SYMBOLS.get(code.upper(), code.upper())


def _norm(name: str) -> str:
    return _NOT_ALNUM.sub("", name.lower())


@dataclass(frozen=True)
class PriceRow:
    """One line of the price list; `mnc` is None on a country's default row."""

    country_iso: str
    country_name: str
    prefix: str
    mcc: str | None
    mnc: str | None
    network: str
    price: Decimal
    currency: str


QUOTE_CACHE = 20_000  # quotes kept per price list (a few MB); a message is quoted at accept and again at send


@dataclass(frozen=True)
class Quote:
    """The price of one SMS part to one number, and where it goes."""

    price: Decimal
    mcc: str | None
    mnc: str | None
    country: str | None
    network: str | None
    currency: str

    def as_tuple(self) -> tuple[Decimal, str | None, str | None, str | None]:
        return self.price, self.mcc, self.mnc, self.country


class PriceList:
    """Rows indexed by country (default row) and by (country, network name)."""

    def __init__(self, rows: Iterable[PriceRow]) -> None:
        self.rows = list(rows)
        self._default: dict[str, PriceRow] = {}
        self._networks: dict[tuple[str, str], PriceRow] = {}
        for row in self.rows:
            if row.mnc is None:
                self._default.setdefault(row.country_iso, row)
            else:
                self._networks.setdefault((row.country_iso, _norm(row.network)), row)
        self.currency = self.rows[0].currency if self.rows else "EUR"
        # quote() by number: the carrier lookup walks a prefix table for every call (~100 µs).
        self._quotes: dict[str, Quote] = {}

    @classmethod
    def from_csv(cls, text: str, *, source: str = "price list") -> PriceList:
        """Parse the CSV text; raises ValueError naming the line of a malformed row."""
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{source}: missing columns {', '.join(missing)}")
        rows = []
        for line, raw in enumerate(reader, start=2):
            try:
                price = Decimal((raw["price"] or "").strip())
            except InvalidOperation:
                raise ValueError(f"{source}:{line}: price {raw['price']!r} is not a number") from None
            if not price.is_finite() or price < 0:
                raise ValueError(f"{source}:{line}: price must be a non-negative number")
            iso = (raw["country_iso"] or "").strip().upper()
            if len(iso) != 2:
                raise ValueError(f"{source}:{line}: country_iso must be an ISO alpha-2 code")
            rows.append(PriceRow(iso, (raw["country_name"] or "").strip(), (raw["prefix"] or "").strip(),
                                 (raw["mcc"] or "").strip() or None, (raw["mnc"] or "").strip() or None,
                                 (raw["network"] or "").strip() or DEFAULT_NETWORK, price,
                                 (raw["currency"] or "EUR").strip().upper()))
        return cls(rows)

    def default_for(self, country_iso: str) -> PriceRow | None:
        return self._default.get(country_iso.upper())

    def network_row(self, country_iso: str, network: str) -> PriceRow | None:
        """The row of a named network; a carrier name may be shorter or longer than the listed brand."""
        key = _norm(network)
        if not key:
            return None
        row = self._networks.get((country_iso, key))
        if row is not None:
            return row
        for (iso, name), candidate in self._networks.items():
            if iso == country_iso and (name.startswith(key) or key.startswith(name)):
                return candidate
        return None

    def quote(self, digits: str) -> Quote:
        """The per-part price for international digits; unpriced destinations cost nothing."""
        found = self._quotes.get(digits)
        if found is None:
            if len(self._quotes) >= QUOTE_CACHE:
                self._quotes.clear()
            found = self._quotes[digits] = self._quote(digits)
        return found

    def _quote(self, digits: str) -> Quote:
        country = phone_country(digits)
        if country is None:
            return Quote(Decimal("0"), None, None, None, None, self.currency)
        default = self.default_for(country)
        network_name = carrier_of(digits)
        row = self.network_row(country, network_name) if network_name else None
        chosen = row or default
        if chosen is None:
            return Quote(Decimal("0"), None, None, country, network_name or None, self.currency)
        return Quote(chosen.price, chosen.mcc, chosen.mnc, country,
                     chosen.network if row is not None else (network_name or None), chosen.currency)


@lru_cache(maxsize=8)
def _load(path: str | None, mtime: float) -> PriceList:
    if path is None:
        text = resources.files("tidings.messaging").joinpath("data/prices.csv").read_text("utf-8")
        return PriceList.from_csv(text, source="prices.csv")
    return PriceList.from_csv(Path(path).read_text("utf-8"), source=path)


def load_price_list(path: str | Path | None = None) -> PriceList:
    """The operator's price list at `path`, else the shipped default; re-read when the file changes."""
    if path is None:
        return _load(None, 0.0)
    return _load(str(path), Path(path).stat().st_mtime)


def price_list_for(settings: Settings | None = None) -> PriceList:
    """The price list the settings name (TIDINGS_PRICE_LIST), else the shipped default."""
    return load_price_list((settings or get_settings()).price_list)


def quote(recipient_digits: str, *, settings: Settings | None = None) -> Quote:
    """The full quote (price, network, currency) of one part to one number."""
    return price_list_for(settings).quote(recipient_digits)


def price_for(recipient_digits: str, *, settings: Settings | None = None) -> tuple[Decimal, str | None, str | None,
                                                                                   str | None]:
    """(price per part, mcc, mnc, country ISO) for international digits such as 34666555444."""
    return quote(recipient_digits, settings=settings).as_tuple()


def surcharge_for(certified: bool, settings: Settings | None = None) -> Decimal:
    """The per-message surcharge of a certified SMS (TIDINGS_CERTIFIED_SURCHARGE); nothing otherwise."""
    return (settings or get_settings()).certified_surcharge if certified else Decimal("0")


def total_cost(recipients: Iterable[str], parts: int, *, settings: Settings | None = None,
               certified: bool = False) -> Decimal:
    """What sending `parts` parts to every recipient costs, with the certified surcharge per message."""
    prices = price_list_for(settings)
    extra = surcharge_for(certified, settings)
    return sum((prices.quote(r).price * max(1, parts) + extra for r in recipients), Decimal("0"))


async def check_balance(
    session: AsyncSession,
    account_id: int,
    recipients: list[str],
    parts: int,
    channel: str = "sms",
    *,
    settings: Settings | None = None,
    certified: bool = False,
) -> None:
    """Raise InsufficientBalance (360nrs code 111, HTTP 402) when enforcement is on and the balance falls short.

    Only SMS is priced; other channels pass. Pass the app's settings (request.app.state.settings).
    """
    settings = settings or get_settings()
    if not settings.enforce_balance or channel != "sms":
        return
    account = await session.get(Account, account_id)
    if account is None:
        raise NotFound("Resource not found")
    if account.balance < total_cost(recipients, parts, settings=settings, certified=certified):
        raise InsufficientBalance("Not enough credits", nrs_code=111)


def parse_amount(text: str) -> Decimal:
    """A positive top-up amount from text; ValidationFailed for anything else."""
    try:
        amount = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise ValidationFailed.on("amount", f"amount {text!r} is not a number") from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationFailed.on("amount", "amount must be a positive number")
    if amount >= Decimal("1e9"):
        raise ValidationFailed.on("amount", "amount is too large")
    return amount


async def credit(session: AsyncSession, account_id: int, amount: Decimal) -> Decimal:
    """Top up an account's balance; returns the new balance. The caller commits."""
    if not amount.is_finite() or amount <= 0:
        raise ValidationFailed.on("amount", "amount must be a positive number")
    account = await session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    await session.execute(update(Account).where(Account.id == account_id)
                          .values(balance=Account.balance + amount).execution_options(synchronize_session=False))
    await session.refresh(account, ["balance"])
    return Decimal(account.balance)


# --- dispatch time: quote into the message, refuse what the balance cannot cover, charge on sent ----------


# The quotes the gate made for messages now being sent, by message id. Each is written into its message
# (extra["pricing"]) with the send's outcome, in the record transaction, instead of by one more UPDATE
# per message in the claim's. A message whose outcome is never recorded here is quoted again when claimed.
_QUOTED: dict[int, tuple[Quote, Decimal]] = {}
_QUOTED_MAX: Final = 20_000  # a batch's worth is in use at a time; the rest were held or refused by later gates


def _stored(q: Quote, surcharge: Decimal) -> dict[str, str | None]:
    """A quote as the message keeps it (extra["pricing"])."""
    stored = {"price": str(q.price), "mcc": q.mcc, "mnc": q.mnc, "country": q.country, "network": q.network,
              "currency": q.currency}
    if surcharge:
        # Kept with the quote so the charge on "sent" uses the rate the gate checked the balance against.
        stored["surcharge"] = str(surcharge)
    return stored


@delivery.gate
async def pricing_gate(session: AsyncSession, message: Message, settings: Settings) -> delivery.Refuse | None:
    """Quote an outbound SMS (kept in extra["pricing"] with its outcome); refuse it when enforcement is on and broke."""
    if message.channel != "sms" or message.direction != "out":
        return None
    q = price_list_for(settings).quote(message.recipient)
    surcharge = surcharge_for(bool((message.extra or {}).get("certified")), settings)
    if settings.enforce_balance and (q.price > 0 or surcharge > 0):
        account = await session.get(Account, message.account_id)
        if account is not None:
            # The balance is debited only when the batch is recorded, so count what this batch already needs.
            reserved: dict[int, Decimal] = session.info.setdefault("tidings.pricing.reserved", {})
            needed = reserved.get(account.id, Decimal("0")) + q.price * _parts(message) + surcharge
            if account.balance < needed:
                message.extra = {**(message.extra or {}), "pricing": _stored(q, surcharge)}
                return delivery.Refuse("rejected", "111", "Not enough credits")
            reserved[account.id] = needed
    if len(_QUOTED) >= _QUOTED_MAX:
        _QUOTED.clear()  # a message whose quote is dropped is charged at the price list's current rate
    _QUOTED[message.id] = (q, surcharge)
    return None


@delivery.outcome
async def _keep_quote(session: AsyncSession, message: Message, result: SendResult) -> None:
    """Write the gate's quote into the message with its outcome (the charge on "sent" reads it)."""
    if message.channel != "sms" or message.direction != "out":
        return  # only SMS are quoted (and each is quoted again by the gate before every send)
    kept = _QUOTED.pop(message.id, None)
    if kept is not None:
        message.extra = {**(message.extra or {}), "pricing": _stored(*kept)}


def _parts(message: Message) -> int:
    """Parts the preparer will send (it has not run yet at gate time)."""
    body = message.body or ""
    encoding = (message.extra or {}).get("encoding") or sms.detect_encoding(body)
    try:
        return max(1, message.parts or 1, sms.count_parts(body, encoding).parts)
    except ValueError:
        return max(1, message.parts or 1)


def _unit_price(extra: dict[str, Any] | None, recipient: str) -> Decimal:
    stored = (extra or {}).get("pricing") or {}
    try:
        return Decimal(str(stored["price"]))
    except (KeyError, InvalidOperation):
        return quote(recipient).price


def _surcharge(extra: dict[str, Any] | None) -> Decimal:
    """The certified surcharge the gate recorded; the current setting for a message it never quoted."""
    extra = extra or {}
    if not extra.get("certified"):
        return Decimal("0")
    stored = (extra.get("pricing") or {}).get("surcharge")
    if stored is None:
        return surcharge_for(True) if "pricing" not in extra else Decimal("0")
    try:
        return Decimal(str(stored))
    except InvalidOperation:
        return Decimal("0")


def _sent_cost(extra: dict[str, Any] | None, parts: int | None, recipient: str) -> Decimal:
    """What a sent SMS costs: its quoted unit price per part and its surcharge."""
    return _unit_price(extra, recipient) * max(1, parts or 1) + _surcharge(extra)


async def _charge_plain(session: AsyncSession, happened: events.HappenedPlain) -> None:
    """`charge_on_sent` on a plain row (events.record_plain): the cost joins the row's changes."""
    row = happened.row
    if not happened.first or row["channel"] != "sms" or row["direction"] != "out":
        return
    cost = happened.changes["cost"] = _sent_cost(row["extra"], row["parts"], row["recipient"])
    _add_charge(session, row["account_id"], row["sending_id"], cost)


@events.on_event("sent", plain=_charge_plain)
async def charge_on_sent(session: AsyncSession, happened: events.Happened) -> None:
    """Charge an SMS once, when it is first sent: message cost, sending cost and account balance together.

    The message's cost is set at once; the sending's and the account's sums are accumulated in the
    session and written by one UPDATE per row just before the transaction commits (as the stats
    counters are), so a batch of a thousand sends costs two statements instead of two thousand.
    """
    message = happened.message
    if not happened.first or message.channel != "sms" or message.direction != "out":
        return
    charge(session, message, _sent_cost(message.extra, message.parts, message.recipient))


def charge(session: AsyncSession, message: Message, cost: Decimal) -> None:
    """Set a message's cost; its sending's cost and its account's balance move when the transaction commits.

    For channels charged on another event than SMS's "sent" (voice: an answered call).
    """
    message.cost = cost
    _add_charge(session, message.account_id, message.sending_id, cost)


def _add_charge(session: AsyncSession, account_id: int, sending_id: int | None, cost: Decimal) -> None:
    if cost == 0:
        return
    pending = _CHARGES.of(session.sync_session)
    if sending_id is not None:
        pending[(Sending, sending_id)] += cost
    pending[(Account, account_id)] += cost


def _in_lock_order(pending: defaultdict[tuple[type[Any], int], Decimal]) -> list[tuple[type[Any], int, Decimal]]:
    """Sendings before accounts, each by id (a stable lock order keeps concurrent workers from deadlocking)."""
    return [(model, pk, cost) for (model, pk), cost in sorted(pending.items(), key=lambda item: (
        item[0][0] is Account, item[0][1])) if cost != 0]


def _write_charges(session: Session, pending: defaultdict[tuple[type[Any], int], Decimal]) -> None:
    """Add the accumulated costs to the sendings and debit the accounts, inside the committing transaction."""
    connection = session.connection()
    for model, pk, cost in _in_lock_order(pending):
        connection.execute(_ADD_TO_SENDING if model is Sending else _DEBIT_ACCOUNT, {"pk": pk, "amount": cost})


def _charges_together(pending: defaultdict[tuple[type[Any], int], Decimal], dialect: Dialect) -> list[SharedWrite]:
    """PostgreSQL: the same UPDATEs, one a row in the same order, to go with the other shared writes."""
    texts = _TOGETHER_SQL.get(dialect.name)
    if texts is None:  # built once per dialect, not at every commit
        cost, balance = (column.type.compile(dialect=dialect) for column in (_sendings.c.cost, _accounts.c.balance))
        texts = _TOGETHER_SQL[dialect.name] = (
            f"UPDATE sendings SET cost = cost + {{}}::{cost} WHERE id = {{}}",
            f"UPDATE accounts SET balance = balance - {{}}::{balance} WHERE id = {{}}")
    return [SharedWrite(texts[0] if model is Sending else texts[1], (amount, pk))
            for model, pk, amount in _in_lock_order(pending)]


_TOGETHER_SQL: dict[str, tuple[str, str]] = {}


# Built once: Core statements on the tables (an ORM update built per commit cost more than running it).
_sendings, _accounts = table_of(Sending), table_of(Account)
_ADD_TO_SENDING = (update(_sendings).where(_sendings.c.id == bindparam("pk"))
                   .values(cost=_sendings.c.cost + bindparam("amount", type_=_sendings.c.cost.type)))
_DEBIT_ACCOUNT = (update(_accounts).where(_accounts.c.id == bindparam("pk"))
                  .values(balance=_accounts.c.balance - bindparam("amount", type_=_accounts.c.balance.type)))
_CHARGES: Pending[defaultdict[tuple[type[Any], int], Decimal]] = Pending(
    "tidings.pricing.pending", lambda: defaultdict(Decimal), _write_charges, shared=True, together=_charges_together)


# --- email validation: a flat price per address (TIDINGS_EMAIL_VALIDATION_PRICE) in the price list's currency ---


def email_validation_price(settings: Settings | None = None) -> tuple[Decimal, str]:
    """(price per address checked, currency) of an email validation."""
    settings = settings or get_settings()
    return settings.email_validation_price, price_list_for(settings).currency
