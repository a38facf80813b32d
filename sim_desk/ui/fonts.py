"""The bundled script fonts, made available to Qt as well as to the PDFs.

A name in Tamil, Gurmukhi or Bengali printed as a row of boxes on a laptop without those system
fonts; the PDFs already embed the bundled Noto fonts (resources/fonts), so the app registers the
same files, and Qt falls back to them for any script the system fonts lack.
"""

from __future__ import annotations

from pathlib import Path


def register_bundled_fonts(folder: Path) -> int:
    """Adds each bundled Noto script font in ``folder`` to Qt's font database; returns how many
    were added.

    About 12 ms, so the app runs it once the unlock dialog is on screen (names appear only after
    unlock). A font that Qt cannot read is skipped: the system's fonts still stand.
    """
    from PySide6.QtGui import QFontDatabase

    added = 0
    for path in sorted(folder.glob("Noto*.ttf")):
        if QFontDatabase.addApplicationFont(str(path)) >= 0:
            added += 1
    return added
