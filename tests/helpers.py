"""Request helpers shared by the tests: one function per credential style."""

from __future__ import annotations

import base64


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def wavy(username: str, token: str) -> dict[str, str]:
    return {"UserName": username, "AuthenticationToken": token}
