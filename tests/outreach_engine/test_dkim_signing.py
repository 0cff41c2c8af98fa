"""DKIM signatures computed by OpenSSL are dkimpy's own bytes, and verify."""

from __future__ import annotations

import base64
import hashlib

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tidings.core import mime
from tidings.outreach.engine import dkim_signing
from tidings.outreach.engine.dkim_signing import dkim_sign


def _message() -> bytes:
    raw, _ = mime.build_email_bytes(
        from_addr="sam@acme.test", from_name="Sam", to_addr="bob@example.test", to_name="Bob", subject="Hello",
        html=None, text="Hi Bob,\n.\nsee you", message_id_domain="acme.test", in_reply_to=None, references=(),
        headers={"List-Unsubscribe": "<https://t.acme.test/u/x>"}, attachments=[])
    return raw


def _rsa_pem(bits: int) -> tuple[str, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


@pytest.mark.parametrize("bits", [1024, 2048])
def test_rsa_signatures_are_dkimpys_own_bytes_and_verify(bits: int) -> None:
    pem, record = _rsa_pem(bits)
    raw = _message()
    signed = dkim_sign(raw, domain="acme.test", selector="s1", private_key_pem=pem)
    assert dkim.verify(signed, dnsfunc=lambda name, timeout=5: record if name == b"s1._domainkey.acme.test." else b"")
    key = dkim.crypto.parse_pem_private_key(pem.encode())
    digest = hashlib.sha256(b"what dkimpy hashes")
    assert dkim_signing._sign(digest, key) == bytes(dkim_signing._PURE_PYTHON_SIGN(digest, key))
    sha1 = hashlib.sha1(b"legacy rsa-sha1")  # noqa: S324 - dkimpy still signs rsa-sha1 when asked
    assert dkim_signing._sign(sha1, key) == bytes(dkim_signing._PURE_PYTHON_SIGN(sha1, key))


def test_a_key_too_small_for_the_digest_fails_as_dkimpy_fails() -> None:
    key = dkim.crypto.parse_pem_private_key(_rsa_pem(1024)[0].encode())
    tiny = {**key, "modulus": 3233, "publicExponent": 17, "privateExponent": 2753, "prime1": 61, "prime2": 53,
            "exponent1": 53, "exponent2": 49, "coefficient": 38}
    with pytest.raises(dkim.crypto.DigestTooLargeError):
        dkim_signing._sign(hashlib.sha256(b"x"), tiny)
