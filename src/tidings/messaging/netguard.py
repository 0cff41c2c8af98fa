"""Moved to `tidings.net` (outbound access is not the messaging domain's alone); kept importable for now."""

from __future__ import annotations

from tidings.net.addresses import (
    UnsafeUrl,
    check_addresses,
    check_static,
    is_public_address,
    parse_target,
    resolve,
)
from tidings.net.http import PinnedBackend, PinnedTransport, check_url, client

__all__ = ["PinnedBackend", "PinnedTransport", "UnsafeUrl", "check_addresses", "check_static", "check_url", "client",
           "is_public_address", "parse_target", "resolve"]
