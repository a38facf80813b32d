"""`server init` on a real PostgreSQL: the roles, schema, policies and privileges it promises."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from sim_desk.teamserver import schema
from sim_desk.teamserver.connection import ServerAddress, connect
from sim_desk.teamserver.errors import ServerAlreadySetUp, ServerUnreachable
from sim_desk.teamserver.schema import AdminLogin, init_server, server_report, upgrade_server
from tests.teamserver.cluster import ThrowawayCA
from tests.teamserver.conftest import ServerDatabase, World


@pytest.fixture(scope="module")
def team_db(new_database) -> ServerDatabase:
    db = new_database()
    init_server(db.admin, team_name="East SIM")
    return db


def test_the_owner_is_neither_superuser_nor_bypassrls_and_no_helper_can_log_in(team_db):
    prefix = team_db.name
    with team_db.admin_connect() as admin:
        roles = {
            r[0]: r[1:]
            for r in admin.execute(
                "SELECT rolname, rolsuper, rolbypassrls, rolcanlogin, rolcreaterole, rolcreatedb"
                " FROM pg_roles WHERE rolname LIKE %s",
                (prefix + "\\_%",),
            )
        }
    assert set(roles) == {f"{prefix}_{r}" for r in schema.HELPER_ROLES}
    for name, (superuser, bypass, login, createrole, createdb) in roles.items():
        assert not (superuser or bypass or login or createdb), name
        assert createrole == name.endswith("_rolemgr"), name


def test_everything_lives_in_the_sim_schema_and_alembic_keeps_its_version_there(team_db):
    with team_db.admin_connect() as admin:
        owner = admin.execute(
            "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'sim'"
        ).fetchone()
        in_public = admin.execute(
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        ).fetchone()
        version = admin.execute("SELECT version_num FROM sim.alembic_version").fetchone()
        table_owners = {
            r[0]
            for r in admin.execute(
                "SELECT DISTINCT relowner::regrole::text FROM pg_class"
                " WHERE relnamespace = 'sim'::regnamespace"
            )
        }
    assert owner == (f"{team_db.name}_owner",)
    assert in_public == (0,)
    assert version == (schema.schema_head(),)
    assert table_owners == {f"{team_db.name}_owner"}


def test_row_level_security_is_forced_on_every_table(team_db):
    with team_db.admin_connect() as admin:
        tables = admin.execute(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
            " WHERE relnamespace = 'sim'::regnamespace AND relkind IN ('r', 'p')"
        ).fetchall()
    assert len(tables) >= 14
    assert [t for t in tables if not (t[1] and t[2])] == []


def test_every_definer_function_pins_search_path_and_none_is_public(team_db):
    with team_db.admin_connect() as admin:
        functions = admin.execute(
            "SELECT proname, prosecdef, proconfig, proowner::regrole::text,"
            " has_function_privilege('public', oid, 'EXECUTE') FROM pg_proc"
            " WHERE pronamespace = 'sim'::regnamespace"
        ).fetchall()
    definers = [f for f in functions if f[1]]
    assert {f[0] for f in definers} >= {
        "push",
        "pull",
        "invite",
        "join_team",
        "caller_device",
        "rm_create_device_login",
    }
    for name, _definer, config, _owner, public in functions:
        assert config is not None and "search_path=pg_catalog, sim, pg_temp" in config, name
        assert not public, name
    owners = {f[0]: f[3] for f in definers}
    prefix = team_db.name
    # Role management is owned by the one role that may create roles, and by nothing else.
    assert {n for n, o in owners.items() if o == f"{prefix}_rolemgr"} == {
        n for n in owners if n.startswith("rm_")
    }
    assert {n for n, o in owners.items() if o == f"{prefix}_resolver"} == {
        n for n in owners if n.startswith("caller_")
    }


def test_device_and_invitation_roles_hold_no_table_privilege(world: World):
    prefix = world.roles.prefix
    with world.db.admin_connect() as admin:
        logins = [
            r[0]
            for r in admin.execute(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE %s OR rolname LIKE %s",
                (prefix + "\\_d\\_%", prefix + "\\_i\\_%"),
            )
        ]
        assert len(logins) >= 6
        held = admin.execute(
            """SELECT r.rolname, c.relname, p.priv FROM pg_roles r
               CROSS JOIN pg_class c
               CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
                                       'REFERENCES', 'TRIGGER']) AS p(priv)
               WHERE r.rolname = ANY(%s) AND c.relnamespace = 'sim'::regnamespace
                 AND c.relkind IN ('r', 'p', 'v', 'm')
                 AND has_table_privilege(r.oid, c.oid, p.priv)""",
            (logins,),
        ).fetchall()
        executable = {
            r[0]
            for r in admin.execute(
                """SELECT p.proname FROM pg_proc p
               WHERE p.pronamespace = 'sim'::regnamespace
                 AND has_function_privilege(%s, p.oid, 'EXECUTE')""",
                (world.devices["officer"].login_role,),
            )
        }
        database = admin.execute(
            "SELECT has_database_privilege(%s, current_database(), 'TEMPORARY'),"
            " has_database_privilege(%s, current_database(), 'CREATE')",
            (world.devices["officer"].login_role, world.devices["officer"].login_role),
        ).fetchone()
    assert held == []
    assert executable == {
        "hello",
        "push",
        "pull",
        "invite",
        "revoke_device",
        "revoke_user",
        "team_status",
        "snapshot_begin",
        "snapshot_rows",
        "resolve_merge_proposal",
        # leavers (schema 0005)
        "device_standing",
        "confirm_erased",
        "set_replica_expiry",
        "revoked_devices",
        "publish_begin",
        "publish_finish",
        "sync_done",
        "audit_head",
        "push_audit",
        "audit_status",
        # team keys (schema 0003): an officer may call them and gets no clinical key
        "key_state",
        "put_introductions",
        "put_wraps",
        "new_key_epoch",
        "users_directory",  # schema 0007
        "check_vault",  # schema 0009
        "sync_start",  # schema 0010
        "snapshot_stream",  # schema 0014
    }
    assert database == (False, False)


def test_status_finds_every_check_passing(team_db):
    report = server_report(team_db.admin)
    assert report.healthy, [f.what for f in report.findings if not f.ok]
    assert report.team_name == "East SIM" and report.revision == schema.schema_head()


def test_status_notices_a_weakened_server(new_database):
    db = new_database()
    init_server(db.admin, team_name="Weak")
    with db.admin_connect(autocommit=True) as admin:
        admin.execute("ALTER TABLE sim.rows NO FORCE ROW LEVEL SECURITY")
        admin.execute(sql.SQL("ALTER ROLE {} BYPASSRLS").format(sql.Identifier(f"{db.name}_owner")))
        admin.execute("GRANT EXECUTE ON FUNCTION sim.caller_device() TO PUBLIC")
    failing = [f.what for f in server_report(db.admin).findings if not f.ok]
    assert any("BYPASSRLS" in f for f in failing)
    assert any("rows" in f for f in failing)
    assert any("caller_device" in f for f in failing)


def test_init_twice_is_refused_and_changes_nothing(team_db):
    with team_db.admin_connect() as admin:
        before = admin.execute("SELECT id, incarnation FROM sim.team").fetchone()
    with pytest.raises(ServerAlreadySetUp):
        init_server(team_db.admin, team_name="Again")
    with team_db.admin_connect() as admin:
        assert admin.execute("SELECT id, incarnation FROM sim.team").fetchone() == before


def test_a_failed_init_leaves_nothing_behind(new_database, monkeypatch):
    db = new_database()

    def broken(*args, **kwargs):
        raise RuntimeError("the migration broke half-way")

    monkeypatch.setattr(schema, "_run_migrations", broken)
    with pytest.raises(RuntimeError):
        init_server(db.admin, team_name="Broken")
    with db.admin_connect() as admin:
        assert admin.execute("SELECT to_regnamespace('sim')").fetchone() == (None,)
        assert admin.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname LIKE %s", (db.name + "\\_%",)
        ).fetchone() == (0,)
    monkeypatch.undo()
    init_server(db.admin, team_name="Mended")  # and it can be run again


def test_upgrade_at_the_newest_revision_changes_nothing(team_db):
    assert upgrade_server(team_db.admin) == schema.schema_head()


def test_a_managed_service_administrator_without_superuser_can_set_up_a_team(
    new_database, pg_cluster
):
    """As on managed services: the administrator has CREATEROLE and owns the database, no more."""
    name = f"m{uuid.uuid4().hex[:12]}"
    dba = f"dba{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    with pg_cluster.admin_connect(autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
                sql.Identifier(dba), sql.Literal(password)
            )
        )
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(dba))
        )
    address = ServerAddress(pg_cluster.host, pg_cluster.port, name, pg_cluster.ca.ca_pem.decode())
    login = AdminLogin(address, dba, password)
    setup = init_server(login, team_name="Managed", role_prefix=name[:20])
    report = server_report(login)
    assert report.healthy, [f.what for f in report.findings if not f.ok]
    from sim_desk.teamserver.invitations import create_invitation

    with login.connect(autocommit=True) as conn:
        invitation = create_invitation(conn, address, username="lee", role="team_lead")
    assert invitation.login_role.startswith(setup.roles.prefix)


def test_connections_check_the_certificate_and_insist_on_channel_binding(team_db, pg_cluster):
    with connect(team_db.address, user="simadmin", password=pg_cluster.admin_password) as conn:
        params = conn.info.get_parameters()
        assert params["sslmode"] == "verify-full" and params["channel_binding"] == "require"
        assert conn.pgconn.ssl_in_use
    stranger = ThrowawayCA.make()  # a CA the server's certificate was not signed by
    wrong_ca = ServerAddress(
        team_db.address.host, team_db.address.port, team_db.name, stranger.ca_pem.decode()
    )
    with pytest.raises(ServerUnreachable) as refused:
        connect(wrong_ca, user="simadmin", password=pg_cluster.admin_password)
    assert pg_cluster.admin_password not in str(refused.value)
    wrong_name = ServerAddress(
        "127.0.0.2", team_db.address.port, team_db.name, team_db.address.ca_pem
    )
    with pytest.raises(ServerUnreachable):
        connect(wrong_name, user="simadmin", password=pg_cluster.admin_password, connect_timeout=2)


def test_a_wrong_password_is_a_login_failure_in_words(team_db):
    from sim_desk.teamserver.errors import ServerLoginFailed

    with pytest.raises(ServerLoginFailed) as refused:
        connect(team_db.address, user="simadmin", password="not-the-password")
    assert "not-the-password" not in str(refused.value)
    assert not isinstance(refused.value.__cause__, psycopg.Error)  # no libpq text tagging along
