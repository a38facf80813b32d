"""incidents (person_id, occurred_at) index covers the outcome figures (issue 8, benchmarks/)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 07:30:00.000000

The outcome figures (person, cohort, export) read each incident's type, custody flag and end
date within each person's windows. With those columns in the index, the rows themselves (and
their summaries) are never fetched: on the stress vault, reading the 56,000 incidents inside
everyone's windows for the anonymised export went from about 0.8 s to 0.25 s.
"""

from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_incidents_person_occurred', table_name='incidents')
    op.create_index(
        'ix_incidents_person_occurred',
        'incidents',
        ['person_id', 'occurred_at', 'incident_type', 'custody', 'ended_on'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_incidents_person_occurred', table_name='incidents')
    op.create_index(
        'ix_incidents_person_occurred', 'incidents', ['person_id', 'occurred_at'], unique=False
    )
