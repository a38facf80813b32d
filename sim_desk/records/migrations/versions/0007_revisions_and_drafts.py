"""incident and baseline-count revisions; per-user form drafts (issue 16)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 09:00:00.000000

Correcting an incident or a baseline count keeps what it said before, with the reason, as
contacts always have. A form someone had not finished is kept as a draft sealed to its user.
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def _tracked() -> list[sa.Column]:
    return [
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('created_by', sa.Uuid(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table('incident_revisions',
    sa.Column('incident_id', sa.Uuid(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    *_tracked(),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_revisions_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_revisions'))
    )
    with op.batch_alter_table('incident_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_revisions_incident_id'), ['incident_id'], unique=False)

    op.create_table('baseline_count_revisions',
    sa.Column('baseline_count_id', sa.Uuid(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    *_tracked(),
    sa.ForeignKeyConstraint(['baseline_count_id'], ['baseline_counts.id'], name=op.f('fk_baseline_count_revisions_baseline_count_id_baseline_counts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_baseline_count_revisions'))
    )
    with op.batch_alter_table('baseline_count_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_baseline_count_revisions_baseline_count_id'), ['baseline_count_id'], unique=False)

    op.create_table('drafts',
    sa.Column('owner_id', sa.Uuid(), nullable=True),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    *_tracked(),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_drafts_owner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drafts'))
    )
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drafts_owner_id'), ['owner_id'], unique=False)


def downgrade() -> None:
    op.drop_table('drafts')
    op.drop_table('baseline_count_revisions')
    op.drop_table('incident_revisions')
