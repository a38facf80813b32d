"""installer.spec, read without running PyInstaller: what the frozen app needs is in its lists.

The lists in installer.spec and in pyinstaller-hooks/ are plain literals, read here with ``ast``.
The build itself is checked by `make installer-smoke`, which runs the frozen `self-test`.
"""

from __future__ import annotations

import ast
import configparser
import contextlib
import re
import struct
from pathlib import Path
from typing import Any

import pytest

from sim_desk.records.vault import store

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "installer.spec"
QT_HOOK = ROOT / "pyinstaller-hooks" / "hook-PySide6.QtGui.py"


def literals(path: Path) -> dict[str, Any]:
    """Every top-level ``NAME = <literal>`` in a Python file."""
    found: dict[str, Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                with contextlib.suppress(ValueError):  # not a literal: computed by the spec
                    found[target.id] = ast.literal_eval(node.value)
    return found


SPEC_LISTS = literals(SPEC)
DATAS: list[tuple[str, str]] = SPEC_LISTS["DATAS"]
EXCLUDES: list[str] = SPEC_LISTS["EXCLUDES"]


def bundled_as(path: Path) -> str | None:
    """The folder inside the bundle that ``path`` (in the repository) is copied to, if any."""
    for pattern, folder in DATAS:
        if path in set(ROOT.glob(pattern)):
            return folder
    return None


def imported_modules() -> set[str]:
    names: set[str] = set()
    for source in (ROOT / "sim_desk").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize(("pattern", "folder"), DATAS)
def test_every_file_the_spec_bundles_exists(pattern: str, folder: str) -> None:
    assert sorted(ROOT.glob(pattern)), f"{pattern} matches nothing"


def test_alembic_migrations_ship_as_files_where_the_store_looks_for_them() -> None:
    migrations = store.MIGRATIONS
    scripts = [migrations / "env.py", migrations / "script.py.mako"]
    scripts += sorted((migrations / "versions").glob("*.py"))
    assert len(scripts) > 3
    for script in scripts:
        expected = script.parent.relative_to(ROOT).as_posix()
        assert bundled_as(script) == expected, f"{script.relative_to(ROOT)} is not bundled"


def test_style_sheet_icons_desktop_file_and_every_report_font_are_bundled() -> None:
    resources = ROOT / "resources"
    for name in ("style.qss", "sim-desk.desktop", "icons/sim-desk.svg", "icons/sim-desk.png"):
        path = resources / name
        assert bundled_as(path) == path.parent.relative_to(ROOT).as_posix(), name
    fonts = set()
    for source in (ROOT / "sim_desk" / "reports").glob("*.py"):
        fonts.update(re.findall(r"[\"']([\w-]+\.ttf)[\"']", source.read_text(encoding="utf-8")))
    assert "DejaVuSans.ttf" in fonts and "NotoSansArabic-Regular.ttf" in fonts
    for font in sorted(fonts):
        assert bundled_as(resources / "fonts" / font) == "resources/fonts", font
    # The fonts' licences travel with them (OFL 1.1 and the DejaVu licence ask for it).
    assert bundled_as(resources / "fonts" / "Noto-LICENSE.txt") == "resources/fonts"
    assert bundled_as(resources / "fonts" / "DejaVu-LICENSE.txt") == "resources/fonts"


def test_nothing_the_app_imports_is_excluded_from_the_bundle() -> None:
    imported = imported_modules()
    clashes = sorted(
        f"{name} (excluded as {ex})"
        for name in imported
        for ex in EXCLUDES
        if name == ex or name.startswith(ex + ".")
    )
    assert clashes == []


def test_large_qt_modules_the_app_does_not_use_are_excluded() -> None:
    for heavy in ("QtWebEngineCore", "Qt3DCore", "QtMultimedia", "QtQml", "QtQuick", "QtNetwork"):
        assert f"PySide6.{heavy}" in EXCLUDES


def test_hidden_imports_exist() -> None:
    import importlib.util

    import psycopg  # noqa: F401 - psycopg_binary refuses to load first, as in the app itself

    for name in SPEC_LISTS["HIDDEN_IMPORTS"]:
        assert importlib.util.find_spec(name) is not None, name


def test_qt_plugins_kept_are_the_ones_the_app_needs() -> None:
    plugins: dict[str, list[str]] = literals(QT_HOOK)["QT_PLUGINS"]
    for platform in ("xcb", "wayland", "offscreen"):
        assert platform in plugins["platforms"]
    assert plugins["imageformats"] == ["svg"] and plugins["iconengines"] == ["svg"]
    assert "ibus" in plugins["platforminputcontexts"]
    for never in ("qmltooling", "designer", "sqldrivers", "networkinformation", "tls"):
        assert never not in plugins
    assert "gtk3" not in "".join(plugins["platformthemes"])


def test_desktop_file_launches_sim_desk_with_its_icon() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    entry.read(ROOT / "resources" / "sim-desk.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert desktop["Exec"].split()[0] == "sim-desk"
    assert desktop["Icon"] == "sim-desk"
    assert desktop["StartupWMClass"] == "sim-desk"


def test_png_icon_is_256_pixels_square() -> None:
    data = (ROOT / "resources" / "icons" / "sim-desk.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (256, 256)


# -- the team server's client (issue 21) ----------------------------------------------------------


def test_the_team_server_client_psycopg_and_its_binary_libpq_are_bundled() -> None:
    import importlib.util

    hidden = SPEC_LISTS["HIDDEN_IMPORTS"]
    # psycopg picks its libpq wrapper at run time: the compiled one must be named.
    for name in ("psycopg_binary", "psycopg_binary.pq", "psycopg_binary._psycopg"):
        assert name in hidden, name
    binary = importlib.util.find_spec("psycopg_binary")
    assert binary is not None and binary.origin is not None
    libs = Path(binary.origin).parent.parent / "psycopg_binary.libs"
    assert any(p.name.startswith("libpq") for p in libs.iterdir()), "no libpq in the wheel"
    for excluded in EXCLUDES:
        assert not "psycopg".startswith(excluded) and not excluded.startswith("psycopg")
    assert {"psycopg", "psycopg-binary"} <= set(SPEC_LISTS["METADATA"])
    # And the project asks for the binary build, so the build venv has it.
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'"psycopg\[binary\]', pyproject)


def test_the_team_server_schema_ships_where_server_init_looks_for_it() -> None:
    from sim_desk.teamserver import schema

    migrations = schema.MIGRATIONS
    scripts = [migrations / "env.py", migrations / "script.py.mako"]
    scripts += sorted((migrations / "versions").glob("*.py"))
    scripts += sorted((migrations / "versions").glob("*.sql"))
    assert len([s for s in scripts if s.suffix == ".sql"]) >= 6
    for script in scripts:
        expected = script.parent.relative_to(ROOT).as_posix()
        assert bundled_as(script) == expected, f"{script.relative_to(ROOT)} is not bundled"
    hidden = SPEC_LISTS["HIDDEN_IMPORTS"]
    assert "sqlalchemy.dialects.postgresql.psycopg" in hidden
