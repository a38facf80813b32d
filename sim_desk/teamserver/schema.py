"""The team server's schema: set up (``server init``), brought up to date, and checked.

Run by the trust's database administrator: a PostgreSQL superuser, or (as on managed services)
a role with CREATEROLE that owns the team's database. Everything is made in one transaction, so
a failed set-up leaves nothing half-made. What it makes:

- roles ``<prefix>_owner`` (owns the schema; neither superuser nor BYPASSRLS),
  ``_resolver``, ``_rolemgr`` (CREATEROLE, owns only the login-role functions), ``_dedup``, and
  the groups ``_device`` and ``_invitee`` (EXECUTE on the API functions only);
- the schema ``sim`` with its Alembic version table ``sim.alembic_version``, never ``public``;
- the database closed to PUBLIC (CONNECT and TEMPORARY revoked; only the groups may connect).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from sim_desk.teamserver.connection import ServerAddress, connect
from sim_desk.teamserver.errors import ServerAlreadySetUp, ServerError, ServerNotReady

if TYPE_CHECKING:
    from sqlalchemy import Connection

SCHEMA = "sim"
MIGRATIONS = Path(__file__).with_name("migrations")
#: PostgreSQL 15 or newer (FORCE ROW LEVEL SECURITY, security_invoker views, PUBLIC without
#: CREATE on schema public by default).
MIN_SERVER_VERSION = 150000
_ROLE_PREFIX = re.compile(r"[a-z][a-z0-9_]{0,23}")
HELPER_ROLES = ("owner", "resolver", "rolemgr", "dedup", "device", "invitee")


def check_role_prefix(prefix: str) -> str:
    """A role prefix is lower-case letters, digits and _ (at most 24), starting with a letter."""
    if not isinstance(prefix, str) or not _ROLE_PREFIX.fullmatch(prefix):
        raise ServerError(
            "The role prefix must be 1 to 24 lower-case letters, digits or _, starting with a"
            " letter (for example 'simdesk_north')."
        )
    return prefix


def default_role_prefix(database: str) -> str:
    """The database's name made into a role prefix (one team per database)."""
    cleaned = re.sub(r"[^a-z0-9_]", "_", database.lower())[:24]
    if not cleaned or not cleaned[0].isalpha():
        cleaned = ("sim_" + cleaned)[:24]
    return check_role_prefix(cleaned)


@dataclass(frozen=True)
class Roles:
    """The names of a team's roles, all derived from its prefix."""

    prefix: str

    def __post_init__(self) -> None:
        check_role_prefix(self.prefix)

    @property
    def owner(self) -> str:
        return f"{self.prefix}_owner"

    @property
    def resolver(self) -> str:
        return f"{self.prefix}_resolver"

    @property
    def rolemgr(self) -> str:
        return f"{self.prefix}_rolemgr"

    @property
    def dedup(self) -> str:
        return f"{self.prefix}_dedup"

    @property
    def device(self) -> str:
        return f"{self.prefix}_device"

    @property
    def invitee(self) -> str:
        return f"{self.prefix}_invitee"

    def device_login(self, device_id: uuid.UUID) -> str:
        return f"{self.prefix}_d_{device_id.hex}"

    def invitation_login(self, invitation_id: uuid.UUID) -> str:
        return f"{self.prefix}_i_{invitation_id.hex}"


@dataclass(frozen=True)
class AdminLogin:
    """The administrator's connection details. The password came from a file, the environment
    or a prompt, never the command line."""

    address: ServerAddress
    user: str
    password: str = field(repr=False)

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection[Any]:
        return connect(self.address, user=self.user, password=self.password, autocommit=autocommit)

    @contextmanager
    def transaction(self) -> Iterator[tuple[Connection, psycopg.Connection[Any]]]:
        """One transaction, seen both by SQLAlchemy (for Alembic) and as psycopg underneath;
        committed at the end, rolled back on any error."""
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        engine = create_engine(
            "postgresql+psycopg://", creator=lambda: self.connect(), poolclass=NullPool
        )
        try:
            with engine.begin() as sa_conn:
                raw = sa_conn.connection.driver_connection
                assert isinstance(raw, psycopg.Connection)
                yield sa_conn, raw
        finally:
            engine.dispose()


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


