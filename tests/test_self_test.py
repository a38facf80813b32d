"""`sim-desk self-test`, the check an IT team runs after installing, run here from source.

`make installer-smoke` runs the same check inside the frozen bundle.
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path
from typing import Any

import pytest

from sim_desk.self_test import run_self_test
from tests.teamserver import conftest as server_fixtures

pg_cluster = server_fixtures.pg_cluster  # the team-server tests' real PostgreSQL


def test_self_test_touches_every_layer_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    lines: list[str] = []

    assert run_self_test(lines.append), "\n".join(lines)

    report = "\n".join(lines)
    assert "FAIL" not in report
    for layer in (
        "encrypted vault",  # SQLCipher, Argon2id key slots, migrations
        "clinician-only note",  # permissions
        "statistics",  # SciPy
        "PDF",  # reportlab, bundled fonts, HarfBuzz
        "anonymised export",  # exchange, XlsxWriter
        "calendar",  # icalendar
        "main window",  # Qt widgets, style sheet, SVG icon, PDF preview
        "audit chain",  # verify
    ):
        assert layer in report
    assert list(scratch.iterdir()) == []


# -- reaching a team server (issue 21) ------------------------------------------------------------


def _self_test(*args: str) -> int:
    from sim_desk import cli

    return cli.main(["self-test", *args])


def test_self_test_reaches_a_named_team_server_over_tls_checked_against_the_trust_ca(
    pg_cluster: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    from sim_desk.teamserver.connection import ca_fingerprint

    fingerprint = ca_fingerprint(pg_cluster.ca.ca_pem.decode())
    code = _self_test(
        "--server",
        f"{pg_cluster.host}:{pg_cluster.port}/postgres",
        "--ca-file",
        str(pg_cluster.ca_file),
        "--ca-fingerprint",
        fingerprint.replace(":", "").lower(),  # as IT might read it out
        "--server-only",
    )
    report, errors = capfd.readouterr()  # libpq's own warnings go to the process's stderr
    lines = report.splitlines()
    assert errors == ""
    assert code == 0, report
    for check in ("TCP connection", "TLS with a certificate", "fingerprint", "libpq"):
        assert any(line.startswith("  ok   team server") and check in line for line in lines)
    assert "FAIL" not in report and fingerprint in report
    assert "self-test passed" in report


def test_self_test_takes_the_server_from_the_environment_for_it_scripts(
    pg_cluster: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_DESK_SELF_TEST_SERVER", f"{pg_cluster.host}:{pg_cluster.port}")
    monkeypatch.setenv("SIM_DESK_SELF_TEST_CA_FILE", str(pg_cluster.ca_file))
    assert _self_test("--server-only") == 0
    report = capsys.readouterr().out
    assert "compare it with the fingerprint the trust's IT team gave you" in report


def test_self_test_refuses_a_server_whose_certificate_is_not_from_the_trust_ca(
    pg_cluster: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from tests.teamserver.cluster import ThrowawayCA

    other = tmp_path / "other-ca.pem"
    other.write_bytes(ThrowawayCA.make().ca_pem)
    code = _self_test(
        "--server",
        f"{pg_cluster.host}:{pg_cluster.port}",
        "--ca-file",
        str(other),
        "--server-only",
    )
    report = capsys.readouterr().out
    assert code != 0
    assert "FAIL team server" in report and "not the trust's for localhost" in report
    assert "libpq could not connect" in report  # the app's own client refuses it too
    assert "self-test FAILED" in report


def test_self_test_says_when_the_fingerprint_differs_from_the_one_it_gave(
    pg_cluster: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _self_test(
        "--server",
        f"{pg_cluster.host}:{pg_cluster.port}",
        "--ca-file",
        str(pg_cluster.ca_file),
        "--ca-fingerprint",
        "AB" * 32,
        "--server-only",
    )
    report = capsys.readouterr().out
    assert code != 0 and "this is not the trust's CA" in report


def test_self_test_says_when_nothing_answers_at_the_address(
    pg_cluster: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = _self_test(
        "--server", f"127.0.0.1:{port}", "--ca-file", str(pg_cluster.ca_file), "--server-only"
    )
    report = capsys.readouterr().out
    assert code != 0
    assert "no answer from 127.0.0.1" in report and "VPN" in report


def test_self_test_with_a_server_but_no_ca_file_says_what_to_add(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sim_desk import cli

    assert _self_test("--server", "sim-north.example:5432", "--server-only") == cli.EXIT_USAGE
    assert "--ca-file" in capsys.readouterr().err
