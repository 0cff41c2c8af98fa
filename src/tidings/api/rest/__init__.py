"""The messaging dialect (/api/rest): wire-compatible with the 360nrs REST API."""

from fastapi import APIRouter

from tidings.api.contract import error_responses
from tidings.api.rest import (
    account,
    blacklist,
    campaigns,
    certificates,
    contacts,
    coverage,
    forms,
    groups,
    images,
    landing,
    mailing,
    otp,
    scheduled,
    senders,
    sendings,
    shortener,
    sms,
    templates,
    validation,
    voice,
    whatsapp,
)
from tidings.api.rest.schemas import CODES, NrsError

router = APIRouter(prefix="/api/rest", tags=["messaging"],
                   responses=error_responses(NrsError, *CODES))
router.include_router(account.router)
# Before any /sms/{id} route: /sms/coverage and /sms/coverageByCountry must not be read as message ids.
router.include_router(coverage.router)
# /sms/certificates/{id} and /mailing/certificates/{id}: certified messages' PDF certificates.
router.include_router(certificates.router)
# 5b: email mailing, templates v1/v2, verified senders, blacklist v2.
router.include_router(mailing.router)
router.include_router(templates.router)
router.include_router(senders.router)
router.include_router(blacklist.router)
# 5a: SMS (after coverage: /sms/coverage is not a message id), scheduled, campaigns, sendings and reports.
router.include_router(sms.router)
router.include_router(scheduled.router)
router.include_router(campaigns.router)
router.include_router(sendings.router)
router.include_router(shortener.router)
router.include_router(otp.router)
router.include_router(validation.router)
router.include_router(images.router)
router.include_router(whatsapp.router)
# Forms (POST /form, /forms...) and landing SMS (/landingsms).
router.include_router(forms.router)
router.include_router(landing.router)
# Voice: /voice (text to speech) and /voiceAudio.
router.include_router(voice.router)
# Contact databases and groups (issue 10).
router.include_router(contacts.router)
router.include_router(groups.router)
