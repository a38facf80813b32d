"""Checks that hold in every window of the app, walked as a user opens them (tests/ui/walk.py):
unique mnemonics, a name and a label for every control, Enter that never cancels, and every
button on a small laptop's screen (1366x768 and 1280x720, at 100% and 125%)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QDialog,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTabBar,
    QTextEdit,
    QWidget,
)

from tests.ui.walk import walk

ROOT = Path(__file__).resolve().parents[2]
_MNEMONIC = re.compile(r"&([^&\s])")


def _visible(window: QWidget, widget: QWidget) -> bool:
    return widget.window() is window and widget.isVisibleTo(window)


def mnemonics(window: QWidget) -> dict[str, list[str]]:
    """Each Alt+letter in use in ``window`` (as shown now), with the texts that carry it."""
    found: dict[str, list[str]] = {}

    def note(text: str) -> None:
        match = _MNEMONIC.search(text.replace("&&", ""))
        if match:
            found.setdefault(match.group(1).lower(), []).append(text)

    for widget in window.findChildren(QWidget):
        if not _visible(window, widget):
            continue
        labelled = isinstance(widget, QLabel) and widget.buddy() is not None
        if labelled or isinstance(widget, QAbstractButton):
            note(widget.text())
        elif isinstance(widget, QGroupBox) and widget.isCheckable():
            note(widget.title())
        elif isinstance(widget, QTabBar):
            for index in range(widget.count()):
                note(widget.tabText(index))
    return found


def literal_ampersands(window: QWidget) -> list[str]:
    """Labels showing "&Name" literally: a mnemonic with no field to go to."""
    return [
        w.text()
        for w in window.findChildren(QLabel)
        if _visible(window, w)
        and w.textFormat() != Qt.TextFormat.RichText
        and _MNEMONIC.search(w.text().replace("&&", ""))
        and w.buddy() is None
    ]


#: Controls a person types into or chooses from: each needs a label that names it.
INPUTS = (QLineEdit, QPlainTextEdit, QTextEdit, QComboBox, QAbstractSpinBox)


def _inside_another_control(widget: QWidget) -> bool:
    parent = widget.parentWidget()
    return isinstance(parent, QComboBox | QAbstractSpinBox)


def accessible_name(widget: QWidget) -> str:
    face = QAccessible.queryAccessibleInterface(widget)
    own = face.text(QAccessible.Text.Name) if face is not None else ""
    return widget.accessibleName() or own or ""


def controls(window: QWidget) -> list[QWidget]:
    """Every visible control a person can reach in ``window``."""
    found = []
    for widget in window.findChildren(QWidget):
        if not _visible(window, widget) or _inside_another_control(widget):
            continue
        if not isinstance(widget, (*INPUTS, QAbstractButton, QAbstractItemView, QTabBar)):
            continue
        if widget.focusPolicy() == Qt.FocusPolicy.NoFocus or widget.objectName().startswith("qt_"):
            continue
        found.append(widget)
    return found


def unnamed_or_unlabelled(window: QWidget) -> list[str]:
    """Every visible control without an accessible name, and every input without a label."""
    buddies = {
        id(label.buddy()) for label in window.findChildren(QLabel) if label.buddy() is not None
    }
    problems = []
    for widget in controls(window):
        kind = type(widget).__name__
        if not accessible_name(widget).strip():
            problems.append(f"{kind} with no accessible name ({widget.objectName()!r})")
        read_only = getattr(widget, "isReadOnly", lambda: False)()
        if isinstance(widget, INPUTS) and not read_only and id(widget) not in buddies:
            proxy_of = [
                w
                for w in window.findChildren(QWidget)
                if w.focusProxy() is widget and id(w) in buddies
            ]
            if not proxy_of:
                problems.append(f"{kind} {accessible_name(widget)!r} has no label (buddy)")
    return problems


@pytest.fixture(scope="module")
def every_window(tmp_path_factory, _team_template):
    """Walks the app once for the checks below: (name, mnemonics, literal &, unnamed, the
    default button's name and every other button still taking Enter)."""
    import shutil

    from sim_desk.records.appdirs import AppDirs
    from sim_desk.records.vault.files import VaultPaths
    from sim_desk.ui.app import make_application

    make_application()
    source = _team_template[0]
    folder = tmp_path_factory.mktemp("walk")
    shutil.copytree(source, folder / "vault")
    paths = VaultPaths.at(folder / "vault" / "team.simvault")
    dirs = AppDirs(folder / "data", folder / "state", folder / "config")
    seen = []
    for name, window in walk(paths, dirs, folder / "scratch"):
        takes_enter = [
            p.text()
            for p in window.findChildren(QPushButton)
            if _visible(window, p) and (p.autoDefault() or p.isDefault())
        ]
        seen.append(
            (
                name,
                mnemonics(window),
                literal_ampersands(window),
                unnamed_or_unlabelled(window),
                isinstance(window, QDialog),
                takes_enter,
                any(
                    _visible(window, w) and not w.isReadOnly()
                    for w in [*window.findChildren(QLineEdit), *window.findChildren(QPlainTextEdit)]
                ),
                len(controls(window)),
            )
        )
    return seen


@pytest.fixture(scope="module", autouse=True)
def _home(tmp_path_factory):
    os.environ["SIM_DESK_HOME"] = str(tmp_path_factory.mktemp("home"))


def test_the_walk_reaches_every_window(every_window):
    names = [name for name, *_ in every_window]
    assert len(names) >= 50, names
    named = sum(count for *_, count in every_window)
    print(f"{len(names)} windows; {named} controls, each with an accessible name")
    assert named >= 350  # 395 when last counted (55 windows and states)
    for expected in ("Unlock", "First run: recovery key", "Correct incident", "Drafts"):
        assert expected in names


def test_every_window_has_unique_mnemonics(every_window):
    clashes = [
        f"{name}: Alt+{letter.upper()} on {texts}"
        for name, found, *_ in every_window
        for letter, texts in found.items()
        if len(texts) > 1
    ]
    assert clashes == [], "\n".join(clashes)


def test_no_window_shows_an_ampersand_instead_of_a_mnemonic(every_window):
    assert [(name, texts) for name, _, texts, *_ in every_window if texts] == []


def test_every_control_has_an_accessible_name_and_every_field_a_label(every_window):
    missing = [
        f"{name}: {problem}" for name, _, _, problems, *_ in every_window for problem in problems
    ]
    assert missing == [], "\n".join(missing)


def test_in_every_dialog_enter_presses_only_the_default_button(every_window):
    """Enter never presses Cancel (or any button that once had the focus): in each dialog at
    most one button takes it, and never a way out of a window with fields to fill."""
    wrong = [
        (name, takes)
        for name, _, _, _, is_dialog, takes, has_fields, _count in every_window
        if is_dialog
        and (
            len(takes) > 1
            or (has_fields and any(t.replace("&", "") in ("Cancel", "Quit") for t in takes))
        )
    ]
    assert wrong == [], "\n".join(map(str, wrong))


SCREENS = [
    ("1366x768 at 100%", 1366, 768, None),
    ("1366x768 at 125%", 1366, 768, "1.25"),
    ("1280x720 at 100%", 1280, 720, None),
    ("1280x720 at 125%", 1280, 720, "1.25"),
]


@pytest.mark.parametrize(
    ("label", "width", "height", "scale"), SCREENS, ids=[s[0] for s in SCREENS]
)
def test_every_window_fits_a_small_laptop_screen(tmp_path, team, label, width, height, scale):
    """Opens every window on an offscreen screen of that size (in its own process: the screen
    is fixed when Qt starts) and checks each window and each of its buttons is on the screen,
    leaving room for a task bar and a title bar."""
    config = tmp_path / "screen.json"
    config.write_text(
        json.dumps(
            {"screens": [{"name": "laptop", "x": 0, "y": 0, "width": width, "height": height,
                          "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}
        )
    )  # fmt: skip
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}"}
    env.pop("QT_SCALE_FACTOR", None)
    if scale:
        env["QT_SCALE_FACTOR"] = scale
    out = tmp_path / "fit.json"
    result = subprocess.run(
        [sys.executable, "-m", "tests.ui.walk", str(team.paths.database.parent), str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["windows"] >= 50
    assert report["problems"] == [], label
