"""Checked TCP connections for protocols other than HTTP (SMTP, IMAP, SMTP probes of MX hosts ...).

`open_socket` resolves once, checks every address and connects to one of them, so the protocol
library that takes the socket never resolves the name again (TLS still verifies and sends SNI for
the host name the library is given). Every way a connection can fail (refused, filtered, timed out,
no such host) raises the same `Unreachable`, whose message is all a customer sees: telling them
apart would let a customer scan ports from inside the operator's network.
"""

from __future__ import annotations

import asyncio
import socket

from tidings.net import addresses


class Unreachable(OSError):
    """The target could not be connected to; deliberately silent about why."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(unreachable_message(host, port))
        self.host, self.port = host, port


def unreachable_message(host: str, port: int) -> str:
    """The one message for every connection failure to a customer-supplied host."""
    return f"cannot connect to {host}:{port}"


async def open_socket(host: str, port: int, *, allow_private: bool,
                      timeout: float) -> socket.socket:  # noqa: ASYNC109 - a connect timeout, not the caller's
    """A connected, non-blocking socket to an allowed address of `host`.

    UnsafeUrl when the guard refuses the host or any of its addresses; Unreachable for any other failure.
    """
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            found = await addresses.resolve_checked(host, port, allow_private)
            for address in found:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setblocking(False)
                try:
                    await loop.sock_connect(sock, (address, port))
                except OSError:
                    sock.close()
                    continue
                except BaseException:
                    sock.close()  # cancelled or timed out mid-connect
                    raise
                return sock
    except (OSError, TimeoutError) as exc:
        if isinstance(exc, addresses.UnsafeUrl):
            raise
        raise Unreachable(host, port) from None
    raise Unreachable(host, port)
