"""indexes: the contact list's landline filter

`GET /api/rest/contacts?landline=` read every contact of the account: a partial index by (account, landline),
built on PostgreSQL without blocking writes.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 22:30:00
"""

from collections.abc import Sequence

from alembic import op

from tidings.db import online_ddl

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LANDLINE = "ix_contacts_account_landline"


def upgrade() -> None:
    online_ddl.create_index(_LANDLINE, "contacts", ["account_id", "landline"], where="landline IS NOT NULL")


def downgrade() -> None:
    op.drop_index(_LANDLINE, table_name="contacts")