def _schema_exists(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", (SCHEMA,)).fetchone()
    return bool(row and row[0])


def server_version(conn: psycopg.Connection[Any]) -> int:
    return int(conn.info.server_version)


def _check_version(conn: psycopg.Connection[Any]) -> None:
    if server_version(conn) < MIN_SERVER_VERSION:
        raise ServerNotReady(
            "SIM Desk needs PostgreSQL 15 or newer for its team server; this server runs an older"
            " version. Nothing was changed."
        )


def _create_roles(conn: psycopg.Connection[Any], roles: Roles, database: str) -> None:
    taken = conn.execute(
        "SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname LIKE %s",
        (roles.prefix.replace("_", r"\_") + r"\_%",),
    ).fetchone()
    if taken and taken[0]:
        raise ServerAlreadySetUp(
            f"Roles named {roles.prefix}_... already exist on this server (another team, or an"
            " earlier set-up). Choose another --role-prefix, or remove the old roles first."
        )
    plain = "NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
    for name in (roles.owner, roles.resolver, roles.dedup, roles.device, roles.invitee):
        conn.execute(sql.SQL("CREATE ROLE {} " + plain).format(_ident(name)))
    conn.execute(
        sql.SQL(
            "CREATE ROLE {} NOLOGIN NOSUPERUSER NOCREATEDB CREATEROLE NOREPLICATION NOBYPASSRLS"
        ).format(_ident(roles.rolemgr))
    )
    # The administrator becomes a member of the roles that own objects, to make and migrate
    # them (a superuser is one already; granting it again is harmless).
    for name in (roles.owner, roles.resolver, roles.rolemgr, roles.dedup):
        conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(_ident(name)))
    # The role manager puts new logins in the groups (PostgreSQL 16+ asks for ADMIN OPTION).
    for group in (roles.device, roles.invitee):
        conn.execute(
            sql.SQL("GRANT {} TO {} WITH ADMIN OPTION").format(_ident(group), _ident(roles.rolemgr))
        )
    db = _ident(database)
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
    conn.execute(
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}, {}").format(
            db, _ident(roles.device), _ident(roles.invitee)
        )
    )
    conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    conn.execute(
        sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(_ident(SCHEMA), _ident(roles.owner))
    )
    conn.execute(
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}, {}, {}, {}, {}").format(
            _ident(SCHEMA),
            _ident(roles.resolver),
            _ident(roles.rolemgr),
            _ident(roles.dedup),
            _ident(roles.device),
            _ident(roles.invitee),
        )
    )
    for name in (roles.owner, roles.resolver, roles.rolemgr, roles.dedup):
        conn.execute(
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC"
            ).format(_ident(name))
        )


def _run_migrations(
    sa_conn: Connection, conn: psycopg.Connection[Any], roles: Roles, revision: str = "head"
) -> None:
    """Alembic's upgrade to ``revision`` (the newest unless said) inside the caller's
    transaction, as the owner role."""
    from alembic import command
    from alembic.config import Config

    conn.execute(sql.SQL("SET ROLE {}").format(_ident(roles.owner)))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["role_prefix"] = roles.prefix
    config.attributes["connection"] = sa_conn
    command.upgrade(config, revision)
    conn.execute("RESET ROLE")


def schema_head() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


@dataclass(frozen=True)
class TeamSetUp:
    team_id: uuid.UUID
    team_name: str
    roles: Roles
    revision: str


