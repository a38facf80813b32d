"""The new-passphrase page of the first-run wizard, shared by "Create a new vault" and "Join
my team" (each adds what happens when the page is left)."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QWidget, QWizardPage

from sim_desk.records.vault.files import MIN_PASSPHRASE_LENGTH


def buddy_label(text: str, field: QWidget) -> QLabel:
    label = QLabel(text)
    label.setBuddy(field)
    return label


class PassphraseFields(QWizardPage):
    """A new passphrase typed twice, with a strength meter: for a new vault, or the vault a
    joining laptop makes."""

    def __init__(self) -> None:
        super().__init__()
        from sim_desk.ui.passphrase import PassphraseStrength

        self.setTitle("Your passphrase")
        self.setSubTitle(
            f"At least {MIN_PASSPHRASE_LENGTH} characters. A few unrelated words are"
            " long and easy to remember. It cannot be recovered if forgotten; the"
            " recovery key is the way back."
        )
        self.first = QLineEdit()
        self.first.setEchoMode(QLineEdit.EchoMode.Password)
        self.first.setAccessibleName("Passphrase")
        self.second = QLineEdit()
        self.second.setEchoMode(QLineEdit.EchoMode.Password)
        self.second.setAccessibleName("Passphrase again")
        self.meter = PassphraseStrength(self.first)
        self.match = QLabel()
        self.match.setObjectName("errorText")
        self.match.setAccessibleName("Passphrase problem")
        form = QFormLayout(self)
        form.addRow(buddy_label("&Passphrase", self.first), self.first)
        form.addRow("", self.meter)
        form.addRow(buddy_label("&Again", self.second), self.second)
        form.addRow("", self.match)
        for field in (self.first, self.second):
            field.textChanged.connect(self._check)

    def _check(self) -> None:
        a, b = self.first.text(), self.second.text()
        if a and len(a) < MIN_PASSPHRASE_LENGTH:
            self.match.setText(f"Use at least {MIN_PASSPHRASE_LENGTH} characters.")
        elif b and a != b:
            self.match.setText("The two passphrases differ.")
        else:
            self.match.setText("")
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        a = self.first.text()
        return len(a) >= MIN_PASSPHRASE_LENGTH and a == self.second.text()
