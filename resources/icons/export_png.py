"""Writes sim-desk.png (256 px) from sim-desk.svg, with Qt's own SVG renderer. Run by hand after
changing the SVG: ``QT_QPA_PLATFORM=offscreen .venv/bin/python resources/icons/export_png.py``.

The PNG is for places that cannot take an SVG: the freedesktop hicolor 256x256 folder, and
PyInstaller's conversion to .ico (Windows) and .icns (macOS).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

HERE = Path(__file__).resolve().parent


def main(size: int = 256) -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(HERE / "sim-desk.svg"))
    if not renderer.isValid():
        print("sim-desk.svg is not a valid SVG", file=sys.stderr)
        return 1
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    ok = image.save(str(HERE / "sim-desk.png"), "PNG")
    del app
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
