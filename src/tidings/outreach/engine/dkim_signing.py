"""DKIM signatures (dkimpy) whose RSA step runs in OpenSSL (through cryptography) instead of Python.

dkimpy computes RSA signatures with Python's `pow`: about 8 ms for a 2,048-bit key, so a cold email
signed for its mailbox's domain cost ten times an unsigned one. RSASSA-PKCS1-v1_5 signatures are
deterministic, so OpenSSL's are the same bytes (tested against dkimpy's own); the key object is built
once per key, and the key's PEM is parsed once (dkimpy parses its ASN.1 in Python for every message).
Anything OpenSSL refuses (a key too small for the digest, say) goes to dkimpy's own code,
which raises what it always raised. dkimpy has no hook for this: its module-level signing function is
replaced once, at import.
"""

from __future__ import annotations

import functools
from typing import Any

import dkim
import dkim.crypto
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

# Headers covered by the signature; those a message lacks are skipped by dkimpy.
DKIM_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id", b"in-reply-to", b"references",
                b"reply-to", b"list-unsubscribe", b"list-unsubscribe-post", b"mime-version", b"content-type"]

_PURE_PYTHON_SIGN = dkim.crypto.RSASSA_PKCS1_v1_5_sign  # dkim.crypto's: still dkimpy's own after a reload
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"sha256": hashes.SHA256, "sha1": hashes.SHA1}


@functools.lru_cache(maxsize=256)
def _openssl_key(n: int, e: int, d: int, p: int, q: int, dmp1: int, dmq1: int, iqmp: int) -> rsa.RSAPrivateKey:
    return rsa.RSAPrivateNumbers(p, q, d, dmp1, dmq1, iqmp, rsa.RSAPublicNumbers(e, n)).private_key()


def _sign(hash: Any, private_key: dict[str, int]) -> bytes:  # noqa: A002 - dkimpy's own signature
    """dkimpy's RSASSA_PKCS1_v1_5_sign(hash, private_key), computed by OpenSSL."""
    algorithm = _HASHES.get(str(getattr(hash, "name", "")).lower())
    if algorithm is not None:
        try:
            key = _openssl_key(private_key["modulus"], private_key["publicExponent"], private_key["privateExponent"],
                               private_key["prime1"], private_key["prime2"], private_key["exponent1"],
                               private_key["exponent2"], private_key["coefficient"])
            return key.sign(hash.digest(), padding.PKCS1v15(), utils.Prehashed(algorithm()))
        except (KeyError, TypeError, ValueError, UnsupportedAlgorithm):
            pass
    return bytes(_PURE_PYTHON_SIGN(hash, private_key))


dkim.RSASSA_PKCS1_v1_5_sign = _sign
# The parsed key (a dict dkimpy only reads), per PEM; a bad PEM raises each time as before (not cached).
dkim.parse_pem_private_key = functools.lru_cache(maxsize=256)(dkim.crypto.parse_pem_private_key)


def dkim_sign(raw: bytes, *, domain: str, selector: str, private_key_pem: str) -> bytes:
    """The message with a DKIM-Signature header (relaxed/relaxed, rsa-sha256)."""
    signature = dkim.sign(raw, selector.encode(), domain.encode(), private_key_pem.encode(),
                          canonicalize=(b"relaxed", b"relaxed"), include_headers=DKIM_HEADERS)
    return bytes(signature) + raw
