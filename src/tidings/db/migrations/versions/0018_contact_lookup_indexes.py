"""indexes: the contact list's total and landline filter

`GET /api/rest/contacts` counted the account's database contacts, and filtered by landline, by reading every
contact of the account: an index by (account, in_database, id), which replaces the index on the account alone
(the count reads it alone; every other index of the table leads with the account), and a partial one by
(account, landline). On PostgreSQL each is built without blocking writes.

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

_DATABASE = "ix_contacts_account_database"
_LANDLINE = "ix_contacts_account_landline"
_ACCOUNT = "ix_contacts_account_id"


def upgrade() -> None:
    online_ddl.create_index(_DATABASE, "contacts", ["account_id", "in_database", "id"])
    online_ddl.create_index(_LANDLINE, "contacts", ["account_id", "landline"], where="landline IS NOT NULL")
    online_ddl.drop_index(_ACCOUNT, "contacts")


def downgrade() -> None:
    op.create_index(_ACCOUNT, "contacts", ["account_id"])
    op.drop_index(_LANDLINE, table_name="contacts")
    op.drop_index(_DATABASE, table_name="contacts")
