"""The command line as a script or a person uses it: real processes, real vaults."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim_desk import cli
from sim_desk.cli import common
from sim_desk.records.vault.files import VaultPaths

CANARY_GIVEN = "Canaryzofia"
CANARY_NHS = "9434765919"


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "sim_desk", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def cli_vault(tmp_path: Path) -> tuple[VaultPaths, Path]:
    secret = tmp_path / "lead.pass"
    secret.write_text("lead passphrase for cli\n")
    paths = VaultPaths.at(tmp_path / "vault" / "team.simvault")
    result = run(
        "init",
        "--vault",
        str(paths.database),
        "--user",
        "lead",
        "--team",
        "North",
        "--passphrase-file",
        str(secret),
    )
    assert result.returncode == 0, result.stderr
    assert "RECOVERY KEY" in result.stdout
    return paths, secret


def hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_wrong_passphrase_exits_with_auth_code_one_line_and_no_change(cli_vault, tmp_path):
    paths, _ = cli_vault
    before = hashes(paths.database.parent)
    result = run(
        "verify",
        "--vault",
        str(paths.database),
        "--user",
        "lead",
        env={"SIM_DESK_PASSPHRASE": "wrong wrong wrong"},
    )
    assert result.returncode == cli.EXIT_AUTH
    assert len(result.stderr.strip().splitlines()) == 1
    assert "wrong wrong wrong" not in result.stderr + result.stdout
    assert hashes(paths.database.parent) == before


def test_passphrase_is_never_an_argument():
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["verify", "--user", "lead", "--passphrase", "x"])


def test_verify_on_a_new_vault_is_clean(cli_vault):
    paths, secret = cli_vault
    result = run(
        "verify", "--vault", str(paths.database), "--user", "lead", "--passphrase-file", str(secret)
    )
    assert result.returncode == 0, result.stderr
    assert "audit log: ok" in result.stdout


def test_missing_vault_exits_with_vault_code(tmp_path):
    result = run(
        "verify",
        "--vault",
        str(tmp_path / "none.simvault"),
        "--user",
        "lead",
        env={"SIM_DESK_PASSPHRASE": "whatever it is"},
    )
    assert result.returncode == cli.EXIT_VAULT
    assert not (tmp_path / "none.simvault").exists()  # no empty vault silently created


def test_import_people_canary_leaves_no_plaintext(cli_vault, tmp_path):
    paths, secret = cli_vault
    csv_file = tmp_path / "people.csv"
    header = run("import", "people", "--template").stdout.strip()
    columns = header.split(",")
    row = {c: "" for c in columns}
    row.update(
        given_name=CANARY_GIVEN,
        family_name="Wójcik",
        nhs_number=CANARY_NHS,
        referred_on="2025-03-01",
    )
    csv_file.write_text(header + "\n" + ",".join(row[c] for c in columns) + "\n", encoding="utf-8")
    tmp_dir = tmp_path / "tmp"
    tmp_dir.mkdir()
    result = run(
        "import",
        "people",
        str(csv_file),
        "--vault",
        str(paths.database),
        "--user",
        "lead",
        "--passphrase-file",
        str(secret),
        env={"TMPDIR": str(tmp_dir)},
    )
    assert result.returncode == 0, result.stderr
    csv_file.unlink()  # the user's own file is theirs; everything SIM Desk wrote is checked
    written = list(paths.database.parent.iterdir()) + list(tmp_dir.rglob("*"))
    assert written
    for path in written:
        if path.is_file():
            data = path.read_bytes()
            assert CANARY_GIVEN.encode() not in data, path
            assert CANARY_NHS.encode() not in data, path
            assert CANARY_GIVEN.encode("utf-16-le") not in data, path


def test_import_with_one_bad_row_imports_nothing_and_names_the_row(cli_vault, tmp_path):
    paths, secret = cli_vault
    header = run("import", "people", "--template").stdout.strip()
    columns = header.split(",")

    def line(**values: str) -> str:
        return ",".join(values.get(c, "") for c in columns)

    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "\n".join(
            [
                header,
                line(given_name="Ana", referred_on="2025-03-01"),
                line(given_name="Bo", referred_on="2025-03-01", nhs_number="9434765918"),
                line(given_name="Cy", referred_on="2025-03-01"),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    result = run(
        "import",
        "people",
        str(csv_file),
        "--vault",
        str(paths.database),
        "--user",
        "lead",
        "--passphrase-file",
        str(secret),
    )
    assert result.returncode == cli.EXIT_DATA
    assert "line 3" in result.stderr and "NHS number" in result.stderr
    summary = run(
        "summary",
        "--vault",
        str(paths.database),
        "--user",
        "lead",
        "--passphrase-file",
        str(secret),
    )
    assert "People: 0" in summary.stdout, summary.stdout + summary.stderr


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], None),
        (["--vault", "/data/team.simvault"], "/data/team.simvault"),  # the quick way
        (["--vault=/data/team.simvault"], "/data/team.simvault"),  # through the parser
    ],
)
def test_no_command_opens_the_app_on_the_vault_given(monkeypatch, argv, expected):
    opened = []
    monkeypatch.setattr(common, "open_app", lambda paths: opened.append(paths) or 0)
    assert cli.main(argv) == 0
    assert opened == [None if expected is None else VaultPaths.at(expected)]


def test_a_user_changes_their_own_passphrase_and_the_old_one_stops_working(cli_vault, tmp_path):
    paths, secret = cli_vault
    new = tmp_path / "new.pass"
    new.write_text("a new lead passphrase for cli\n")
    vault = ["--vault", str(paths.database), "--user", "lead"]
    changed = run(
        "users",
        "passphrase",
        *vault,
        "--passphrase-file",
        str(secret),
        "--new-passphrase-file",
        str(new),
    )
    assert changed.returncode == cli.EXIT_OK, changed.stderr
    assert "lead passphrase" not in changed.stdout + changed.stderr
    old = run("users", "list", *vault, "--passphrase-file", str(secret))
    assert old.returncode == cli.EXIT_AUTH
    assert run("users", "list", *vault, "--passphrase-file", str(new)).returncode == cli.EXIT_OK
    wrong = run(
        "users",
        "passphrase",
        *vault,
        "--passphrase-file",
        str(secret),
        "--new-passphrase-file",
        str(secret),
    )
    assert wrong.returncode == cli.EXIT_AUTH


def test_a_saved_mapping_can_be_deleted_and_a_missing_one_is_named(tmp_path):
    home = {"SIM_DESK_HOME": str(tmp_path / "home")}
    doc = tmp_path / "cad.json"
    header = tmp_path / "cad.csv"
    header.write_text("NHS No,Police ref,Date/Time,Type,Source\n")
    suggested = run("mapping", "suggest", "Met CAD", str(header), env=home)
    assert suggested.returncode == 0, suggested.stderr
    doc.write_text(suggested.stdout)
    assert run("mapping", "save", str(doc), env=home).returncode == 0
    assert run("mapping", "list", env=home).stdout.split() == ["met-cad"]
    assert run("mapping", "delete", "Met CAD", env=home).returncode == 0
    assert run("mapping", "list", env=home).stdout.split() == []
    missing = run("mapping", "delete", "met-cad", env=home)
    assert missing.returncode == cli.EXIT_DATA and "No saved mapping" in missing.stderr


def test_import_referrals_from_the_command_line_all_or_nothing(cli_vault, tmp_path):
    paths, secret = cli_vault
    auth = ("--vault", str(paths.database), "--user", "lead", "--passphrase-file", str(secret))
    people_header = run("import", "people", "--template").stdout.strip()
    people_csv = tmp_path / "people.csv"
    cells = {c: "" for c in people_header.split(",")}
    cells.update(
        given_name="Ana", family_name="Silva", nhs_number=CANARY_NHS, referred_on="2025-03-01"
    )
    people_csv.write_text(people_header + "\n" + ",".join(cells.values()) + "\n", encoding="utf-8")
    assert run("import", "people", str(people_csv), *auth).returncode == 0

    header = run("import", "referrals", "--template").stdout.strip()
    columns = header.split(",")
    assert {"referred_on", "to_whom", "service_type", "status"} <= set(columns)

    def line(**values: str) -> str:
        return ",".join(values.get(c, "") for c in columns)

    good = {"nhs_number": CANARY_NHS, "referred_on": "2025-06-01", "to_whom": "North CMHT"}
    good |= {"service_type": "A06", "reason": "Care coordination"}
    csv_file = tmp_path / "referrals.csv"
    csv_file.write_text(
        "\n".join([header, line(**good), line(**good | {"service_type": "nope"})]) + "\n",
        encoding="utf-8",
    )
    refused = run("import", "referrals", str(csv_file), *auth)
    assert refused.returncode == cli.EXIT_DATA
    assert "line 3:" in refused.stderr and "Nothing imported" in refused.stderr
    csv_file.write_text("\n".join([header, line(**good)]) + "\n", encoding="utf-8")
    done = run("import", "referrals", str(csv_file), *auth)
    assert done.returncode == 0, done.stderr
    assert "Added 1 of 1 row(s)" in done.stdout


def test_a_missing_secret_is_named_with_the_option_that_gives_it(cli_vault):
    paths, _ = cli_vault
    env = {"SIM_DESK_PASSPHRASE": ""}
    asked = run("rekey", "--vault", str(paths.database), env=env)
    assert asked.returncode == cli.EXIT_USAGE
    assert "No recovery key given. Use --recovery-key-file FILE, or run" in asked.stderr
    asked = run("summary", "--vault", str(paths.database), "--user", "lead", env=env)
    assert "No passphrase given. Use --passphrase-file FILE or set SIM_DESK_PASSPHRASE" in (
        asked.stderr
    )


def test_output_into_a_closed_pipe_ends_quietly(monkeypatch, capfd):
    """`sim-desk sync | head -1`: the work was done before printing; a closed pipe is no bug."""
    from sim_desk.cli import sync as sync_command

    def closed_pipe(_args):
        raise BrokenPipeError

    monkeypatch.setattr(sync_command, "cmd_sync", closed_pipe)
    assert cli.main(["sync", "--status", "--user", "lead"]) == cli.EXIT_OK
    assert capfd.readouterr().err == ""
