"""Voice: the callers an account may call from, and the audio files its calls play."""

from __future__ import annotations

from sqlalchemy import LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, IdMixin, TenantMixin, TimestampMixin


class VoiceCaller(IdMixin, TimestampMixin, TenantMixin, Base):
    """A caller id an operator registered for an account in one country (the request's `callers`)."""

    __tablename__ = "voice_callers"
    __table_args__ = (UniqueConstraint("account_id", "country", "number"),)

    country: Mapped[str] = mapped_column(String(2))
    number: Mapped[str] = mapped_column(String(16))


class VoiceAudio(IdMixin, TimestampMixin, TenantMixin, Base):
    """An audio file fetched for /voiceAudio, kept so the provider can play it and certificates can name it."""

    __tablename__ = "voice_audio"

    # The unguessable path segment of its public URL.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    source_url: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
