"""The messaging dialect (/api/rest): wire-compatible with the 360nrs REST API."""

from fastapi import APIRouter

from tidings.api.rest import account, coverage

router = APIRouter(prefix="/api/rest", tags=["messaging"])
router.include_router(account.router)
# Before any /sms/{id} route: /sms/coverage and /sms/coverageByCountry must not be read as message ids.
router.include_router(coverage.router)
