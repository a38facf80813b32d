"""replica standing: the team's replica expiry, the last completed sync, the latest time seen (issue 20)

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-17 10:00:00.000000

Three nullable columns on ``sync_state``: a vault that synced before keeps working, and learns
the team's expiry (if any) at its next sync.
"""

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sync_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replica_expiry_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('synced_ok_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('latest_seen_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sync_state', schema=None) as batch_op:
        batch_op.drop_column('latest_seen_at')
        batch_op.drop_column('synced_ok_at')
        batch_op.drop_column('replica_expiry_days')
