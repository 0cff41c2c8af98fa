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
    worker_batch: int = 200  # rows claimed per round; a batch of messages also holds a bounded size prepared
    worker_lease_seconds: int = 60
    # Finished jobs (notifications delivered, provider events applied) are deleted this many days after they
    # finished; 0 keeps them for ever.
    job_retention_days: int = Field(default=7, ge=0)
    worker_poll_seconds: float = 0.5
    # Network-bound jobs (notifications, webhooks) one worker has in flight at once: a receiver answering in
    # 200 ms gets about 10,000 calls a second at 2,048 (each on its own kept-alive connection), what three
    # notifications a message need at about 3,400 sends a second (Little's law: calls = rate x answer time).
    worker_io_concurrency: int = Field(default=2048, ge=1, le=10_000)
    omni_step_timeout: int = 600  # seconds a fallback step may take to be delivered before the next one runs
    # Email validation (/api/rest/validation/emails): price per address checked, in the price list's currency.
    email_validation_price: Decimal = Field(default=Decimal("0.0035"), ge=0, allow_inf_nan=False)
    validation_resolver: str = ""  # "host[:port],..." DNS servers for MX/A lookups; empty: the system's
    validation_dns_timeout: float = 5.0
    validation_smtp_probe: bool = False  # RCPT TO probe (no DATA) and catch-all check at the mail host
    validation_smtp_host: str = ""  # probe this host instead of the domain's MX (a relay allowed to probe)
    validation_smtp_port: int = 25
    validation_smtp_timeout: float = 10.0
    validation_smtp_helo: str = ""  # EHLO name of the probe; empty: the host of public_url
    validation_smtp_from: str = ""  # MAIL FROM of the probe; empty: the null sender <>
    validation_reuse_days: int = 90  # a verdict younger than this is reused unless the request says force
    validation_concurrency: int = 20  # addresses checked at once by one validation job
    # Images (/api/rest/images/generate): limits per decoded image.
    image_max_bytes: int = 5 * 1024 * 1024
    image_max_pixels: int = 40_000_000
    # What an answered call costs per started minute, in the account's currency (unanswered calls cost nothing).
    voice_price_per_minute: Decimal = Field(default=Decimal("0"), ge=0, allow_inf_nan=False)
    # Security (docs/security.md): forwarded headers only from these proxies (comma-separated addresses/networks).
    trusted_proxies: str = ""
    body_limit: int = Field(default=2 * 1024 * 1024, ge=1024)  # bytes of a request body on most routes
    body_limit_large: int = Field(default=32 * 1024 * 1024, ge=1024)  # imports and attachment-carrying routes
    json_max_depth: int = Field(default=32, ge=2)  # nesting of arrays and objects in a JSON body
    metrics_token: str = ""  # /metrics answers only with `Authorization: Bearer <token>`; empty: /metrics is off
    signin_failures_per_address: str = "30/10 minutes"  # failed sign-ins from one client address
    signin_failures_per_user: str = "10/10 minutes"  # failed sign-ins for one username from one client address
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
