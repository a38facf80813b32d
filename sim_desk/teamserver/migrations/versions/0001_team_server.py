"""Team server: tables, row-level security, the API functions (issue 18)

Revision ID: 0001
Revises:
Create Date: 2026-12-03 10:00:00.000000

The SQL is in 0001_team_server.sql beside this file (frozen with this revision: a later change
is a new revision, never an edit). ``@p@`` in it stands for the team's role prefix.
"""

from pathlib import Path

from alembic import context, op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    from sim_desk.teamserver.schema import check_role_prefix

    prefix = check_role_prefix(context.config.attributes["role_prefix"])
    sql = Path(__file__).with_name("0001_team_server.sql").read_text(encoding="utf-8")
    # psycopg itself, with no parameters: the SQL holds % and : that a bind layer would parse.
    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    driver.execute(sql.replace("@p@", prefix))


def downgrade() -> None:
    raise NotImplementedError("The team server's schema is never downgraded; restore a backup.")
