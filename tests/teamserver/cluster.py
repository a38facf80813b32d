"""A real, throw-away PostgreSQL cluster for the team-server tests.

Started once per test session from the machine's own server binaries, in a temporary folder, on
a free localhost port, with TLS from a test CA made here and ``hostssl ... scram-sha-256`` as
the only way in. PostgreSQL refuses to run as root (and CI runs as root), so as root the folder
is handed to an unprivileged user and the server runs as that user.

The logging settings are those ``docs/team-server.md`` recommends, so that a test can read the
server's log afterwards and look for personal data in it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import ipaddress
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: The settings docs/team-server.md recommends for the server's log: no statement text, no
#: parameters, no error detail (which can quote a row's values), errors still logged.
RECOMMENDED_LOGGING = {
    "log_statement": "none",
    "log_min_error_statement": "panic",
    "log_min_duration_statement": "-1",
    "log_duration": "off",
    "log_parameter_max_length": "0",
    "log_parameter_max_length_on_error": "0",
    "log_error_verbosity": "terse",
    "log_min_messages": "warning",
    "log_connections": "on",
    "log_disconnections": "on",
    "max_prepared_transactions": "0",
}

#: Test-only speed-ups: a throw-away cluster need not survive a power cut.
TEST_ONLY = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}

ADMIN_USER = "simadmin"
FALLBACK_USER = "simdesk-pg"
STARTUP_DEADLINE_S = 60.0


class ClusterUnavailable(RuntimeError):
    """PostgreSQL's server binaries are missing, or the server would not start."""


@dataclass
class ThrowawayCA:
    """A certificate authority made for one test session, and the server certificate it signed."""

    ca_pem: bytes
    ca_key: ec.EllipticCurvePrivateKey
    server_cert_pem: bytes
    server_key_pem: bytes

    @classmethod
    def make(cls, server_name: str = "localhost") -> ThrowawayCA:
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SIM Desk test trust CA")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        server_key = ec.generate_private_key(ec.SECP256R1())
        server_cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_name)]))
            .issuer_name(ca_name)
            .public_key(server_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName(server_name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        return cls(
            ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
            ca_key=ca_key,
            server_cert_pem=server_cert.public_bytes(serialization.Encoding.PEM),
            server_key_pem=server_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )


def server_binaries() -> Path:
    """The folder holding ``initdb`` and ``postgres``: PATH first, then where packages put them.

    Debian's ``postgresql-NN`` package keeps them out of PATH (in /usr/lib/postgresql/NN/bin);
    ``pg_config --bindir`` and ``dpkg -L`` find them wherever a distribution put them.
    """
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(found).resolve().parent
    candidates: list[Path] = []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        bindir = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        candidates.append(Path(bindir))
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        listed = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Package}\n", "postgresql-[0-9]*"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.split()
        for package in sorted(listed, key=_version_key, reverse=True):
            files = subprocess.run(
                ["dpkg", "-L", package], capture_output=True, text=True, timeout=10
            ).stdout.splitlines()
            candidates += [Path(f).parent for f in files if f.endswith("/bin/initdb")]
    candidates += [
        Path(p)
        for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    ]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "postgres").is_file():
            return folder
    raise ClusterUnavailable(
        "PostgreSQL's server binaries (initdb, postgres) were not found on PATH, by pg_config"
        " or in /usr/lib/postgresql. Install them (Debian: apt-get install postgresql)."
    )


def _version_key(text: str) -> int:
    match = re.search(r"(\d+)", text)
    return int(match.group(1)) if match else 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunAs:
    """The unprivileged user the server runs as when the tests run as root (else nobody)."""

    uid: int | None
    gid: int | None

    @classmethod
    def for_this_process(cls) -> RunAs:
        if os.geteuid() != 0:
            return cls(None, None)
        try:
            entry = pwd.getpwnam("nobody")
        except KeyError:  # a machine without 'nobody': a system user of our own
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    FALLBACK_USER,
                ],
                check=False,
                capture_output=True,
                timeout=30,
            )
            try:
                entry = pwd.getpwnam(FALLBACK_USER)
            except KeyError:
                raise ClusterUnavailable(
                    "Running as root, and there is no unprivileged user to run PostgreSQL as"
                    f" ('nobody', or '{FALLBACK_USER}', which could not be created)."
                ) from None
        return cls(entry.pw_uid, entry.pw_gid)

    def popen_options(self) -> dict[str, object]:
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def give(self, path: Path) -> None:
        if self.uid is not None:
            os.chown(path, self.uid, self.gid if self.gid is not None else -1)


