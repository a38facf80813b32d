"""indexes for a trust-wide vault (issue 8, benchmarks/)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 05:30:00.000000

Measured on the stress vault (2,000 people, 500,000 contacts, 300,000 planned visits):

* ``contacts (person_id, planned_visit_id, started_at)``: "when was this planned visit done" is
  the contact linked to it. Without an index each lookup read the whole contacts table, and the
  outcomes of one person with five years of visits took minutes. The person comes first so that
  one person's lookups stay on the same few pages (visit ids are random).
* ``contacts (person_id, started_at, attendance)`` replaces ``(person_id, started_at)``, and
  ``planned_visits (person_id, due_at, status, id)`` replaces ``(person_id, due_at)``: with the
  columns the queries filter on inside the index, reading a person's contacts or visits in a
  window (the outcome figures, the Today view's "not seen", the caseload's next visit, and through
  the visit's id the contact that did it) stays in the index instead of fetching each row, notes
  and all, from the table.
* ``people (pair_id, status, names, NHS number, police reference, id)``: everything the caseload
  search reads on each keystroke, so that it scans a small index rather than every whole row.
"""

from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        'ix_people_caseload',
        'people',
        [
            'pair_id',
            'status',
            'family_name',
            'given_name',
            'preferred_name',
            'nhs_number',
            'police_reference',
            'id',
        ],
        unique=False,
    )
    op.create_index(
        'ix_contacts_planned_visit',
        'contacts',
        ['person_id', 'planned_visit_id', 'started_at'],
        unique=False,
    )
    op.drop_index('ix_contacts_person_started', table_name='contacts')
    op.create_index(
        'ix_contacts_person_started',
        'contacts',
        ['person_id', 'started_at', 'attendance'],
        unique=False,
    )
    op.drop_index('ix_planned_visits_person_due', table_name='planned_visits')
    op.create_index(
        'ix_planned_visits_person_due',
        'planned_visits',
        ['person_id', 'due_at', 'status', 'id'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_people_caseload', table_name='people')
    op.drop_index('ix_planned_visits_person_due', table_name='planned_visits')
    op.create_index(
        'ix_planned_visits_person_due', 'planned_visits', ['person_id', 'due_at'], unique=False
    )
    op.drop_index('ix_contacts_person_started', table_name='contacts')
    op.create_index(
        'ix_contacts_person_started', 'contacts', ['person_id', 'started_at'], unique=False
    )
    op.drop_index('ix_contacts_planned_visit', table_name='contacts')
