"""Response shapes of the outreach dialect (seeds 000/001), as the OpenAPI document shows them.

Ids are the 20-character public ids, times epoch seconds. Models are closed and strict (see
`tidings.api.contract`), so the routes' answers are checked against them in every test.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, create_model

from tidings.api.contract import Out, json_errors
from tidings.outreach.counters import CAMPAIGN_METRICS, STEP_METRICS

CampaignStatus = Literal["DRAFT", "RUNNING", "PAUSED", "STOPPED", "COMPLETED"]
Role = Literal["view_campaigns", "create_campaigns", "export_campaigns"]


class OutreachError(Out):
    """The outreach error envelope: a message, and for invalid input the messages per field."""

    message: str
    errors: dict[str, list[str]] | None = None


class Client(Out):
    id: str
    name: str
    max_emails: int | None = None  # left out inside a contact's campaign, as documented
    created_at: int | None


class ClientOne(Out):
    data: Client


class ClientList(Out):
    data: list[Client]


class Member(Out):
    name: str | None
    email: str
    created_at: int | None
    roles: list[Role]


class Invited(Out):
    email: str
    created_at: int | None
    roles: list[Role]


class Users(Out):
    users: list[Member]
    invitations: list[Invited]


class UsersOne(Out):
    data: Users


class Invitation(Out):
    id: str
    token: str
    accept_url: str


class InvitationSent(Out):
    message: str
    invitation: Invitation


class Message(Out):
    """A plain confirmation."""

    message: str


class Accepted(Out):
    email: str
    name: str | None
    client: Client
    roles: list[Role]
    token: str


class AcceptedOne(Out):
    data: Accepted


class Schedule(Out):
    days: list[int]
    start: str
    end: str


class Campaign(Out):
    id: str
    name: str
    timezone: str
    status: CampaignStatus
    created_at: int | None
    client: Client | None


class CampaignSettings(Out):
    track_opens: bool | None = None
    track_clicks: bool | None = None
    stop_on_autoreply: bool | None = None


class CampaignDetail(Campaign):
    schedule: Schedule | None
    settings: CampaignSettings
    mailbox_ids: list[str]
    steps: int
    started_at: int | None
    completed_at: int | None


class CampaignOne(Out):
    data: Campaign


class CampaignList(Out):
    data: list[Campaign]


class CampaignDetailOne(Out):
    data: CampaignDetail


DailyStat = create_model("DailyStat", __base__=Out, day=(str, ...),
                         **{m: (int, ...) for m in CAMPAIGN_METRICS})  # type: ignore[call-overload]
StepStat = create_model("StepStat", __base__=Out, number=(int, ...),
                        **{m: (int, ...) for m in ("sent", "queued", *STEP_METRICS[1:])})  # type: ignore[call-overload]
TotalStats = create_model("TotalStats", __base__=Out, **{m: (int, ...) for m in CAMPAIGN_METRICS},  # type: ignore[call-overload]
                          campaign_steps=(list[StepStat], ...))


class DailyStats(Out):
    data: list[DailyStat]


class TotalStatsOne(Out):
    data: TotalStats


class Variant(Out):
    subject: str
    body: str


class Step(Out):
    number: int
    subject: str | None
    body: str | None
    delay_days: float
    variants: list[Variant]
    created_at: int | None


class StepOne(Out):
    data: Step


class StepList(Out):
    data: list[Step]


class Mailbox(Out):
    id: str
    client_id: str | None
    email: str
    name: str | None
    smtp_host: str
    smtp_port: int
    smtp_username: str | None
    smtp_security: str
    imap_host: str | None
    imap_port: int | None
    imap_username: str | None
    imap_security: str | None
    daily_limit: int
    min_interval_seconds: int
    status: str
    last_error: str | None
    created_at: int | None


class MailboxOne(Out):
    data: Mailbox


class MailboxList(Out):
    data: list[Mailbox]


class ContactCampaign(Out):
    id: str
    name: str
    timezone: str
    status: CampaignStatus
    created_at: int | None
    client: Client | None


class Contact(Out):
    """An outreach contact; lists render the two flags as 0/1, single contacts as booleans (as documented)."""

    id: str
    email: str
    first_name: str | None
    last_name: str | None
    company: str | None
    industry: str | None
    website: str | None
    title: str | None
    phone: str | None
    address: str | None
    city: str | None
    state: str | None
    country: str | None
    custom_merge_fields: dict[str, str]
    timezone: str | None
    status: Literal["OK", "REPLIED", "UNSUBSCRIBED", "BOUNCED", "AUTOREPLIED", "MISSING-DATA", "STOPPED"]
    interest: Literal["POSITIVE", "NEUTRAL", "NEGATIVE"] | None
    emails_sent: int
    completed_steps: int
    is_missing_data: bool | Literal[0, 1]
    is_suppressed: bool | Literal[0, 1]
    created_at: int | None
    campaign: ContactCampaign | None = None


class ContactOne(Out):
    data: Contact


class ContactList(Out):
    data: list[Contact]


class ImportError_(Out):
    line: int
    message: str


class ImportReport(Out):
    created: int
    updated: int
    suppressed: int
    invalid: int
    suppressed_lines: list[int]
    errors: list[ImportError_]


class ImportReportOne(Out):
    data: ImportReport


class EmailMessage(Out):
    id: str
    thread_id: str | None
    contact_id: str | None
    from_email: str | None
    to_email: str | None
    from_name: str | None
    to_name: str | None
    submitted_at: int | None
    created_at: int | None
    subject: str
    snippet: str
    message_body: str
    message_raw: str


class EmailMessageList(Out):
    data: list[EmailMessage]


class Thread(Out):
    id: str
    campaign_id: str | None
    contact_id: str | None
    email_messages: list[EmailMessage]


class ThreadOne(Out):
    data: Thread


class Suppressed(Out):
    data: list[str] = Field(description="The addresses or domains as given")


CODES = (400, 401, 403, 404, 409, 413, 422, 429)
# For the CSV export: its errors are JSON all the same.
ERRORS_AS_JSON = json_errors(OutreachError, *CODES)
