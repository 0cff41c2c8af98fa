"""The outreach dialect (/api/v1): wire-compatible with the Wavo v1 API, plus native setup endpoints."""

from fastapi import APIRouter

from tidings.api.outreach_v1 import campaigns, clients, contacts, mailboxes, replies, suppressions

router = APIRouter(prefix="/api/v1", tags=["outreach"])
for module in (clients, campaigns, contacts, replies, suppressions, mailboxes):
    router.include_router(module.router)
