"""published once, and the team's last syncs: how complete this laptop's reports are (issue 20)

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-03 20:00:00.000000

``vault_meta`` says when and where this vault was published to a team server (it is published
once). ``sync_state`` keeps the server's time of this laptop's last successful sync and the
team's other laptops' last syncs as the server told them then, so that reports and exports
made in team mode can say how complete they are. New columns only, all empty to begin with.
"""

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vault_meta', schema=None) as batch_op:
        batch_op.add_column(sa.Column('published_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('published_to', sa.String(length=400), nullable=True))
    with op.batch_alter_table('sync_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('team_syncs', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sync_state', schema=None) as batch_op:
        batch_op.drop_column('team_syncs')
    with op.batch_alter_table('vault_meta', schema=None) as batch_op:
        batch_op.drop_column('published_to')
        batch_op.drop_column('published_at')
