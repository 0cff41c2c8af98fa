"""Throttling failed sign-ins, per client address and per username from that address.

Failures are counted in the same `limits` storage as the API rate limits (memory, or redis for
several processes). Keying the username's counter with the client address means an attacker who
guesses one user's password locks out only their own address, never the user signing in from theirs.
"""

from __future__ import annotations

import time

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter

from tidings.config import Settings
from tidings.core.errors import RateLimited
from tidings.engine.health import Health

MESSAGE = "Too many failed sign-ins; try again later."


class SigninThrottle:
    """`check` before authenticating (429 once either budget is spent), `failed` after each failure."""

    def __init__(self, settings: Settings, limiter: MovingWindowRateLimiter, health: Health | None = None) -> None:
        self.limiter = limiter
        self.health = health or Health()
        self.per_address: RateLimitItem = parse(settings.signin_failures_per_address)
        self.per_user: RateLimitItem = parse(settings.signin_failures_per_user)

    def _items(self, address: str | None, username: str | None) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
        where = address or "unknown"
        items: list[tuple[RateLimitItem, tuple[str, ...]]] = [(self.per_address, ("signin-address", where))]
        if username and username.strip():
            items.append((self.per_user, ("signin-user", username.strip().lower()[:320], where)))
        return items

    async def check(self, address: str | None, username: str | None) -> None:
        """RateLimited (with Retry-After) when this address, or this username from it, failed too often."""
        try:
            for item, key in self._items(address, username):
                if not await self.limiter.test(item, *key):
                    stats = await self.limiter.get_window_stats(item, *key)
                    raise RateLimited(MESSAGE, retry_after=max(1, int(stats.reset_time - time.time()) + 1))
        except RateLimited:
            raise
        except Exception as exc:  # noqa: BLE001 - the shared storage (Redis) is down
            # Fail open like the API limits: an outage of the storage must not refuse every sign-in.
            self.health.down("rate limit storage", exc)

    async def failed(self, address: str | None, username: str | None) -> None:
        try:
            for item, key in self._items(address, username):
                await self.limiter.hit(item, *key)
        except Exception as exc:  # noqa: BLE001 - as in check
            self.health.down("rate limit storage", exc)
