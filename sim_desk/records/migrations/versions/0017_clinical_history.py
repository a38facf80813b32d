"""clinical history: the notes a clinician's amendment of the note alone replaced (issue 20)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 11:00:00.000000

``contacts.clinical_history``: ciphertext under the clinical key, like ``clinical_note``, of
the earlier notes that amendments of the note alone replaced (with when, by whom and why). Such
an amendment had added a contact revision and moved the contact's revision and ``updated_at``,
all of which officers see (in the same vault, and on their own laptops through the team
server): they could tell that a clinician had changed a note, and when. New column only.
"""

from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clinical_history', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('clinical_history')
