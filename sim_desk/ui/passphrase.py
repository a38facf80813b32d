"""Passphrase entry pieces: an honest strength meter and the set-a-passphrase dialog.

The meter is a rough guide, not a promise: it counts length and the kinds of character used,
and knocks off for well-known words, repeats and keyboard runs. The records layer alone decides
what is refused (fewer than :data:`MIN_PASSPHRASE_LENGTH` characters).
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.errors import AuthenticationFailed, SimDeskError, ValidationError
from sim_desk.records.team import users
from sim_desk.records.vault.files import MIN_PASSPHRASE_LENGTH
from sim_desk.ui.messages import REFUSED, attempt, show_error
from sim_desk.ui.session import UiSession
from sim_desk.ui.widgets import FieldErrors, hint
from sim_desk.ui.worker import run_and_wait

#: Words and runs that guessers try first; each counts as one guess-word, not as its letters.
COMMON_WORDS = (
    "password",
    "passphrase",
    "passw0rd",
    "qwerty",
    "asdf",
    "letmein",
    "welcome",
    "admin",
    "secret",
    "iloveyou",
    "monkey",
    "dragon",
    "football",
    "princess",
    "sunshine",
    "summer",
    "winter",
    "spring",
    "autumn",
    "police",
    "nhs",
    "simdesk",
    "serenity",
    "mentor",
    "london",
    "england",
    "abc",
    "123",
    "12345",
    "123456",
    "2024",
    "2025",
    "2026",
)
_RUN = re.compile(r"(.)\1{2,}")  # three or more of the same character
_WORD_BITS = 11.0  # roughly log2 of a 2,000-word guess list
LEVELS = ("Too short", "Weak", "Fair", "Good", "Strong")


@dataclass(frozen=True)
class Strength:
    """A rough estimate: ``level`` indexes :data:`LEVELS`; ``bits`` is the guess-work."""

    level: int
    bits: float
    advice: str

    @property
    def label(self) -> str:
        return LEVELS[self.level]


def _pool(text: str) -> int:
    pool = 0
    if re.search(r"[a-z]", text):
        pool += 26
    if re.search(r"[A-Z]", text):
        pool += 26
    if re.search(r"[0-9]", text):
        pool += 10
    if re.search(r" ", text):
        pool += 1
    if re.search(r"[!-/:-@\[-`{-~]", text):
        pool += 32
    if any(ord(c) > 127 for c in text):
        pool += 100
    return max(pool, 1)


def estimate(passphrase: str) -> Strength:
    """A simple, honest estimate of how hard the passphrase is to guess."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        left = MIN_PASSPHRASE_LENGTH - len(passphrase)
        return Strength(0, 0.0, f"{left} more character{'s' if left > 1 else ''} needed")
    per_char = math.log2(_pool(passphrase))
    folded = passphrase.casefold()
    # Well-known words and repeated characters are worth far less than their length suggests.
    plain = _RUN.sub(lambda m: m.group(1), folded)
    words = 0
    for word in sorted(COMMON_WORDS, key=len, reverse=True):
        while word in plain:
            plain = plain.replace(word, "", 1)
            words += 1
    bits = len(plain) * per_char + words * _WORD_BITS
    if bits < 40:
        level, advice = 1, "easy to guess; add unrelated words"
    elif bits < 60:
        level, advice = 2, "add another unrelated word"
    elif bits < 80:
        level, advice = 3, "longer is stronger still"
    else:
        level, advice = 4, "hard to guess"
    if words and level < 4:
        advice = "contains a well-known word or number"
    return Strength(level, bits, advice)


class PassphraseStrength(QWidget):
    """A meter under a passphrase field; follows the field as the user types."""

    def __init__(self, field: QLineEdit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setObjectName("strengthMeter")
        self.bar.setRange(0, len(LEVELS) - 1)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(8)
        self.bar.setAccessibleName("Passphrase strength")
        self.text = QLabel()
        self.text.setObjectName("hint")
        self.text.setWordWrap(True)
        self.text.setAccessibleName("Passphrase strength advice")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.bar)
        layout.addWidget(self.text)
        self.strength = estimate("")
        field.textChanged.connect(self.update_for)
        self.update_for(field.text())

    def update_for(self, passphrase: str) -> None:
        self.strength = estimate(passphrase)
        level = self.strength.level if passphrase else 0
        self.bar.setValue(level)
        self.bar.setProperty("level", LEVELS[level].split()[0].lower())
        self.bar.style().unpolish(self.bar)
        self.bar.style().polish(self.bar)
        summary = (
            f"{self.strength.label}: {self.strength.advice}"
            if passphrase
            else f"At least {MIN_PASSPHRASE_LENGTH} characters; a few unrelated words work well"
        )
        self.text.setText(summary)
        self.text.setToolTip(
            "A rough estimate from length, the kinds of character used and well-known words."
        )
        self.bar.setAccessibleDescription(summary)


