"""A first sync's snapshot streamed in order from an index, not sorted first

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 17:00:00.000000

The SQL is in 0014_snapshot_stream.sql beside this file (frozen with this revision, as 0001's
is); ``@p@`` in it stands for the team's role prefix.
"""

from pathlib import Path

from alembic import context, op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from sim_desk.teamserver.schema import check_role_prefix

    prefix = check_role_prefix(context.config.attributes["role_prefix"])
    sql = Path(__file__).with_name("0014_snapshot_stream.sql").read_text(encoding="utf-8")
    # psycopg itself, with no parameters: the SQL holds % and : that a bind layer would parse.
    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    driver.execute(sql.replace("@p@", prefix))


def downgrade() -> None:
    raise NotImplementedError("The team server's schema is never downgraded; restore a backup.")
