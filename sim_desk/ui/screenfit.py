"""No window larger than a small laptop's screen (1366x768 or 1280x720, at 100% or 125%).

Qt only: the app installs this before anything else loads (see ``ui.app.make_application``).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QInputDialog,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QWidget,
)

#: Room kept around a window fitted to the screen: its frame and title bar, which Qt's
#: available geometry leaves out, and a little air.
FRAME_ROOM = QSize(16, 56)


def fit_to_screen(window: QWidget, preferred: QSize | None = None) -> None:
    """Sizes ``window`` to ``preferred`` (or its size) but never beyond the screen's available
    area (a 1366x768 or 1280x720 laptop at 100% or 125%), and places it on that screen, over
    its parent window when it has one. Content that does not fit scrolls (forms, pages)."""
    parent = window.parentWidget()
    anchor = parent.window() if parent is not None else None
    screen = (anchor or window).screen() or QGuiApplication.primaryScreen()
    area = screen.availableGeometry()
    room = QSize(area.width() - FRAME_ROOM.width(), area.height() - FRAME_ROOM.height())
    minimum = window.minimumSize()
    if minimum.width() > room.width() or minimum.height() > room.height():
        window.setMinimumSize(minimum.boundedTo(room))
    want = preferred if preferred is not None else window.size()
    size = want.boundedTo(room).expandedTo(window.minimumSizeHint().boundedTo(room))
    window.resize(size)
    centre = anchor.frameGeometry().center() if anchor is not None else area.center()
    frame = window.frameGeometry()
    title = window.geometry().top() - frame.top()
    x = centre.x() - frame.width() // 2
    y = centre.y() - frame.height() // 2
    x = max(area.left(), min(x, area.right() - frame.width() + 1))
    y = max(area.top(), min(y, area.bottom() - frame.height() + 1))
    window.move(x, y + title if window.isWindow() and title > 0 else y)


class _ScreenFitter(QObject):
    """Fits each window to the screen the first time it is shown (see :func:`fit_to_screen`)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.Show
            and isinstance(watched, QDialog | QMainWindow)
            and not isinstance(watched, _SELF_SIZING)
            and watched.isWindow()
            and not watched.property("simDeskFitted")
        ):
            watched.setProperty("simDeskFitted", True)
            fit_to_screen(watched)
        return False


#: Qt's own small dialogs size and place themselves as they are shown.
_SELF_SIZING = (QMessageBox, QFileDialog, QInputDialog, QProgressDialog)


def install_screen_fitting(app: QObject) -> None:
    """Every dialog, wizard and main window of ``app`` is fitted to its screen when first shown,
    so a small laptop screen never hides a window's buttons."""
    if app.property("simDeskScreenFitter"):
        return
    fitter = _ScreenFitter(app)
    app.installEventFilter(fitter)
    app.setProperty("simDeskScreenFitter", True)


def enter_only_saves(dialog: QWidget, default: QPushButton | None) -> None:
    """Enter presses ``default`` (Save, Unlock) from anywhere in ``dialog``, and no other
    button: a button that once had focus (Cancel, "Use recovery key") never takes Enter over."""
    for push in dialog.findChildren(QPushButton):
        push.setAutoDefault(False)
        if push is not default:
            push.setDefault(False)
    if default is not None:
        default.setDefault(True)
