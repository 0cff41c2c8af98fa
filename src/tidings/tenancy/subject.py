"""Who is calling: the authenticated user, its account and what it may touch."""

from __future__ import annotations

from dataclasses import dataclass, field

from tidings.core.errors import Forbidden

ROLES = ("view_campaigns", "create_campaigns", "export_campaigns")


@dataclass(frozen=True)
class AuthSubject:
    account_id: int
    user_id: int
    # Set for a client's user: it sees only this client's data.
    client_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    credential_id: int | None = None

    @property
    def is_agency(self) -> bool:
        return self.client_id is None

    def can(self, role: str) -> bool:
        """Agency users can do everything in their agency; client users need the role."""
        return self.is_agency or role in self.roles

    def require(self, role: str) -> None:
        if not self.can(role):
            raise Forbidden(f"This action requires the {role} role.")
