"""key markers: a linkage epoch due after a revoked grant; own notes resealed (issue 20)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 18:05:00.000000

``vault_meta.linkage_rotation_due``: a team lead revoked someone's linkage grant here, and the
next sync must start a new epoch of the team's linkage key without them (set in the revoking
transaction, cleared when the epoch is made). ``vault_meta.own_notes_resealed``: every note this
laptop wrote under its own vault key has been moved to the team's epoch, so a sync need not
look again (cleared by any later note sealed under the vault's own key). New columns only.
"""

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vault_meta', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('linkage_rotation_due', sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column('own_notes_resealed', sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table('vault_meta', schema=None) as batch_op:
        batch_op.drop_column('own_notes_resealed')
        batch_op.drop_column('linkage_rotation_due')
