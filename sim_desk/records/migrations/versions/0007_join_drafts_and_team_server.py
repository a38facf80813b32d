"""join the two branches of the schema: 0005 (revisions, drafts; issue 16) and 0006 (team server
device; issue 18), both made from 0004

Revision ID: 0007
Revises: 0005, 0006
Create Date: 2026-12-03 12:00:00.000000

No change of its own: a vault at either branch's head is brought up to date through the other.
"""


revision = '0007'
down_revision = ('0005', '0006')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
