"""Domain errors: each carries a code that every dialect renders in its own envelope."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a user can cause; never a 500."""

    code = "bad_request"
    status = 400

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra


class NotFound(DomainError):
    code = "not_found"
    status = 404


class ValidationFailed(DomainError):
    code = "validation"
    status = 422

    @classmethod
    def on(cls, field: str, message: str) -> ValidationFailed:
        return cls(message, fields={field: [message]})


class Unauthenticated(DomainError):
    code = "unauthenticated"
    status = 401


class IpNotAllowed(DomainError):
    code = "ip_not_allowed"
    status = 401


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class Conflict(DomainError):
    code = "conflict"
    status = 409


class InsufficientBalance(DomainError):
    code = "insufficient_balance"
    status = 402


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
