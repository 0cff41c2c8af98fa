"""Structured logging; secrets are never passed to a logger in the first place.

httpx is the exception: it logs every request's full URL at INFO, and customer-supplied URLs
(notificationUrl, event notification URLs) can carry credentials and tokens, so its request lines
keep the scheme, host and port only.
"""

from __future__ import annotations

import logging
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


def configure(level: str = "info") -> None:
    logging.basicConfig(format="%(message)s", level=getattr(logging, level.upper(), logging.INFO))
    # addFilter ignores a filter that is already there, so configuring twice is harmless.
    logging.getLogger("httpx").addFilter(HOST_ONLY_URLS)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
    )
