"""The omnichannel dialect (/v1/omni): wire-compatible with the Wavy Fallback API."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1/omni", tags=["omni"])
