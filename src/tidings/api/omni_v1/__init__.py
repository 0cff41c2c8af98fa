"""The omnichannel dialect (/v1/omni): wire-compatible with the Wavy Fallback API."""

from fastapi import APIRouter

from tidings.api.omni_v1 import flows

router = APIRouter(prefix="/v1/omni", tags=["omni"])
router.include_router(flows.router)
