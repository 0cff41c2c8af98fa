"""What every engine loop and job handler is handed."""

from __future__ import annotations

from dataclasses import dataclass

from tidings.channels.registry import Providers
from tidings.config import Settings
from tidings.db.engine import Database


@dataclass
class EngineContext:
    db: Database
    settings: Settings
    providers: Providers
    worker: str
