"""The Alembic migrations build exactly the schema the models describe, on a real vault."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from sim_desk.records.model import Base
from sim_desk.records.vault.store import SCHEMA_HEAD, schema_head


def test_migrations_match_models(lead):
    with lead.engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert context.get_current_revision() == schema_head()
        assert compare_metadata(context, Base.metadata) == []


def test_the_known_schema_head_is_the_newest_migration():
    # migrate() skips Alembic when a vault is at SCHEMA_HEAD: a new migration must move it on.
    assert schema_head() == SCHEMA_HEAD


def test_pragmas_are_set_on_every_connection(lead):
    with lead.engine.connect() as conn:

        def pragma(name):
            return conn.exec_driver_sql(f"PRAGMA {name}").scalar()

        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2  # FULL
        assert pragma("foreign_keys") == 1
        assert pragma("temp_store") == 2  # MEMORY
        assert pragma("secure_delete") == 1
        assert pragma("cipher_version").startswith("4.")
