"""What every form shares: rows with labels and error slots, Save/Cancel, and the save rule.

The save rule: the form gathers what was typed, calls one use case, and on a ValidationError
shows the message beside the field it names (or in a message box when it names none). Nothing the
user typed is ever cleared by a failed save; the dialog closes only when the use case succeeded.
Closing without saving keeps a draft (see :class:`FormDialog`).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.codes import CodeList
from sim_desk.records.datetext import DateTextError
from sim_desk.records.errors import SimDeskError, ValidationError
from sim_desk.ui import widgets
from sim_desk.ui.datefield import DateField
from sim_desk.ui.messages import REFUSED, attempt, quietly, show_error
from sim_desk.ui.session import UiSession

if TYPE_CHECKING:
    from sim_desk.records.drafts import DraftView


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
    :meth:`submit` (call the use case; raise what it raises).

    Nothing typed is lost: Enter saves (it never presses Cancel); Escape, the window's close
    button and the app locking itself keep a changed form as a draft for its user
    (:mod:`sim_desk.records.drafts`), offered back when the same form is opened again and after
    unlocking; Cancel on a changed form asks first. A form that keeps drafts names its
    ``draft_kind`` and says in :meth:`draft_context` how to open it again, and
    :meth:`reopen` builds it from that.
    """

    #: The kinds of draft this form class keeps (one per way of opening it, such as adding
    #: and editing); each form sets ``self.draft_kind`` to the one it is.
    draft_kinds: ClassVar[tuple[str, ...]] = ()
    #: Every form class that keeps drafts, by kind (see :meth:`reopen`).
    kinds: ClassVar[dict[str, type[FormDialog]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for kind in cls.draft_kinds:
            FormDialog.kinds[kind] = cls

    def __init__(
        self,
        session: UiSession,
        *,
        title: str,
        parent: QWidget | None = None,
        save_text: str = "Save",
    ) -> None:
        super().__init__(parent)
        self.session = session
        # Titles name the task, never the person: they show in task bars and screen shares.
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.setObjectName("formDialog")
        self.title = title
        self.errors = FormErrors()
        self._forms: list[tuple[QFormLayout, dict[str, QWidget]]] = []
        #: Every row's widget in order, by key (a use-case field name, or the row's label).
        self.fields: dict[str, QWidget] = {}
        self.clinical_fields: set[str] = set()
        #: What kind of draft this form keeps; None keeps none.
        self.draft_kind: str | None = self.draft_kinds[0] if len(self.draft_kinds) == 1 else None
        self.draft_id: uuid.UUID | None = None
        #: A draft to carry on from when the form is first shown (set by whoever opens it).
        self.pending_draft: DraftView | None = None
        self._initial: dict[str, Any] | None = None
        self._shown_once = False
        self._closed = False
        #: The name of the person the form is about, when opened from their workspace: shown
        #: in the list of drafts (which is sealed like the draft).
        self.person_name = ""

        outer = QVBoxLayout(self)
        heading = widgets.heading(title, level=2)
        outer.addWidget(heading)
        self.draft_banner = DraftBanner()
        self.draft_banner.start_afresh.connect(self.start_afresh)
        outer.addWidget(self.draft_banner)
        self.body_widget = QWidget()
        self.body_widget.setObjectName("formBody")
        self.body = QVBoxLayout(self.body_widget)
        self.body.setContentsMargins(0, 0, 8, 0)
        # Always in a scroll area: on a small laptop screen (1280x720 at 125%) the fields
        # scroll and Save and Cancel stay in sight.
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setFrameShape(QFrame.Shape.NoFrame)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        area.setWidget(self.body_widget)
        area.setAccessibleName(f"{title} fields")
        self.scroll_area = area
        outer.addWidget(area, 1)

        self._outer = outer
        self._save_text = save_text
        self.save_button: QPushButton
        self.cancel_button: QPushButton
        session.locking.connect(self._on_locking)

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
        self,
        form: QFormLayout,
        label: str,
        widget: QWidget,
        *,
        field: str | None = None,
        clinical: bool = False,
    ) -> QWidget:
        """Adds a labelled row; ``label`` carries an & mnemonic and its label's buddy is the
        widget (or the widget's focus proxy).

        ``field`` is the use case's name for it, so a ValidationError can be shown beside it.
        ``clinical`` marks clinician-only text: a draft seals it under the clinical key.
        """
        if not widget.accessibleName():
            widget.setAccessibleName(label.replace("&", ""))
        caption = QLabel(label)
        caption.setBuddy(widget.focusProxy() or widget)
        form.addRow(caption, widget)
        key = field or label.replace("&", "")
        self.fields[key] = widget
        if clinical:
            self.clinical_fields.add(key)
        for f, fields in self._forms:
            if f is form and field:
                fields[field] = widget
        return widget

    def finish(self) -> None:
        """Creates the error slots and the buttons; call once every row is in."""
        for form, fields in self._forms:
            self.errors.add(form, fields)
        for key, widget in self.fields.items():
            if isinstance(widget, DateField):
                widget.problem_changed.connect(
                    lambda text, key=key: self.errors.note(key, text or None)
                )
        # Made last so that, in the focus chain (creation order), they follow the fields.
        self.save_button = QPushButton(self._save_text)
        self.save_button.setObjectName("primary")
        self.save_button.setAccessibleName(self._save_text.replace("&", ""))
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.buttons = QDialogButtonBox()
        self.buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        self._outer.addWidget(self.buttons)
        # Enter saves from anywhere in the form; no other button ever takes it over.
        widgets.enter_only_saves(self, self.save_button)

    def set_row_visible(self, form: QFormLayout, widget: QWidget, visible: bool) -> None:
        form.setRowVisible(widget, visible)

    def first_field(self) -> QWidget | None:
        """The first field a person would type in (visible, enabled, takes focus)."""
        for widget in self.fields.values():
            target = widget.focusProxy() or widget
            if (
                target.isVisibleTo(self)
                and target.isEnabled()
                and target.focusPolicy() & Qt.FocusPolicy.TabFocus
            ):
                return target
        return None

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._shown_once:
            return
        self._shown_once = True
        self._carry_on()
        first = self.first_field()
        if first is not None:
            first.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- saving -----------------------------------------------------------------------------
    def unreadable_dates(self) -> tuple[str, str] | None:
        """(field, message) of the first visible date field whose text cannot be read."""
        for key, widget in self.fields.items():
            if isinstance(widget, DateField) and widget.isVisibleTo(self) and widget.isEnabled():
                message = widget.problem()
                if message:
                    return key, message
        return None

    def save(self) -> None:
        if self._closed:
            return
        self.errors.clear()
        unreadable = self.unreadable_dates()
        if unreadable is not None:
            field, message = unreadable
            if not self.errors.show(field, message):
                show_error(self, ValidationError(message, field))
            return
        try:
            self.submit()
        except ValidationError as error:
            if not self.errors.show(error.field, str(error)):
                show_error(self, error)
            return
        except SimDeskError as error:  # not attempt(): a ValidationError goes by its field above
            show_error(self, error)
            return
        self._forget_draft()
        self._closed = True
        self.accept()

    def submit(self) -> None:  # pragma: no cover - every form overrides it
        raise NotImplementedError

    def check(self, field: str, test) -> bool:  # type: ignore[no-untyped-def]
        """Runs ``test()`` (a records-layer check) as the user types; shows or clears its
        message by ``field``. Returns whether it passed.

        A date field whose own text cannot be read keeps its own message (a check of its
        order against another date has nothing to say about it).
        """
        widget = self.fields.get(field)
        if isinstance(widget, DateField) and widget.problem() and not widget.is_blank():
            return False
        try:
            test()
        except ValidationError as error:
            self.errors.note(field, str(error))
            return False
        self.errors.note(field, None)
        return True

    @staticmethod
    def readable(field: DateField) -> Any:
        """The field's value, or None while its text cannot be read (for checks as you type)."""
        try:
            return field.value()
        except DateTextError:
            return None

    # -- closing without saving: drafts -----------------------------------------------------
    def draft_context(self) -> dict[str, Any]:
        """How to open this form again (ids as text), and whose record it is about, for the
        list of drafts. Forms that keep drafts extend it."""
        return {"person": self.person_name} if self.person_name else {}

    @classmethod
    def reopen(
        cls, session: UiSession, context: dict[str, Any], parent: QWidget | None
    ) -> FormDialog:  # pragma: no cover - every form with a draft_kind overrides it
        raise NotImplementedError

    def draft_values(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(values, clinician-only values) of every row, as JSON-able values."""
        values: dict[str, Any] = {}
        clinical: dict[str, Any] = {}
        for key, widget in self.fields.items():
            (clinical if key in self.clinical_fields else values)[key] = read_widget(widget)
        return values, clinical

    def is_changed(self) -> bool:
        if self._initial is None:
            return False
        values, clinical = self.draft_values()
        return {**values, **clinical} != self._initial

    def _take_snapshot(self) -> None:
        if self._initial is None:
            values, clinical = self.draft_values()
            self._initial = {**values, **clinical}

    def restore_draft(self, draft: DraftView) -> None:
        """Fills the form from ``draft`` (it keeps being that draft until saved or dropped)."""
        self._take_snapshot()
        for key, widget in self.fields.items():
            if key in draft.values:
                write_widget(widget, draft.values[key])
            elif key in draft.clinical_values:
                write_widget(widget, draft.clinical_values[key])
        self.draft_id = draft.id
        when = widgets.format_datetime(draft.saved_at)
        note = f"Carried on from your draft of {when}."
        if draft.clinical_withheld:
            note += (
                " It held clinician-only text your sign-in can no longer read, so that part is"
                " left out."
            )
        self.draft_banner.show_note(note)

    def start_afresh(self) -> None:
        """Drops the draft carried on from and empties the form to how it opened."""
        self._forget_draft()
        if self._initial is not None:
            for key, widget in self.fields.items():
                if key in self._initial:
                    write_widget(widget, self._initial[key])
        self.draft_banner.hide()
        first = self.first_field()
        if first is not None:
            first.setFocus()

    def _carry_on(self) -> None:
        """On first showing: take the snapshot, then carry on from a draft of this same form
        (the one handed over, or the newest that matches)."""
        self._take_snapshot()
        if self.pending_draft is not None:
            draft, self.pending_draft = self.pending_draft, None
            self.restore_draft(draft)
            return
        if not self.draft_kind or not self.session.is_unlocked:
            return
        from sim_desk.records import drafts

        # Carrying on from a draft is a kindness: if none can be read, the form starts empty.
        mine = attempt(self, lambda: drafts.list_drafts(self.session.vault).drafts, failure=quietly)
        if mine is REFUSED:
            return
        wanted = _ids(self.draft_context())
        for draft in mine:
            if draft.kind == self.draft_kind and _ids(draft.context) == wanted:
                self.restore_draft(draft)
                return

    def keep_draft(self) -> bool:
        """Keeps what was typed as a draft of this user's; False if it could not be kept."""
        kind = self.draft_kind
        if not kind or not self.session.is_unlocked:
            return False
        from sim_desk.records import drafts

        values, clinical = self.draft_values()
        kept = attempt(
            self,
            lambda: drafts.save_draft(
                self.session.vault,
                kind=kind,
                title=self.title,
                context=self.draft_context(),
                values=values,
                clinical_values=clinical or None,
                draft_id=self.draft_id,
            ),
            failure=quietly,  # False is the answer: each caller decides what to tell the person
        )
        if kept is REFUSED:
            return False
        self.draft_id = kept
        self.session.drafts_changed.emit()
        return True

    def _forget_draft(self) -> None:
        if self.draft_id is None or not self.session.is_unlocked:
            self.draft_id = None
            return
        from sim_desk.records import drafts

        with contextlib.suppress(SimDeskError):  # already gone: nothing to keep
            drafts.discard_draft(self.session.vault, self.draft_id)
        self.draft_id = None
        self.session.drafts_changed.emit()

    def reject(self) -> None:
        """Escape and the close button: a changed form is kept as a draft, then closed."""
        if self._closed:
            return
        if self.is_changed():
            if self.keep_draft():
                self.session.notice.emit(
                    f"“{self.title}” was not saved: it is kept as a draft. Open the same form"
                    " again, or Drafts, to carry on."
                )
            elif not self._ask_to_discard(can_keep=False):
                return
        self._close_unsaved()

    def cancel(self) -> None:
        """The Cancel button: asks before throwing away what was typed."""
        if self._closed:
            return
        if self.is_changed() and not self._ask_to_discard(can_keep=bool(self.draft_kind)):
            return
        self._close_unsaved()

    def _ask_to_discard(self, *, can_keep: bool) -> bool:
        """Asks what to do with what was typed; True when the form may close."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(self.title)
        box.setText("You have typed in this form. Throw away what you typed?")
        keep = None
        if can_keep:
            box.setInformativeText("Or keep it as a draft, to carry on later.")
            keep = box.addButton("&Keep as draft", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("&Throw away", QMessageBox.ButtonRole.DestructiveRole)
        back = box.addButton("&Back to the form", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(back)
        box.setEscapeButton(back)
        box.exec()
        if self._closed:  # the app locked meanwhile (and kept a draft)
            return False
        clicked = box.clickedButton()
        if clicked is discard:
            self._forget_draft()
            return True
        if keep is not None and clicked is keep:
            return self.keep_draft()
        return False

    def _close_unsaved(self) -> None:
        self._closed = True
        super().reject()

    def _on_locking(self) -> None:
        """The app is locking (on demand or idle): keep a changed form, then close it."""
        if self._closed or not self.isVisible():
            return
        if self.is_changed():
            self.keep_draft()
        self._close_unsaved()


def _ids(context: dict[str, Any]) -> dict[str, Any]:
    """The parts of a draft's context that say which record it is about (not names shown)."""
    return {k: v for k, v in context.items() if k.endswith("_id") or k in ("status",)}


class DraftBanner(QFrame):
    """Above a form carried on from a draft: says so, with a way to start afresh."""

    start_afresh = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("draftBanner")
        self.setAccessibleName("Draft")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setAccessibleName("Draft note")
        self.button = QPushButton("Start afresh")
        self.button.setAccessibleName("Start afresh")
        self.button.setAutoDefault(False)
        self.button.clicked.connect(self.start_afresh)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 10, 6)
        row.addWidget(self.text, 1)
        row.addWidget(self.button)
        self.hide()

    def show_note(self, text: str) -> None:
        self.text.setText(text)
        self.show()


# -- reading and writing a row's value, for drafts ------------------------------------------


def read_widget(widget: QWidget) -> Any:
    """A row's value as JSON: text as typed (date fields included), choices, ticks, numbers."""
    own = getattr(widget, "draft_value", None)
    if callable(own):
        return own()
    if isinstance(widget, QLineEdit):
        return widget.text()
    if isinstance(widget, QPlainTextEdit):
        return widget.toPlainText()
    if isinstance(widget, QComboBox):
        data = widget.currentData()
        if data is not None and not isinstance(data, str | int | float | bool):
            data = str(data)
        return {"index": widget.currentIndex(), "data": data}
    if isinstance(widget, QAbstractButton):
        return widget.isChecked()
    if isinstance(widget, QAbstractSpinBox) and hasattr(widget, "value"):
        return widget.value()
    return None


def write_widget(widget: QWidget, value: Any) -> None:
    own = getattr(widget, "set_draft_value", None)
    if callable(own):
        own(value)
    elif isinstance(widget, DateField):
        widget.set_typed(str(value or ""))
    elif isinstance(widget, QLineEdit):
        widget.setText(str(value or ""))
    elif isinstance(widget, QPlainTextEdit):
        widget.setPlainText(str(value or ""))
    elif isinstance(widget, QComboBox) and isinstance(value, dict):
        index = -1
        if value.get("data") is not None:
            index = widget.findData(value["data"])
            if index < 0:  # data held as text (a UUID): compare as text
                texts = [str(widget.itemData(i)) for i in range(widget.count())]
                index = texts.index(value["data"]) if value["data"] in texts else -1
        if index < 0 and isinstance(value.get("index"), int) and value["index"] < widget.count():
            index = value["index"]
        if index >= 0:
            widget.setCurrentIndex(index)
    elif isinstance(widget, QAbstractButton) and isinstance(value, bool):
        widget.setChecked(value)
    elif isinstance(widget, QSpinBox) and isinstance(value, int):
        widget.setValue(value)


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
