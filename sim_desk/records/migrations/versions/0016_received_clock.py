"""received clock: the latest clock this laptop has received from the team server (issue 19)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 21:40:00.000000

``sync_state.received_hlc``: the latest hybrid-logical-clock time among the changes and
snapshot rows this laptop has received. A laptop whose clock ran ahead (set to 2099) has its
refused changes stamped again when its clock is right; their new clock must still follow
everything it had seen before they were made, or an edit made after reading another laptop's
would lose to it. ``sync_state.hlc`` cannot say: it went to 2099 with the laptop's clock.
A vault synced before starts at 0 (it learns the time again from its next pull). New column only.
"""

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sync_state', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('received_hlc', sa.BigInteger(), nullable=False, server_default='0')
        )


def downgrade() -> None:
    with op.batch_alter_table('sync_state', schema=None) as batch_op:
        batch_op.drop_column('received_hlc')
