"""team keys: key epochs received from the team server, verified device keys, invitation proofs (issue 20)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-12 10:00:00.000000

Only new tables: a vault that never joins a team server keeps them empty.
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('team_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team_keys')),
    sa.UniqueConstraint('kind', 'epoch', name=op.f('uq_team_keys_kind'))
    )
    op.create_table('team_trusted_devices',
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('clinical', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('via', sa.Uuid(), nullable=True),
    sa.Column('trusted_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('device_id', name=op.f('pk_team_trusted_devices'))
    )
    op.create_table('team_invitation_proofs',
    sa.Column('invitation_id', sa.Uuid(), nullable=False),
    sa.Column('proof_key', sa.LargeBinary(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('clinical', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('invitation_id', name=op.f('pk_team_invitation_proofs'))
    )


def downgrade() -> None:
    op.drop_table('team_invitation_proofs')
    op.drop_table('team_trusted_devices')
    op.drop_table('team_keys')
