"""Alembic, configured in code so that `tidings migrate` works from any directory."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def revision(url: str, message: str, rev_id: str | None = None) -> None:
    """Autogenerate a migration from the models (developers: `tidings db-revision -m ...`)."""
    command.revision(alembic_config(url), message=message, autogenerate=True, rev_id=rev_id)
