"""Structured logging; secrets are never passed to a logger in the first place.

httpx is the exception: it logs every request's full URL at INFO, and customer-supplied URLs
(notificationUrl, event notification URLs) can carry credentials and tokens, so its request lines
keep the scheme, host and port only.

URLs we give out with a secret in them (the Twilio status callback's token) would land in uvicorn's
access log as request lines; `SecretPaths` shows those segments as `…`.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

import structlog


class HostOnlyUrls(logging.Filter):
    """Rewrites httpx's `HTTP Request: METHOD URL ...` lines to show the URL's scheme, host and port."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > 1 and str(record.msg).startswith("HTTP Request:"):
            try:
                parts = urlsplit(str(args[1]))
                host = parts.hostname or ""
                port = f":{parts.port}" if parts.port else ""
            except ValueError:
                host, port, parts = "?", "", urlsplit("")
            shown_host = f"[{host}]" if ":" in host else host
            record.args = (args[0], f"{parts.scheme}://{shown_host}{port}/…", *args[2:])
        return True


HOST_ONLY_URLS = HostOnlyUrls()

# Path segments that are credentials: the last segment of these prefixes.
_SECRET_SEGMENTS = re.compile(r"(/inbound/sms/twilio/)[^/?#\s]+")


def redact_path(path: str) -> str:
    """The path (or request line) with secret segments shown as `…`."""
    return _SECRET_SEGMENTS.sub(r"\1…", path)


class SecretPaths(logging.Filter):
    """Redacts secret path segments in uvicorn's access log lines (its args: client, method, path, ...)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(redact_path(a) if isinstance(a, str) else a for a in args)
        elif isinstance(record.msg, str):
            record.msg = redact_path(record.msg)
        return True


SECRET_PATHS = SecretPaths()


def redact_access_log() -> None:
    """Install the access log filter (idempotent: addFilter ignores a filter already there)."""
    logging.getLogger("uvicorn.access").addFilter(SECRET_PATHS)


def configure(level: str = "info") -> None:
    logging.basicConfig(format="%(message)s", level=getattr(logging, level.upper(), logging.INFO))
    # addFilter ignores a filter that is already there, so configuring twice is harmless.
    logging.getLogger("httpx").addFilter(HOST_ONLY_URLS)
    redact_access_log()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
    )
