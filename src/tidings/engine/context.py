"""What every engine loop and job handler is handed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from tidings.channels.registry import Providers
from tidings.config import Settings
from tidings.db.engine import Database
from tidings.engine.health import Health


@dataclass
class EngineContext:
    db: Database
    settings: Settings
    providers: Providers
    worker: str
    health: Health = field(default_factory=Health)  # the process's outages and engine state (/healthz)
    sending: int = 0  # batches this process's dispatcher is claiming or sending now
    receipts_held_since: datetime | None = None  # since when waiting receipts are held for the sends (`receipts`)
    # The runner's: its loops' cycle (not the dispatcher's) looks for work now rather than at its next poll.
    wake_loops: Callable[[], None] = lambda: None
