"""API secrets and encryption at rest.

Tokens are 256-bit random values, so a plain SHA-256 digest is a safe, indexable hash (the way
GitHub and Stripe store API keys); a slow password hash would cost every request.
Mailbox passwords are encrypted with Fernet under a key derived from the install secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken


def new_token(prefix: str = "tdg") -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def new_password() -> str:
    return secrets.token_urlsafe(24)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, digest: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), digest)


class Vault:
    """Encrypts small secrets (mailbox passwords, DKIM keys) for storage."""

    def __init__(self, install_secret: str) -> None:
        key = hashlib.sha256(("tidings-vault:" + install_secret).encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("secret cannot be decrypted with this install's key") from exc


_vault: Vault | None = None


def configure(install_secret: str) -> None:
    global _vault
    _vault = Vault(install_secret)


def vault() -> Vault:
    if _vault is None:
        raise RuntimeError("secrets.configure() was not called")
    return _vault
