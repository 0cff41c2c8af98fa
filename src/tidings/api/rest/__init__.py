"""The messaging dialect (/api/rest): wire-compatible with the 360nrs REST API."""

from fastapi import APIRouter

from tidings.api.rest import account

router = APIRouter(prefix="/api/rest", tags=["messaging"])
router.include_router(account.router)
