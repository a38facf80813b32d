"""export releases: what each anonymised export published, per period (issue 13)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:00:00.000000

An export covers a whole month (its data date is a month end). The first release of a month is
kept here with its published figures, so that a second export of the same month repeats it
exactly: two different releases of one period could be subtracted from each other.
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('export_releases',
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('months', sa.Integer(), nullable=False),
    sa.Column('k', sa.Integer(), nullable=False),
    sa.Column('max_suppressed_share', sa.Float(), nullable=False),
    sa.Column('linkage', sa.Boolean(), nullable=False),
    sa.Column('levels', sa.JSON(), nullable=False),
    sa.Column('published', sa.JSON(), nullable=False),
    sa.Column('published_sha256', sa.String(length=64), nullable=False),
    sa.Column('extract_sha256', sa.String(length=64), nullable=False),
    sa.Column('extract_rows', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_releases'))
    )
    with op.batch_alter_table('export_releases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_export_releases_period_end'), ['period_end'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('export_releases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_export_releases_period_end'))

    op.drop_table('export_releases')
