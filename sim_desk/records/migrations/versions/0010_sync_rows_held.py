"""sync rows held: an index of the few rows holding values, and no JSON null for "none" (issue 19)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 18:00:00.000000

Every pull tries again the values held on this laptop (``sync_rows.held``): found by a scan of
every row's clocks, over a million rows on a team lead's laptop, at every page of a first sync
and every sync after it. A partial index lists the rows that hold something. A row whose held
values were all applied was left holding JSON ``null`` (the column's None), which is not SQL
NULL: it looked held to that scan and to the status count. It is NULL now, and stays so.
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE sync_rows SET held = NULL WHERE held = 'null'")
    with op.batch_alter_table('sync_rows', schema=None) as batch_op:
        batch_op.create_index(
            'ix_sync_rows_held', ['id'], unique=False, sqlite_where=sa.text('held IS NOT NULL')
        )


def downgrade() -> None:
    with op.batch_alter_table('sync_rows', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_rows_held')
