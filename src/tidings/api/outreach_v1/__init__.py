"""The outreach dialect (/api/v1): wire-compatible with the Wavo v1 API."""

from fastapi import APIRouter

from tidings.api.outreach_v1 import clients

router = APIRouter(prefix="/api/v1", tags=["outreach"])
router.include_router(clients.router)
