"""Connecting to the team server: TLS checked against the trust's CA, SCRAM with channel binding.

Every connection uses ``sslmode=verify-full`` (the server's certificate must be signed by the
trust's CA *and* name the host we asked for) and ``channel_binding=require`` (SCRAM-SHA-256-PLUS,
so a man in the middle holding some other valid certificate cannot relay the login). Passwords
go to libpq as connection parameters, never on a command line or into a log; errors are turned
into words that quote neither.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding

from sim_desk.records.errors import SimDeskError
from sim_desk.teamserver.errors import (
    ServerError,
    ServerLoginFailed,
    ServerRefused,
    ServerUnreachable,
)

#: PostgreSQL's SCRAM-SHA-256 verifier: iterations, salt, StoredKey and ServerKey (RFC 5803).
SCRAM_VERIFIER = re.compile(
    r"SCRAM-SHA-256\$(?P<iterations>[0-9]{4,7}):(?P<salt>[A-Za-z0-9+/]{16,88}={0,2})"
    r"\$(?P<stored_key>[A-Za-z0-9+/]{43}=):(?P<server_key>[A-Za-z0-9+/]{43}=)"
)
CONNECT_TIMEOUT_S = 10
APPLICATION_NAME = "sim-desk"


@dataclass(frozen=True)
class ServerAddress:
    """Where the team server is and which CA vouches for it. No secret in here."""

    host: str
    port: int
    database: str
    #: The trust's CA certificate (PEM), as IT handed it out or an invitation carried it.
    ca_pem: str

    def __post_init__(self) -> None:
        if not self.host or any(c.isspace() for c in self.host):
            raise ServerError("The server's host name is empty or has spaces in it.")
        if not 0 < self.port < 65536:
            raise ServerError("The server's port must be a number from 1 to 65535.")
        if not self.database:
            raise ServerError("The server's database name is empty.")
        ca_certificates(self.ca_pem)  # checks it is a certificate

    @property
    def ca_fingerprint(self) -> str:
        return ca_fingerprint(self.ca_pem)

    def describe(self) -> str:
        return f"{self.host}:{self.port}/{self.database}"


def ca_certificates(pem: str) -> list[x509.Certificate]:
    """The certificates in a PEM text; a clear error if there are none."""
    try:
        found = x509.load_pem_x509_certificates(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        found = []
    if not found:
        raise ServerError(
            "The CA certificate is not a PEM certificate (it should begin with"
            " '-----BEGIN CERTIFICATE-----'). Ask the trust's IT team for the CA certificate file."
        )
    return found


def ca_fingerprint(pem: str) -> str:
    """SHA-256 of the first certificate's DER bytes, as IT tools show it (AB:CD:...)."""
    der = ca_certificates(pem)[0].public_bytes(Encoding.DER)
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


@contextlib.contextmanager
def _ca_file(pem: str) -> Iterator[Path]:
    """libpq reads the root certificate from a file, once, while it connects."""
    folder = Path(tempfile.mkdtemp(prefix="sim-desk-ca-"))
    path = folder / "trust-ca.pem"
    try:
        path.write_text(pem, encoding="ascii")
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        with contextlib.suppress(OSError):
            folder.rmdir()


def connect(
    address: ServerAddress,
    *,
    user: str,
    password: str,
    autocommit: bool = True,
    connect_timeout: int = CONNECT_TIMEOUT_S,
) -> psycopg.Connection[Any]:
    """A TLS connection (verify-full, channel binding) with SCRAM as ``user``.

    Raises:
        ServerUnreachable: no answer, or the certificate is not the trust's for this host.
        ServerLoginFailed: the credential was refused, or the login is disabled.
        ServerRefused: this login already has as many connections as it may.
    """
    with _ca_file(address.ca_pem) as ca:
        try:
            return psycopg.connect(
                host=address.host,
                port=address.port,
                dbname=address.database,
                user=user,
                password=password,
                sslmode="verify-full",
                sslrootcert=str(ca),
                channel_binding="require",
                gssencmode="disable",
                connect_timeout=connect_timeout,
                application_name=APPLICATION_NAME,
                autocommit=autocommit,
                # Never a stored password from ~/.pgpass in place of the one we give.
                passfile=os.devnull,
            )
        except psycopg.OperationalError as exc:
            raise translate_connect_error(exc, address) from None


def translate_connect_error(exc: psycopg.OperationalError, address: ServerAddress) -> SimDeskError:
    """Words for a failed connection. libpq's text quotes no password, but we add none of it."""
    text = str(exc)
    where = address.describe()
    if "password authentication failed" in text or "SASL authentication failed" in text:
        return ServerLoginFailed(
            f"The team server at {where} did not accept this login. If it was an invitation,"
            " it may have expired or been used; ask your team lead for a new one. If it was this"
            " laptop, the laptop may have been revoked."
        )
    if "is not permitted to log in" in text:
        return ServerLoginFailed(
            f"The team server at {where} no longer lets this login in: the laptop or the"
            " invitation has been revoked or used. Ask your team lead."
        )
    if "too many connections for role" in text:
        return ServerRefused(
            "This laptop already has as many connections to the team server as it may. Close"
            " other SIM Desk windows, or wait a minute and try again."
        )
    if "certificate" in text or "SSL" in text or "channel binding" in text:
        return ServerUnreachable(
            f"The server at {where} could not prove it is the trust's team server (its"
            " certificate is not signed by the trust's CA for this name, or it would not use"
            " TLS with channel binding). Nothing was sent. Check the address with IT."
        )
    if "does not exist" in text and "database" in text:
        return ServerUnreachable(f"The team server at {where} has no database by that name.")
    return ServerUnreachable(
        f"The team server at {where} could not be reached. Check the network (and VPN), then"
        " try again; work on this laptop carries on meanwhile."
    )


# -- credentials -----------------------------------------------------------------------------


def new_secret() -> str:
    """A fresh random credential: 256 bits, text that SCRAM's SASLprep leaves unchanged."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


def invitation_login_password(one_time_secret: str) -> str:
    """The invitation login's password, derived from the invitation's one-time secret.

    Derived (HKDF-SHA256) rather than the secret itself, so that later parts can derive other
    keys from the same secret (proving a device's public key) that the login never reveals.
    """
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"sim-desk invitation login v1"
    ).derive(one_time_secret.encode("ascii"))
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode("ascii")


def scram_verifier(conn: psycopg.Connection[Any], password: str) -> str:
    """The SCRAM-SHA-256 verifier of ``password``, computed here by libpq (PQencryptPasswordConn).

    The server is then given only the verifier (salt, iterations, StoredKey, ServerKey), from
    which the password cannot be recovered; for a random 256-bit credential not even by trying.
    """
    verifier = conn.pgconn.encrypt_password(
        password.encode("utf-8"), b"sim-desk", b"scram-sha-256"
    ).decode("ascii")
    if not SCRAM_VERIFIER.fullmatch(verifier):  # libpq always gives this form; a guard on edits
        raise ServerError("libpq did not produce a SCRAM-SHA-256 verifier.")
    return verifier
