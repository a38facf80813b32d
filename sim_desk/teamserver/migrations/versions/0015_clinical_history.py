"""A contact's earlier clinician-only notes travel as clinical ciphertext of their own

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 11:00:00.000000

The SQL is in 0015_clinical_history.sql beside this file (frozen with this revision, as 0001's
is); ``@p@`` in it stands for the team's role prefix.
"""

from pathlib import Path

from alembic import context, op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from sim_desk.teamserver.schema import check_role_prefix

    prefix = check_role_prefix(context.config.attributes["role_prefix"])
    sql = Path(__file__).with_name("0015_clinical_history.sql").read_text(encoding="utf-8")
    # psycopg itself, with no parameters: the SQL holds % and : that a bind layer would parse.
    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    driver.execute(sql.replace("@p@", prefix))


def downgrade() -> None:
    raise NotImplementedError("The team server's schema is never downgraded; restore a backup.")
