"""Settings, read from the environment with the TIDINGS_ prefix."""

from __future__ import annotations

import secrets
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_RATE_LIMITS = {
    # Seed 001: limits are per user and per endpoint group, independent of each other.
    "contacts_search": "10/minute",
    "clients": "60/minute",
    "default": "60/minute",
    "rest": "600/minute",
    "email": "600/minute",
    "omni": "600/minute",
}


class Settings(BaseSettings):
    """Every knob of an installation; see README for what each one means."""

    model_config = SettingsConfigDict(env_prefix="TIDINGS_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./tidings.db"
    data_dir: Path = Path(".")
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:8000"
    system_from: str = ""  # From of system mail (sender verification); empty: no-reply@<host of public_url>
    email_relay_url: str = "sandbox://"
    sms_url: str = "sandbox://"
    voice_url: str = "sandbox://"
    whatsapp_url: str = "sandbox://"
    rate_limit_storage: str = "memory://"
    rate_limits: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    outbound_allow_private: bool = False
    enforce_balance: bool = False
    price_list: Path | None = None  # operator CSV replacing messaging/data/prices.csv
    # Added to the charge of each certified SMS (per message, not per part), in the price list's currency.
    certified_surcharge: Decimal = Field(default=Decimal("0"), ge=0, allow_inf_nan=False)
    country_rules: Path | None = None  # operator JSON merged over core/data/country_rules.json
    log_level: str = "info"
    inbound_smtp_port: int | None = None
    inbound_smtp_host: str = "0.0.0.0"  # an MX target listens on every interface
    worker_batch: int = 50
    worker_lease_seconds: int = 60
    worker_poll_seconds: float = 0.5
    omni_step_timeout: int = 600  # seconds a fallback step may take to be delivered before the next one runs
    # Accepted sends per provider connection that may await their commit: what a killed worker can send twice
    # (docs/reliability.md). 1 is the protocols' minimum, at the cost of one transaction per message.
    worker_unrecorded_per_connection: int = Field(default=16, ge=1, le=1000)

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / ".tidings_secret"
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key

    def limit_for(self, group: str) -> str:
        """The rate limit string of an endpoint group, falling back to the default."""
        merged = {**DEFAULT_RATE_LIMITS, **self.rate_limits}
        return merged.get(group, merged["default"])


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests clear the cache after changing the environment."""
    return Settings()
