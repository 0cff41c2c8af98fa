"""The email dialect (/v1/email): wire-compatible with the Wavy Email API."""

from fastapi import APIRouter

from tidings.api.contract import error_responses
from tidings.api.email_v1 import send, status
from tidings.api.email_v1.schemas import WavyError

router = APIRouter(prefix="/v1/email", tags=["email"],
                   responses=error_responses(WavyError, 400, 401, 404, 413, 422, 429))
router.include_router(send.router)
router.include_router(status.router)
