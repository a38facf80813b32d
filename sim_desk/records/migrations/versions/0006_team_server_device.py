"""team server device credential, kept inside the vault (issue 18)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:00:00.000000

A laptop that joins a team server keeps its own random login credential and its X25519 private
key here, in the encrypted database, never in a file of its own. (Another branch adds 0005;
the chain is joined when both are merged.)
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('team_server_devices',
    sa.Column('local_user_id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('team_name', sa.String(length=200), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('database', sa.String(length=63), nullable=False),
    sa.Column('ca_pem', sa.Text(), nullable=False),
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('login_role', sa.String(length=63), nullable=False),
    sa.Column('server_user_id', sa.Uuid(), nullable=False),
    sa.Column('server_username', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('private_key', sa.LargeBinary(), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('joined_at', sa.DateTime(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['local_user_id'], ['users.id'], name=op.f('fk_team_server_devices_local_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team_server_devices')),
    sa.UniqueConstraint('device_id', name=op.f('uq_team_server_devices_device_id')),
    sa.UniqueConstraint('local_user_id', name=op.f('uq_team_server_devices_local_user_id'))
    )


def downgrade() -> None:
    op.drop_table('team_server_devices')
