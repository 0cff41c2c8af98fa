"""Public routes reached from messages: tracking pixel, click redirect, unsubscribe, short links."""

from fastapi import APIRouter

from tidings.api.public import senders, shortlinks, tracking

router = APIRouter(include_in_schema=False)
router.include_router(tracking.router)
router.include_router(senders.router)
router.include_router(shortlinks.router)
