"""No window larger than a small laptop's screen (1366x768 or 1280x720, at 100% or 125%), and
Enter that only ever presses a dialog's default button.

Qt only: the app installs this before anything else loads (see ``ui.app.make_application``).
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QEvent, QObject, QRect, QSize
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QInputDialog,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QWidget,
    QWizard,
)

#: A window's title bar and frame, which Qt's available geometry leaves to the window manager.
TITLE_BAR = 32
FRAME = 8
#: A task bar's height, kept free when the screen does not say where its panels are.
TASK_BAR = 48


def usable_area(screen: QScreen) -> QRect:
    """Where windows may go: the available area, less a task bar when the system reports none
    (some window managers, and virtual screens, say the whole screen is available)."""
    area = screen.availableGeometry()
    if area == screen.geometry():
        area = area.adjusted(0, 0, 0, -TASK_BAR)
    return area


def fit_to_screen(window: QWidget, preferred: QSize | None = None) -> None:
    """Sizes ``window`` to ``preferred`` (or its size) but never beyond the screen's usable
    area (a 1366x768 or 1280x720 laptop at 100% or 125%), title bar included, and places it on
    that screen, over its parent window when it has one. What does not fit scrolls."""
    parent = window.parentWidget()
    anchor = parent.window() if parent is not None else None
    screen = (anchor or window).screen() or QGuiApplication.primaryScreen()
    area = usable_area(screen)
    room = QSize(area.width() - 2 * FRAME, area.height() - TITLE_BAR - FRAME)
    minimum = window.minimumSize()
    if minimum.width() > room.width() or minimum.height() > room.height():
        window.setMinimumSize(minimum.boundedTo(room))
    want = preferred if preferred is not None else window.size()
    size = want.boundedTo(room).expandedTo(window.minimumSizeHint().boundedTo(room))
    centre = anchor.geometry().center() if anchor is not None else area.center()
    x = centre.x() - size.width() // 2
    y = centre.y() - size.height() // 2
    # The title bar above the window, and the frame around it, stay on the screen too.
    x = max(area.left() + FRAME, min(x, area.right() - FRAME - size.width() + 1))
    y = max(area.top() + TITLE_BAR, min(y, area.bottom() - FRAME - size.height() + 1))
    # setGeometry places the window's inside; the window manager puts its frame around it.
    window.setGeometry(x, y, size.width(), size.height())


#: Qt's own small dialogs size and place themselves as they are shown.
_SELF_SIZING = (QMessageBox, QFileDialog, QInputDialog, QProgressDialog)


def prepare_window(watched: QObject) -> None:
    """What every dialog, wizard and main window gets the first time it is shown: a size and
    place on its screen, and Enter that presses only the default button (or goes to a wizard's
    next page), never Cancel or whichever button last had the focus."""
    if (
        not isinstance(watched, QDialog | QMainWindow)
        or isinstance(watched, _SELF_SIZING)
        or not watched.isWindow()
        or watched.property("simDeskFitted")
    ):
        return
    watched.setProperty("simDeskFitted", True)
    fit_to_screen(watched)
    if isinstance(watched, QWizard):
        enter_only_next(watched)
    elif isinstance(watched, QDialog) and not watched.property(_ENTER_SET):
        default = next((b for b in watched.findChildren(QPushButton) if b.isDefault()), None)
        enter_only_saves(watched, default)


class _PrepareWhenShown(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show:
            watched.removeEventFilter(self)
            prepare_window(watched)
        return False


def prepare_when_shown(window: QWidget) -> None:
    """Prepares ``window`` (see :func:`prepare_window`) when it is first shown. For the
    windows shown while the app is locked (the wizard, the unlock dialog); once unlocked, the
    session's event filter (which sees every event anyway, to time the idle lock) does it for
    every window, so no second application-wide filter costs each event a Python call."""
    window.installEventFilter(_PrepareWhenShown(window))


#: Set on a dialog that named all its own buttons to :func:`enter_only_saves`: when it is shown,
#: its Enter key is not set again (which would look for its buttons, the cost it avoided).
_ENTER_SET = "simDeskEnterSet"


def enter_only_saves(
    dialog: QWidget, default: QPushButton | None, buttons: Iterable[QPushButton] | None = None
) -> None:
    """Enter presses ``default`` (Save, Unlock) from anywhere in ``dialog``, and no other
    button: a button that once had focus (Cancel, "Use recovery key") never takes Enter over.

    ``buttons``: every push button in ``dialog``, where the caller knows them. Finding them
    (``findChildren``) makes PySide build the Python side of every widget inside, twenty-one
    enum types for a combo box's list alone: 5-8 ms before the unlock dialog could show."""
    for push in dialog.findChildren(QPushButton) if buttons is None else buttons:
        push.setAutoDefault(False)
        if push is not default:
            push.setDefault(False)
    if default is not None:
        default.setDefault(True)
    if buttons is not None:
        dialog.setProperty(_ENTER_SET, True)


def enter_only_next(wizard: QWizard) -> None:
    """In a wizard, Enter goes to the next page (or finishes), never back or out, whichever
    button last had the focus."""
    forward = {
        wizard.button(which)
        for which in (
            QWizard.WizardButton.NextButton,
            QWizard.WizardButton.CommitButton,
            QWizard.WizardButton.FinishButton,
        )
    }
    for push in wizard.findChildren(QPushButton):
        if push not in forward:
            push.setAutoDefault(False)
