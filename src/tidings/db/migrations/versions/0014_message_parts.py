"""message_parts: a later part's provider id of a multi-part SMS, for receipts that name it

A receipt of a later part that came without its reference, and any receipt that came before its message was
recorded (a Twilio status callback often does, and is retried for ten minutes), looked for the id in the JSON
of every SMS sent in the last seven days, across accounts: a scan of the table each time. The ids of parts 2,
3, ... now have a row each, found through an index. Rows are made for the multi-part messages of the last seven
days (what the scan looked at); `extra["part_ids"]` stays as it was.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 19:20:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from tidings.db.base import UtcDateTime

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_BACKFILL = {
    "postgresql": """
        INSERT INTO message_parts (message_id, channel, provider_id, part)
        SELECT m.id, m.channel, p.value, p.number
        FROM messages m
        CROSS JOIN LATERAL json_array_elements_text(m.extra -> 'part_ids') WITH ORDINALITY AS p(value, number)
        WHERE m.direction = 'out' AND m.sent_at >= :since AND json_typeof(m.extra -> 'part_ids') = 'array'
          AND p.number > 1
    """,
    "sqlite": """
        INSERT INTO message_parts (message_id, channel, provider_id, part)
        SELECT m.id, m.channel, p.value, p.key + 1
        FROM messages m, json_each(m.extra, '$.part_ids') AS p
        WHERE m.direction = 'out' AND m.sent_at >= :since AND json_type(m.extra, '$.part_ids') = 'array'
          AND p.key > 0
    """,
}


def upgrade() -> None:
    op.create_table(
        'message_parts',
        sa.Column('message_id', _ID, nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('provider_id', sa.String(length=255), nullable=False),
        sa.Column('part', sa.Integer(), nullable=False),
        sa.Column('id', _ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_message_parts_message_id_messages'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_message_parts')),
    )
    op.create_index('ix_message_parts_provider', 'message_parts', ['channel', 'provider_id'])
    op.create_index(op.f('ix_message_parts_message_id'), 'message_parts', ['message_id'])
    bind = op.get_bind()
    backfill = sa.text(_BACKFILL[bind.dialect.name]).bindparams(sa.bindparam("since", type_=UtcDateTime()))
    bind.execute(backfill, {"since": datetime.now(UTC) - timedelta(days=7)})


def downgrade() -> None:
    op.drop_index(op.f('ix_message_parts_message_id'), table_name='message_parts')
    op.drop_index('ix_message_parts_provider', table_name='message_parts')
    op.drop_table('message_parts')
