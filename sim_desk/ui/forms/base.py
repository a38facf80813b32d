"""What every form shares: rows with labels and error slots, Save/Cancel, and the save rule.

The save rule: the form gathers what was typed, calls one use case, and on a ValidationError
shows the message beside the field it names (or in a message box when it names none). Nothing the
user typed is ever cleared by a failed save; the dialog closes only when the use case succeeded.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.codes import CodeList
from sim_desk.records.errors import SimDeskError, ValidationError
from sim_desk.ui import widgets
from sim_desk.ui.messages import show_error
from sim_desk.ui.session import UiSession


class FormErrors:
    """Field error slots across several form layouts (one :class:`widgets.FieldErrors` each).

    ``show`` is for a failed save (it moves focus to the field); ``note`` is for checks made as
    the user types (it leaves focus where it is).
    """

    def __init__(self) -> None:
        self.parts: list[widgets.FieldErrors] = []

    def add(self, form: QFormLayout, fields: dict[str, QWidget]) -> None:
        if fields:
            self.parts.append(widgets.FieldErrors(form, fields))

    def clear(self) -> None:
        for part in self.parts:
            part.clear()

    def show(self, field: str | None, message: str) -> bool:
        return any(part.show(field, message) for part in self.parts)

    def note(self, field: str, message: str | None) -> None:
        """Shows (or with None, hides) a message by a field without moving the focus."""
        for part in self.parts:
            if field in part.labels:
                label = part.labels[field]
                label.setText(message or "")
                label.setVisible(bool(message))
                widgets.FieldErrors._mark(part.fields[field], bool(message))

    def message(self, field: str) -> str | None:
        for part in self.parts:
            if field in part.labels and part.labels[field].isVisible():
                return part.labels[field].text()
        return None

    def shown(self) -> dict[str, str]:
        """Every message on show, by field (for tests and for screen readers' summaries)."""
        return {
            name: label.text()
            for part in self.parts
            for name, label in part.labels.items()
            if not label.isHidden()
        }


class FormDialog(QDialog):
    """A dialog of form rows. Subclasses add rows, call :meth:`finish`, and implement
    :meth:`submit` (call the use case; raise what it raises)."""

    def __init__(
        self,
        session: UiSession,
        *,
        title: str,
        parent: QWidget | None = None,
        save_text: str = "Save",
        scroll: bool = False,
    ) -> None:
        super().__init__(parent)
        self.session = session
        # Titles name the task, never the person: they show in task bars and screen shares.
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.setObjectName("formDialog")
        self.errors = FormErrors()
        self._forms: list[tuple[QFormLayout, dict[str, QWidget]]] = []

        outer = QVBoxLayout(self)
        heading = widgets.heading(title, level=2)
        outer.addWidget(heading)
        self.body_widget = QWidget()
        self.body = QVBoxLayout(self.body_widget)
        self.body.setContentsMargins(0, 0, 0, 0)
        if scroll:
            area = QScrollArea()
            area.setWidgetResizable(True)
            area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            area.setWidget(self.body_widget)
            area.setAccessibleName(f"{title} fields")
            outer.addWidget(area, 1)
        else:
            outer.addWidget(self.body_widget, 1)

        self._outer = outer
        self._save_text = save_text
        self.save_button: QPushButton
        self.cancel_button: QPushButton

    # -- building ---------------------------------------------------------------------------
    def add_form(self, title: str | None = None) -> QFormLayout:
        """A new block of rows, in a titled group box when ``title`` is given."""
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        if title:
            box = QGroupBox(title)
            box.setAccessibleName(title)
            box.setLayout(form)
            self.body.addWidget(box)
        else:
            holder = QWidget()
            holder.setLayout(form)
            self.body.addWidget(holder)
        self._forms.append((form, {}))
        return form

    def add_row(
        self, form: QFormLayout, label: str, widget: QWidget, *, field: str | None = None
    ) -> QWidget:
        """Adds a labelled row; ``label`` carries an & mnemonic and becomes the buddy label.

        ``field`` is the use case's name for it, so a ValidationError can be shown beside it.
        """
        if not widget.accessibleName():
            widget.setAccessibleName(label.replace("&", ""))
        form.addRow(label, widget)
        for f, fields in self._forms:
            if f is form and field:
                fields[field] = widget
        return widget

    def finish(self) -> None:
        """Creates the error slots and the buttons; call once every row is in."""
        for form, fields in self._forms:
            self.errors.add(form, fields)
        # Made last so that, in the focus chain (creation order), they follow the fields.
        self.save_button = QPushButton(self._save_text)
        self.save_button.setObjectName("primary")
        self.save_button.setAccessibleName(self._save_text)
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel")
        self.cancel_button.clicked.connect(self.reject)
        # Enter saves from anywhere in the form; other buttons act only when pressed.
        for push in self.findChildren(QPushButton):
            push.setAutoDefault(False)
        self.buttons = QDialogButtonBox()
        self.buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        self._outer.addWidget(self.buttons)

    def set_row_visible(self, form: QFormLayout, widget: QWidget, visible: bool) -> None:
        form.setRowVisible(widget, visible)

    # -- saving -----------------------------------------------------------------------------
    def save(self) -> None:
        self.errors.clear()
        try:
            self.submit()
        except ValidationError as error:
            if not self.errors.show(error.field, str(error)):
                show_error(self, error)
            return
        except SimDeskError as error:
            show_error(self, error)
            return
        self.accept()

    def submit(self) -> None:  # pragma: no cover - every form overrides it
        raise NotImplementedError

    def check(self, field: str, test) -> bool:  # type: ignore[no-untyped-def]
        """Runs ``test()`` (a records-layer check) as the user types; shows or clears its
        message by ``field``. Returns whether it passed."""
        try:
            test()
        except ValidationError as error:
            self.errors.note(field, str(error))
            return False
        self.errors.note(field, None)
        return True


# -- field helpers ----------------------------------------------------------------------------


def code_combo(
    codes: type[CodeList] | Iterable[CodeList],
    *,
    accessible_name: str,
    current: str | None = None,
    blank: str | None = None,
) -> QComboBox:
    """A combo box showing labels and holding codes; ``blank`` adds a first "not known" item
    whose code is None."""
    combo = QComboBox()
    combo.setAccessibleName(accessible_name)
    if blank is not None:
        combo.addItem(blank, None)
    for member in codes:
        combo.addItem(member.label, member.value)
    set_combo(combo, current)
    return combo


def set_combo(combo: QComboBox, value: object) -> None:
    index = combo.findData(value)
    if index >= 0:
        combo.setCurrentIndex(index)


class OptionalDate(QWidget):
    """A date that may be left unrecorded: a tick box ("Known") and a UK date edit."""

    changed = Signal()

    def __init__(
        self, value: date | None, *, accessible_name: str, known_text: str = "Known"
    ) -> None:
        super().__init__()
        self.setAccessibleName(accessible_name)
        self.known = QCheckBox(known_text)
        self.known.setAccessibleName(f"{accessible_name}: {known_text.lower()}")
        self.edit = widgets.date_edit(value, accessible_name=accessible_name)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.known)
        row.addWidget(self.edit, 1)
        self.known.setChecked(value is not None)
        self.edit.setEnabled(value is not None)
        self.known.toggled.connect(self.edit.setEnabled)
        self.known.toggled.connect(lambda _on: self.changed.emit())
        self.edit.dateChanged.connect(lambda _d: self.changed.emit())
        self.setFocusProxy(self.known)

    def value(self) -> date | None:
        return widgets.from_qdate(self.edit.date()) if self.known.isChecked() else None

    def set_value(self, value: date | None) -> None:
        if value is not None:
            self.edit.setDate(widgets.to_qdate(value))
        self.known.setChecked(value is not None)


