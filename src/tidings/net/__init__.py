"""Outbound network access to customer-supplied targets: the one place every domain goes through.

`addresses` decides which addresses may be reached (and normalises hosts when they are saved),
`http` is the pinned httpx client for URLs (webhooks, audio and image fetches), `keepalive` the lean
kept-alive caller for notifications at volume,
`sockets` opens checked TCP connections for SMTP, IMAP and the like.
"""

from __future__ import annotations

from tidings.net.addresses import (
    UnsafeUrl,
    check_addresses,
    check_host,
    check_static,
    embedded_ipv4,
    is_public_address,
    normalize_host,
    parse_target,
    resolve,
    resolve_checked,
)
from tidings.net.http import PinnedBackend, PinnedTransport, check_url, client
from tidings.net.keepalive import Caller, CallFailed
from tidings.net.keepalive import close_shared as close_shared_clients
from tidings.net.keepalive import shared as shared_caller
from tidings.net.sockets import Unreachable, open_socket, unreachable_message

__all__ = [
    "CallFailed", "Caller", "PinnedBackend", "PinnedTransport", "Unreachable", "UnsafeUrl", "check_addresses",
    "check_host", "check_static", "check_url", "client", "close_shared_clients", "embedded_ipv4", "is_public_address",
    "normalize_host", "open_socket", "parse_target", "resolve", "resolve_checked", "shared_caller",
    "unreachable_message",
]
