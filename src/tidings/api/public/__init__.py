"""Public routes: tracking pixel, click redirect, unsubscribe, short links, certificate verification, call audio."""

from fastapi import APIRouter

from tidings.api.public import audio, certificates, senders, shortlinks, tracking

router = APIRouter(include_in_schema=False)
router.include_router(tracking.router)
router.include_router(senders.router)
router.include_router(shortlinks.router)
router.include_router(certificates.router)
router.include_router(audio.router)
