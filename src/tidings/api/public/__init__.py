"""Public routes: tracking pixel, click redirect, unsubscribe, short links, certificate verification, form pages,
the web view of a message and its attachments, landing pages, uploaded images, call audio."""

from fastapi import APIRouter

from tidings.api.public import audio, certificates, forms, images, landing, senders, shortlinks, tracking, views

router = APIRouter(include_in_schema=False)
router.include_router(tracking.router)
router.include_router(senders.router)
router.include_router(shortlinks.router)
router.include_router(certificates.router)
router.include_router(images.router)
router.include_router(forms.router)
router.include_router(views.router)
router.include_router(landing.router)
router.include_router(audio.router)
