"""The omnichannel dialect (/v1/omni): wire-compatible with the Wavy Fallback API."""

from fastapi import APIRouter

from tidings.api.contract import error_responses
from tidings.api.email_v1.schemas import WavyError
from tidings.api.omni_v1 import flows

router = APIRouter(prefix="/v1/omni", tags=["omni"],
                   responses=error_responses(WavyError, 400, 401, 404, 413, 422, 429))
router.include_router(flows.router)
