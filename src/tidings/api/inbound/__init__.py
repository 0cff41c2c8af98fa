"""Provider callbacks (delivery statuses, inbound messages)."""

from fastapi import APIRouter

from tidings.api.inbound import sms, voice, whatsapp

router = APIRouter()
router.include_router(sms.router)
router.include_router(whatsapp.router)
router.include_router(voice.router)