def init_server(
    login: AdminLogin, *, team_name: str, role_prefix: str | None = None, revision: str = "head"
) -> TeamSetUp:
    """Creates a team on an empty database: roles, schema, policies, functions, the team row.

    All in one transaction: on any error nothing is left behind. ``revision`` is the schema
    revision to make: the newest, unless a test of ``upgrade_server`` wants an older one.

    Raises:
        ServerAlreadySetUp: the database already has the schema, or the roles exist.
        ServerNotReady: PostgreSQL older than 15.
    """
    name = team_name.strip()
    if not 1 <= len(name) <= 200:
        raise ServerError("The team name must be 1 to 200 characters.")
    roles = Roles(role_prefix or default_role_prefix(login.address.database))
    with login.transaction() as (sa_conn, conn):
        _check_version(conn)
        if _schema_exists(conn):
            raise ServerAlreadySetUp(
                f"The database {login.address.database} already has a SIM Desk team. Run"
                " 'sim-desk server upgrade' to bring it up to date, or use another database."
            )
        _create_roles(conn, roles, login.address.database)
        _run_migrations(sa_conn, conn, roles, revision)
        team_id = uuid.uuid4()
        conn.execute(sql.SQL("SET ROLE {}").format(_ident(roles.owner)))
        conn.execute(
            "INSERT INTO sim.team (id, name, incarnation, role_prefix) VALUES (%s, %s, %s, %s)",
            (team_id, name, uuid.uuid4(), roles.prefix),
        )
        conn.execute("RESET ROLE")
        revision = _revision(conn)
    return TeamSetUp(team_id, name, roles, revision)


