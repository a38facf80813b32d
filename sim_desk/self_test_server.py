"""`sim-desk self-test --server HOST[:PORT][/DATABASE] --ca-file FILE`: can this laptop reach
its team server (issue 21)?

Four checks, each said as it happens, with no passphrase, password or vault involved:

1. TCP: the host answers on the port (a firewall, a VPN or a wrong name shows here);
2. TLS: PostgreSQL's TLS handshake, the server's certificate checked against the trust's CA
   for exactly this host name (what ``sslmode=verify-full`` checks), TLS 1.2 or newer;
3. the CA's SHA-256 fingerprint, compared with the one IT gave (``--ca-fingerprint``) or shown
   for the person to compare;
4. libpq (the bundled psycopg binary) connects with ``verify-full`` and channel binding as the
   app does, as a user that has no password: the server asking who we are (or refusing the
   user) proves everything up to the login works.

The server can also be named by environment variables (for IT's deployment scripts):
``SIM_DESK_SELF_TEST_SERVER``, ``SIM_DESK_SELF_TEST_CA_FILE`` and
``SIM_DESK_SELF_TEST_CA_FINGERPRINT``.
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER_ENV = "SIM_DESK_SELF_TEST_SERVER"
CA_FILE_ENV = "SIM_DESK_SELF_TEST_CA_FILE"
FINGERPRINT_ENV = "SIM_DESK_SELF_TEST_CA_FINGERPRINT"
DEFAULT_PORT = 5432
DEFAULT_DATABASE = "postgres"
TIMEOUT_S = 10
#: PostgreSQL's SSLRequest: length 8, then the code 1234.5679.
SSL_REQUEST = struct.pack("!ii", 8, 80877103)
#: A user no team has: the server can only ask who it is or refuse it, and nothing is sent.
PROBE_USER = "sim_desk_self_test_probe"


class TargetProblem(ValueError):
    """The server or CA named for the self-test cannot be used as given."""


@dataclass(frozen=True)
class ServerTarget:
    host: str
    port: int
    database: str
    ca_pem: str
    expected_fingerprint: str | None = None

    def describe(self) -> str:
        return f"{self.host}:{self.port}"


def _normal_fingerprint(text: str) -> str:
    digits = "".join(c for c in text.upper() if c in "0123456789ABCDEF")
    if len(digits) != 64:
        raise TargetProblem(
            "The CA fingerprint should be 64 hexadecimal digits (SHA-256), as IT gave it,"
            " with or without colons."
        )
    return ":".join(digits[i : i + 2] for i in range(0, 64, 2))


def parse_target(
    server: str | None, ca_file: str | None, fingerprint: str | None = None
) -> ServerTarget | None:
    """The server named on the command line or in the environment; None if none is."""
    server = server or os.environ.get(SERVER_ENV) or None
    if not server:
        return None
    ca_file = ca_file or os.environ.get(CA_FILE_ENV) or None
    fingerprint = fingerprint or os.environ.get(FINGERPRINT_ENV) or None
    if not ca_file:
        raise TargetProblem(
            f"Name the trust CA's certificate file with --ca-file (or {CA_FILE_ENV}): the"
            " self-test checks the server's certificate against it."
        )
    try:
        ca_pem = Path(ca_file).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise TargetProblem(f"Cannot read the CA certificate file {ca_file}.") from None
    where, _, database = server.partition("/")
    host, _, port_text = where.rpartition(":") if ":" in where else (where, "", "")
    try:
        port = int(port_text) if port_text else DEFAULT_PORT
    except ValueError:
        raise TargetProblem(f"The port in {server} is not a number.") from None
    if not host or not 0 < port < 65536:
        raise TargetProblem(f"Give the server as HOST[:PORT][/DATABASE], not {server}.")
    return ServerTarget(
        host,
        port,
        database or DEFAULT_DATABASE,
        ca_pem,
        _normal_fingerprint(fingerprint) if fingerprint else None,
    )


def check_server(target: ServerTarget, checks: Any, folder: Path) -> None:
    """Runs the four checks through ``checks`` (a ``self_test.Checks``)."""
    run = checks.run
    where = target.describe()
    run(f"team server {where}: TCP connection", lambda: _tcp(target))
    run(
        f"team server {where}: TLS with a certificate from the trust's CA for {target.host}",
        lambda: _tls(target),
    )
    run("team server: trust CA fingerprint (SHA-256)", lambda: _fingerprint(target, checks.say))
    run(
        "team server: the app's database client (libpq) connects with verify-full",
        lambda: _libpq(target, folder),
    )


def _tcp(target: ServerTarget) -> bool | str:
    try:
        with socket.create_connection((target.host, target.port), timeout=TIMEOUT_S):
            return True
    except OSError as error:
        return (
            f"no answer from {target.describe()} ({error.strerror or error}). Check the name,"
            " the network and the VPN, and that the trust's firewall lets this laptop through."
        )


def _tls(target: ServerTarget) -> bool | str:
    context = ssl.create_default_context(cadata=target.ca_pem)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        with socket.create_connection((target.host, target.port), timeout=TIMEOUT_S) as raw:
            raw.sendall(SSL_REQUEST)
            if raw.recv(1) != b"S":
                return "the server does not offer TLS: laptops will not connect to it"
            with context.wrap_socket(raw, server_hostname=target.host) as tls:
                version = tls.version()
    except ssl.SSLCertVerificationError as error:
        return (
            f"the server's certificate is not the trust's for {target.host}"
            f" ({error.verify_message}). Laptops will refuse it: check the address and the CA"
            " file with IT."
        )
    except (OSError, ssl.SSLError) as error:
        return f"the TLS handshake failed ({error})"
    return True if version else "no TLS version was agreed"


def _fingerprint(target: ServerTarget, say: Callable[[str], object]) -> bool | str:
    from sim_desk.teamserver.connection import ca_fingerprint

    found = ca_fingerprint(target.ca_pem)
    say(f"       {found}")
    if target.expected_fingerprint is None:
        say("       (compare it with the fingerprint the trust's IT team gave you)")
        return True
    if found != target.expected_fingerprint:
        return (
            f"the CA file's fingerprint is {found}, not the {target.expected_fingerprint} IT"
            " gave: this is not the trust's CA"
        )
    return True


def _libpq(target: ServerTarget, folder: Path) -> bool | str:
    import psycopg

    ca = folder / "trust-ca.pem"
    ca.write_text(target.ca_pem, encoding="ascii")
    # An empty password file: libpq looks there when it has no password (and warns about a
    # non-file such as /dev/null), and must never find a stored one in ~/.pgpass.
    no_passwords = folder / "no-passwords"
    no_passwords.write_text("", encoding="ascii")
    no_passwords.chmod(0o600)
    options: dict[str, Any] = {
        "host": target.host,
        "port": target.port,
        "dbname": target.database,
        "user": PROBE_USER,
        "sslmode": "verify-full",
        "sslrootcert": str(ca),
        "channel_binding": "require",
        "gssencmode": "disable",
        "connect_timeout": TIMEOUT_S,
        "passfile": str(no_passwords),
    }
    try:
        psycopg.connect(**options).close()
    except psycopg.OperationalError as error:
        text = str(error)
        # The server answered over TLS: it asked for a password (which the probe has not) or
        # refused the user. Either way everything up to the login works.
        if any(
            sign in text
            for sign in ("no password supplied", "FATAL", "password authentication failed")
        ):
            return True
        first = text.strip().splitlines()[-1] if text.strip() else type(error).__name__
        return f"libpq could not connect: {first}"
    return (
        "the server let an unknown user in without a password: its pg_hba.conf is not as"
        " docs/team-server.md says (hostssl and scram-sha-256 only). Tell the trust's IT team."
    )


def run_server_check(target: ServerTarget, checks: Any) -> None:
    """The checks in a temporary folder of their own (the CA file libpq reads)."""
    with tempfile.TemporaryDirectory(prefix="sim-desk-self-test-server-") as folder:
        check_server(target, checks, Path(folder))
