"""The email dialect (/v1/email): wire-compatible with the Wavy Email API."""

from fastapi import APIRouter

from tidings.api.email_v1 import send, status

router = APIRouter(prefix="/v1/email", tags=["email"])
router.include_router(send.router)
router.include_router(status.router)