class OptionalDateTime(QWidget):
    """A date and time that may be left unrecorded (tick box and UK date-time edit)."""

    changed = Signal()

    def __init__(
        self,
        value: datetime | None,
        *,
        default: datetime,
        accessible_name: str,
        known_text: str = "Known",
    ) -> None:
        super().__init__()
        self.setAccessibleName(accessible_name)
        self.known = QCheckBox(known_text)
        self.known.setAccessibleName(f"{accessible_name}: {known_text.lower()}")
        self.edit = widgets.datetime_edit(value or default, accessible_name=accessible_name)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.known)
        row.addWidget(self.edit, 1)
        self.known.setChecked(value is not None)
        self.edit.setEnabled(value is not None)
        self.known.toggled.connect(self.edit.setEnabled)
        self.known.toggled.connect(lambda _on: self.changed.emit())
        self.edit.dateTimeChanged.connect(lambda _d: self.changed.emit())
        self.setFocusProxy(self.known)

    def value(self) -> datetime | None:
        return widgets.from_qdatetime(self.edit.dateTime()) if self.known.isChecked() else None


def protected_note_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("protectedNote")
    label.setWordWrap(True)
    label.setAccessibleName("Clinician-only note")
    label.setAccessibleDescription(text)
    return label


OFFICER_NOTE_TEXT = (
    "Clinician-only note — encrypted; readable by clinicians and clinical leads only"
)


def text_or_none(text: str) -> str | None:
    return text if text.strip() else None
