"""Alembic environment. SIM Desk runs migrations itself on open, on a keyed connection."""

from alembic import context

from sim_desk.records.model import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached if someone runs the alembic CLI
    raise RuntimeError("SIM Desk migrations run when a vault is opened, not from the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