@dataclass
class Cluster:
    """A running test cluster: where it listens, how the admin connects, where it logs."""

    folder: Path
    port: int
    ca: ThrowawayCA
    ca_file: Path
    admin_password: str
    log_file: Path
    process: subprocess.Popen[bytes]
    startup_seconds: float
    host: str = "localhost"

    def admin_connect(self, dbname: str = "postgres", **options: object) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            dbname=dbname,
            user=ADMIN_USER,
            password=self.admin_password,
            sslmode="verify-full",
            sslrootcert=str(self.ca_file),
            channel_binding="require",
            **{"connect_timeout": 10, **options},  # type: ignore[arg-type]
        )

    def log_text(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def wait_until_ready(self) -> None:
        """Returns once the server accepts connections again (after it restarted all its
        backends, which it does when one of them is killed)."""
        _wait_until_ready(self)

    def start_again(self) -> None:
        """Starts the stopped server again: the same folder, port, settings and user."""
        if self.process.poll() is None:
            raise RuntimeError("the test server is still running")
        log = open(self.log_file, "ab")  # noqa: SIM115 - the server keeps writing to it
        self.process = subprocess.Popen(
            self.process.args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=self.folder,
            **RunAs.for_this_process().popen_options(),  # type: ignore[arg-type]
        )
        log.close()
        _wait_until_ready(self)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # "fast" shutdown: ends open sessions
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def start_cluster() -> Cluster:
    """initdb, certificates, pg_hba, then the server; returns once it accepts connections."""
    started = time.monotonic()
    bindir = server_binaries()
    run_as = RunAs.for_this_process()
    # Not under pytest's own temporary folder: as root that is 0700 and the server's user could
    # not reach a folder inside it.
    folder = Path(tempfile.mkdtemp(prefix="sim-desk-pg-"))
    os.chmod(folder, 0o700)
    run_as.give(folder)
    data = folder / "data"
    password = secrets.token_urlsafe(24)
    password_file = folder / "admin.pass"
    password_file.write_text(password)
    os.chmod(password_file, 0o600)
    run_as.give(password_file)
    initdb = subprocess.run(
        [
            str(bindir / "initdb"),
            "--pgdata",
            str(data),
            "--username",
            ADMIN_USER,
            "--pwfile",
            str(password_file),  # the password from a file, never the command line
            "--auth",
            "scram-sha-256",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-instructions",
        ],
        capture_output=True,
        timeout=120,
        cwd=folder,
        **run_as.popen_options(),  # type: ignore[arg-type]
    )
    password_file.unlink()
    if initdb.returncode != 0:
        raise ClusterUnavailable(
            "initdb failed: " + initdb.stderr.decode("utf-8", "replace")[-2000:]
        )
    ca = ThrowawayCA.make()
    for name, content in (
        ("server.crt", ca.server_cert_pem),
        ("server.key", ca.server_key_pem),
        ("root.crt", ca.ca_pem),
    ):
        path = data / name
        path.write_bytes(content)
        os.chmod(path, 0o600)
        run_as.give(path)
    # The only way in: TLS and SCRAM, from this machine. No Unix socket, no trust, no md5.
    hba = data / "pg_hba.conf"
    hba.write_text(
        "# TYPE  DATABASE  USER  ADDRESS       METHOD\n"
        "hostssl all       all   127.0.0.1/32  scram-sha-256\n"
        "hostssl all       all   ::1/128       scram-sha-256\n"
    )
    run_as.give(hba)
    ca_file = folder / "trust-ca.pem"
    ca_file.write_bytes(ca.ca_pem)
    log_file = folder / "server.log"
    last_error = ""
    for _attempt in range(3):  # a port taken between choosing and binding: choose another
        port = free_port()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": "",
            "ssl": "on",
            "ssl_cert_file": "server.crt",
            "ssl_key_file": "server.key",
            "ssl_min_protocol_version": "TLSv1.2",
            "password_encryption": "scram-sha-256",
            "max_connections": "60",
            **RECOMMENDED_LOGGING,
            **TEST_ONLY,
        }
        command = [str(bindir / "postgres"), "-D", str(data)]
        for key, value in settings.items():
            command += ["-c", f"{key}={value}"]
        log = open(log_file, "ab")  # noqa: SIM115 - the server keeps writing to it
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=folder,
            **run_as.popen_options(),  # type: ignore[arg-type]
        )
        log.close()
        cluster = Cluster(folder, port, ca, ca_file, password, log_file, process, 0.0)
        try:
            _wait_until_ready(cluster)
        except ClusterUnavailable as exc:
            last_error = str(exc)
            cluster.stop()
            continue
        cluster.startup_seconds = time.monotonic() - started
        return cluster
    raise ClusterUnavailable(last_error)


def _wait_until_ready(cluster: Cluster) -> None:
    """Polls with a real connection (TLS and SCRAM included) until it works or time runs out."""
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    delay = 0.02
    while True:
        if cluster.process.poll() is not None:
            raise ClusterUnavailable(
                "PostgreSQL stopped during start-up: " + cluster.log_text()[-2000:]
            )
        try:
            with cluster.admin_connect(connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise ClusterUnavailable(f"PostgreSQL did not accept connections: {exc}") from None
        time.sleep(delay)  # between readiness probes, bounded by the deadline above
        delay = min(delay * 2, 0.5)


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.folder, ignore_errors=True)
