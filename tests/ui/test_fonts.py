"""Names in any script show in the app, not as boxes: the bundled script fonts are Qt's too."""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase

from sim_desk.ui.app import resources_dir
from sim_desk.ui.fonts import register_bundled_fonts


def test_the_bundled_script_fonts_are_registered_with_qt(qapp):
    qapp.processEvents()  # make_application registers them once the event loop runs
    families = set(QFontDatabase.families())
    for family in ("Noto Sans Tamil", "Noto Sans Gurmukhi", "Noto Sans Bengali"):
        assert family in families, family
    assert register_bundled_fonts(resources_dir() / "fonts") == 14
    assert register_bundled_fonts(resources_dir() / "no such folder") == 0