def passphrase_field(accessible_name: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setAccessibleName(accessible_name)
    return edit


def report_problem(dialog: QDialog, errors: FieldErrors, error: SimDeskError) -> None:
    """A field's problem beside the field, any other in a message box. Nothing is cleared."""
    field = error.field if isinstance(error, ValidationError) else None
    if errors.show(field, str(error)):
        # A shown dialog does not grow by itself for a message that wraps onto several lines.
        dialog.adjustSize()
    else:
        show_error(dialog, error)


def confirm_matches(
    dialog: QDialog, errors: FieldErrors, passphrase: QLineEdit, confirm: QLineEdit
) -> bool:
    """Points at the confirmation field when the two copies differ. Nothing is cleared."""
    if passphrase.text() != confirm.text():
        report_problem(
            dialog,
            errors,
            ValidationError("Confirm: this differs from the passphrase above.", "confirm"),
        )
        return False
    return True


class SetPassphraseDialog(QDialog):
    """Sets a passphrase for a user: a team lead's reset for someone else, or (``own``) your own
    change, which asks for the current passphrase first so that a laptop left unlocked for a
    minute cannot have its owner's passphrase changed by someone else."""

    def __init__(
        self,
        session: UiSession,
        user_id: uuid.UUID,
        *,
        title: str,
        intro: str,
        own: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.user_id = user_id
        self.current = passphrase_field("Current passphrase") if own else None
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.setMinimumWidth(460)

        self.passphrase = passphrase_field("New passphrase")
        self.confirm = passphrase_field("Confirm new passphrase")
        self.meter = PassphraseStrength(self.passphrase)
        form = QFormLayout()
        fields: dict[str, QWidget] = {"passphrase": self.passphrase, "confirm": self.confirm}
        if self.current is not None:
            form.addRow("C&urrent passphrase", self.current)
            fields["current"] = self.current
        form.addRow("&New passphrase", self.passphrase)
        form.addRow("", self.meter)
        form.addRow("&Confirm", self.confirm)
        self.errors = FieldErrors(form, fields)

        buttons = QDialogButtonBox()
        self.save_button = buttons.addButton(
            "Set passphrase", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.save_button.setAccessibleName("Set passphrase")
        self.save_button.setObjectName("primary")  # bold from the start, so its width fits
        self.save_button.setDefault(True)
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAccessibleName("Cancel")
        self.save_button.clicked.connect(self.save)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(hint(intro))
        layout.addLayout(form)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(buttons)
        layout.addLayout(row)
        (self.current or self.passphrase).setFocus()

    def save(self) -> None:
        self.errors.clear()
        if not confirm_matches(self, self.errors, self.passphrase, self.confirm):
            return
        vault, user_id, secret = self.session.vault, self.user_id, self.passphrase.text()
        current = self.current.text() if self.current is not None else None

        def change() -> None:
            if current is None:
                users.set_passphrase(vault, user_id, secret)
            else:
                users.change_own_passphrase(vault, current, secret)

        def refused(error: SimDeskError) -> None:
            if isinstance(error, AuthenticationFailed) and self.current is not None:
                self.errors.show("current", str(error))
                self.current.selectAll()
                self.current.setFocus()
            else:
                report_problem(self, self.errors, error)

        # Argon2id (64 MiB) checks the current passphrase and seals the new slot: a second or
        # two, off the GUI thread.
        sealed = attempt(
            self,
            lambda: run_and_wait(
                self, lambda _progress: change(), title="Protecting the new passphrase"
            ),
            failure=refused,
        )
        if sealed is REFUSED:
            return
        self.session.changed.emit("user")
        self.accept()
