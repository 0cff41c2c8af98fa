"""Request bodies of the messaging dialect's SMS and scheduled routes.

Values are typed `Any` on purpose: the service validates them so that a wrong value is the
documented error code (110 for parts, 113 for encoding ...), not a generic 422.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SmsBody(BaseModel):
    """POST /api/rest/sms; unknown keys are ignored as the document's clients may send more."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    to: Any = None
    sender: Any = Field(default=None, alias="from")
    message: Any = None
    encoding: Any = None
    parts: Any = None
    splitParts: Any = None  # noqa: N815 - the document's names
    trans: Any = None
    flash: Any = None
    scheduleDate: Any = None  # noqa: N815
    expirationDate: Any = None  # noqa: N815
    notificationUrl: Any = None  # noqa: N815
    campaignName: Any = None  # noqa: N815
    tags: Any = None
    certified: Any = None
    sub: Any = None
    availableTimes: Any = None  # noqa: N815
    otpConfig: Any = None  # noqa: N815


class ScheduledBody(BaseModel):
    """PUT and DELETE /api/rest/scheduled."""

    model_config = ConfigDict(extra="ignore")

    guid: Any = None
    type: Any = None
    sendingId: Any = None  # noqa: N815
    scheduleDate: Any = None  # noqa: N815
