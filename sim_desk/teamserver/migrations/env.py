"""Alembic environment for the team server's schema. `sim-desk server init/upgrade` run it.

The version table lives in the server schema (``sim.alembic_version``), never in ``public``, and
the migrations run on a connection where the administrator has ``SET ROLE`` to the owner role,
so that what they create belongs to the owner.
"""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached if someone runs the alembic CLI
    raise RuntimeError("Team-server migrations run through 'sim-desk server init' or 'upgrade'")

context.configure(
    connection=connection,
    target_metadata=None,
    version_table="alembic_version",
    version_table_schema="sim",
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