def _revision(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SELECT version_num FROM sim.alembic_version").fetchone()
    return str(row[0]) if row else "none"


def team_roles(conn: psycopg.Connection[Any]) -> Roles:
    row = conn.execute("SELECT role_prefix FROM sim.team").fetchone()
    if row is None:
        raise ServerNotReady("This database has the SIM Desk schema but no team in it.")
    return Roles(str(row[0]))


def upgrade_server(login: AdminLogin) -> str:
    """Runs any migrations newer than the server's schema. Returns the revision now in force."""
    with login.transaction() as (sa_conn, conn):
        if not _schema_exists(conn):
            raise ServerNotReady(
                f"The database {login.address.database} has no SIM Desk team yet: run"
                " 'sim-desk server init' first."
            )
        roles = team_roles(conn)
        _run_migrations(sa_conn, conn, roles)
        return _revision(conn)


# -- checks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str


@dataclass
class ServerReport:
    """What ``server status`` shows an administrator: facts and the security checks."""

    database: str
    server_version: str
    revision: str
    newest_revision: str | None
    team_name: str
    team_id: uuid.UUID
    incarnation: uuid.UUID
    changes: int
    users: int
    devices: int
    revoked_devices: int
    pending_invitations: int
    findings: list[Finding]

    @property
    def healthy(self) -> bool:
        return all(f.ok for f in self.findings)


def server_report(login: AdminLogin) -> ServerReport:
    """Reads the team's state and checks the security promises the schema depends on."""
    with login.connect(autocommit=True) as conn:
        if not _schema_exists(conn):
            raise ServerNotReady(
                f"The database {login.address.database} has no SIM Desk team yet: run"
                " 'sim-desk server init' first."
            )
        roles = team_roles(conn)
        team = conn.execute("SELECT id, name, incarnation, last_seq FROM sim.team").fetchone()
        assert team is not None  # team_roles checked
        # Since schema 0002 the incarnation laptops see also names the database, the cluster and
        # its timeline (so that a restore or failover shows); before, the stored one.
        incarnation = team[2]
        if conn.execute("SELECT to_regprocedure('sim._incarnation()')").fetchone() != (None,):
            computed = conn.execute("SELECT sim._incarnation()").fetchone()
            incarnation = computed[0] if computed else incarnation
        counts = conn.execute(
            """SELECT (SELECT count(*) FROM sim.users WHERE active),
                      (SELECT count(*) FROM sim.devices WHERE revoked_at IS NULL),
                      (SELECT count(*) FROM sim.devices WHERE revoked_at IS NOT NULL),
                      (SELECT count(*) FROM sim.invitations
                       WHERE used_at IS NULL AND withdrawn_at IS NULL AND expires_at > now())"""
        ).fetchone()
        assert counts is not None
        return ServerReport(
            database=login.address.database,
            server_version=str(conn.execute("SHOW server_version").fetchone()[0]),  # type: ignore[index]
            revision=_revision(conn),
            newest_revision=schema_head(),
            team_name=str(team[1]),
            team_id=team[0],
            incarnation=incarnation,
            changes=int(team[3]),
            users=int(counts[0]),
            devices=int(counts[1]),
            revoked_devices=int(counts[2]),
            pending_invitations=int(counts[3]),
            findings=security_findings(conn, roles),
        )


def security_findings(conn: psycopg.Connection[Any], roles: Roles) -> list[Finding]:
    """The checks that matter for what a device can touch, read from the catalogues."""
    findings: list[Finding] = []
    owner = conn.execute(
        "SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = %s",
        (roles.owner,),
    ).fetchone()
    findings.append(
        Finding(
            owner is not None and not owner[0] and not owner[1] and not owner[2],
            f"owner role {roles.owner} is not a superuser, has no BYPASSRLS and cannot log in",
        )
    )
    unforced = conn.execute(
        """SELECT c.relname FROM pg_catalog.pg_class c
           WHERE c.relnamespace = 'sim'::regnamespace AND c.relkind IN ('r', 'p')
             AND NOT (c.relrowsecurity AND c.relforcerowsecurity) ORDER BY 1"""
    ).fetchall()
    findings.append(
        Finding(
            not unforced,
            "row-level security is on and forced on every table"
            + (f" (not on: {', '.join(r[0] for r in unforced)})" if unforced else ""),
        )
    )
    unpinned = conn.execute(
        """SELECT p.proname FROM pg_catalog.pg_proc p
           WHERE p.pronamespace = 'sim'::regnamespace
             AND NOT coalesce(p.proconfig::text[] @> ARRAY['search_path=pg_catalog, sim, pg_temp'],
                              false)
           ORDER BY 1"""
    ).fetchall()
    findings.append(
        Finding(
            not unpinned,
            "every function pins search_path to pg_catalog, sim, pg_temp"
            + (f" (not: {', '.join(r[0] for r in unpinned)})" if unpinned else ""),
        )
    )
    public_exec = conn.execute(
        """SELECT p.proname FROM pg_catalog.pg_proc p
           WHERE p.pronamespace = 'sim'::regnamespace
             AND has_function_privilege('public', p.oid, 'EXECUTE') ORDER BY 1"""
    ).fetchall()
    findings.append(
        Finding(
            not public_exec,
            "no function in the schema is executable by PUBLIC"
            + (f" (executable: {', '.join(r[0] for r in public_exec)})" if public_exec else ""),
        )
    )
    table_grants = conn.execute(
        """SELECT DISTINCT c.relname FROM pg_catalog.pg_class c,
                  LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
           WHERE c.relnamespace = 'sim'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
             AND (a.grantee = 0 OR pg_has_role(a.grantee, %s, 'MEMBER')
                  OR pg_has_role(a.grantee, %s, 'MEMBER'))
           ORDER BY 1""",
        (roles.device, roles.invitee),
    ).fetchall()
    findings.append(
        Finding(
            not table_grants,
            "devices, invitations and PUBLIC hold no privilege on any table"
            + (f" (they do on: {', '.join(r[0] for r in table_grants)})" if table_grants else ""),
        )
    )
    db_public = conn.execute(
        """SELECT has_database_privilege('public', current_database(), 'CONNECT'),
                  has_database_privilege('public', current_database(), 'TEMPORARY')"""
    ).fetchone()
    findings.append(
        Finding(
            db_public is not None and not db_public[0] and not db_public[1],
            "PUBLIC may neither connect to the database nor make temporary tables in it",
        )
    )
    settings = dict(
        conn.execute(
            """SELECT name, setting FROM pg_catalog.pg_settings WHERE name IN (
                 'ssl', 'password_encryption', 'log_statement', 'log_min_error_statement',
                 'log_parameter_max_length', 'log_parameter_max_length_on_error',
                 'log_min_duration_statement', 'log_error_verbosity',
                 'max_prepared_transactions')"""
        ).fetchall()
    )
    expected = {
        "ssl": "on",
        "password_encryption": "scram-sha-256",
        "log_statement": "none",
        "log_min_error_statement": "panic",
        "log_parameter_max_length": "0",
        "log_parameter_max_length_on_error": "0",
        "log_min_duration_statement": "-1",
        "log_error_verbosity": "terse",
        "max_prepared_transactions": "0",
    }
    for name, want in expected.items():
        have = settings.get(name)
        findings.append(Finding(have == want, f"{name} = {want} (docs/team-server.md)"))
    return findings
