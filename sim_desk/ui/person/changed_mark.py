"""The mark on a person's workspace while another laptop's later edits replaced values of
theirs that nobody here has looked at: Review opens the list (keep or put back each value);
Mark as seen takes the mark away and keeps the newer values."""

from __future__ import annotations

import uuid

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from sim_desk.records.sync import review
from sim_desk.ui.messages import REFUSED, attempt, quietly
from sim_desk.ui.session import UiSession


class ChangedElsewhereMark(QFrame):
    def __init__(self, session: UiSession, person_id: uuid.UUID, parent: QWidget) -> None:
        super().__init__(parent)
        self.session = session
        self.person_id = person_id
        self.changes: list[review.ChangeElsewhere] = []
        self.setObjectName("reminderBanner")
        self.setAccessibleName("Changed on another laptop")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.review_button = QPushButton("Review changes")
        self.review_button.setAccessibleName("Review changes from another laptop")
        self.review_button.clicked.connect(self.review)
        self.seen_button = QPushButton("Mark as seen")
        self.seen_button.setAccessibleName("Mark changes from another laptop as seen")
        self.seen_button.setToolTip("The newer values stay; the mark goes away")
        self.seen_button.clicked.connect(self.mark_seen)
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 6, 12, 6)
        row.addWidget(self.text, 1)
        row.addWidget(self.review_button)
        row.addWidget(self.seen_button)
        self.hide()

    def refresh(self) -> None:
        # Only a mark: if it cannot be read, the workspace goes on without it.
        found = attempt(
            self,
            lambda: review.changes_from_elsewhere(self.session.vault, self.person_id),
            failure=quietly,
        )
        if found is REFUSED:
            return
        self.changes = found
        if not found:
            self.hide()
            return
        values = sum(max(1, len(c.values)) for c in found)
        who = sorted({c.by for c in found})
        words = (
            f"Changed on another laptop: {values} value{'' if values == 1 else 's'} of this"
            f" person's {'was' if values == 1 else 'were'} replaced by a later edit"
            f" ({', '.join(who)}). The values this laptop had are kept until you look."
        )
        self.text.setText(words)
        self.setAccessibleDescription(words)
        self.show()

    def review(self) -> None:
        from sim_desk.ui.changed_elsewhere import PersonChangesDialog

        dialog = PersonChangesDialog(self.session, self.person_id, self.window())
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        dialog.open()

    def mark_seen(self) -> None:
        ids = [c.id for c in self.changes]
        if (
            ids
            and attempt(self, lambda: review.keep_new_values(self.session.vault, ids))
            is not REFUSED
        ):
            self.session.changed.emit("changed_elsewhere")
