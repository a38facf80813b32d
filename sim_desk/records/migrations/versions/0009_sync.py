"""sync with a team server: state, outbox, row clocks, changed elsewhere, merge proposals (issue 19)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 16:30:00.000000

Only new tables: a vault that never syncs keeps them empty, and nothing is written to them
while it is migrated.
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sync_state',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('cursor', sa.BigInteger(), nullable=False),
    sa.Column('incarnation', sa.String(length=64), nullable=True),
    sa.Column('hlc', sa.BigInteger(), nullable=False),
    sa.Column('last_push_at', sa.DateTime(), nullable=True),
    sa.Column('last_pull_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('rebuilding', sa.Boolean(), nullable=False),
    sa.Column('refused_for_review', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_state'))
    )
    op.create_table('sync_outbox',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=True),
    sa.Column('table_name', sa.String(length=63), nullable=False),
    sa.Column('row_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=True),
    sa.Column('op', sa.String(length=10), nullable=False),
    sa.Column('hlc', sa.BigInteger(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('clinical', sa.JSON(), nullable=True),
    sa.Column('base', sa.JSON(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=True),
    sa.Column('server_seq', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_outbox')),
    sa.UniqueConstraint('seq', name=op.f('uq_sync_outbox_seq'))
    )
    with op.batch_alter_table('sync_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_sync_outbox_state_seq', ['state', 'seq'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_outbox_row_id'), ['row_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_outbox_person_id'), ['person_id'], unique=False)
    op.create_table('sync_rows',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('table_name', sa.String(length=63), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=True),
    sa.Column('clocks', sa.JSON(), nullable=False),
    sa.Column('hashes', sa.JSON(), nullable=False),
    sa.Column('mine', sa.JSON(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('held', sa.JSON(), nullable=True),
    sa.Column('in_snapshot', sa.Boolean(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_rows'))
    )
    with op.batch_alter_table('sync_rows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_rows_person_id'), ['person_id'], unique=False)
    op.create_table('sync_changed_elsewhere',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('table_name', sa.String(length=63), nullable=False),
    sa.Column('row_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('overwritten', sa.JSON(), nullable=False),
    sa.Column('change_id', sa.Uuid(), nullable=True),
    sa.Column('author_id', sa.Uuid(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_changed_elsewhere'))
    )
    with op.batch_alter_table('sync_changed_elsewhere', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_changed_elsewhere_row_id'), ['row_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_changed_elsewhere_person_id'), ['person_id'], unique=False)
    op.create_table('sync_merge_proposals',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('other_person_id', sa.Uuid(), nullable=False),
    sa.Column('matched_on', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_merge_proposals'))
    )


def downgrade() -> None:
    for table in ('sync_merge_proposals', 'sync_changed_elsewhere', 'sync_rows', 'sync_outbox',
                  'sync_state'):
        op.drop_table(table)
