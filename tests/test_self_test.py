"""`sim-desk self-test`, the check an IT team runs after installing, run here from source.

`make installer-smoke` runs the same check inside the frozen bundle.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from sim_desk.self_test import run_self_test


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
