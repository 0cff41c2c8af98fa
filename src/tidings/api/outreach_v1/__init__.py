"""The outreach dialect (/api/v1): wire-compatible with the Wavo v1 API, plus native setup endpoints."""

from fastapi import APIRouter

from tidings.api.contract import error_responses
from tidings.api.outreach_v1 import campaigns, clients, contacts, mailboxes, replies, suppressions
from tidings.api.outreach_v1.schemas import CODES, OutreachError

router = APIRouter(prefix="/api/v1", tags=["outreach"],
                   responses=error_responses(OutreachError, *CODES))
for module in (clients, campaigns, contacts, replies, suppressions, mailboxes):
    router.include_router(module.router)
