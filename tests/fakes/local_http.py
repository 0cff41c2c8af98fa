"""Serving a fake provider's ASGI app on the loopback, in the test's own event loop."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn


async def serve(app: Any, port: int = 0) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """Start uvicorn for the app; returns the server, its task and the port it listens on."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # uvicorn offers no start event to wait on
        if server.started:
            break
        await asyncio.sleep(0.01)
    return server, task, int(server.servers[0].sockets[0].getsockname()[1])


async def shutdown(server: uvicorn.Server | None, task: asyncio.Task[None] | None) -> None:
    if server is not None and task is not None:
        server.should_exit = True
        await task
