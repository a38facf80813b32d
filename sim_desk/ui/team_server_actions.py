"""The Team page's "Team server" card, its actions: each asks first what a person must know
(what revoking does, what rotating does), then runs one use case of ``teamserver.team_admin``
off the GUI thread with a progress dialog, says what was done, and reloads the table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QMessageBox, QWidget

from sim_desk.ui.widgets import format_datetime
from sim_desk.ui.worker import run_holding_vault

if TYPE_CHECKING:
    from PySide6.QtWidgets import QSpinBox

    from sim_desk.ui.session import UiSession
    from sim_desk.ui.team_server import Row

NO_EXPIRY = 0


def describe_expiry(days: int | None) -> str:
    if days is None:
        return "No replica expiry: laptops open their records however long ago they synced."
    return (
        f"Replica expiry: {days} day(s). A laptop that has not synced for longer keeps its"
        " records closed until it syncs."
    )


class TeamServerActions:
    """Mixed into ``TeamServerSection``, which holds the widgets and the table."""

    session: UiSession
    page: QWidget
    overview: Any | None
    busy: bool
    expiry: QSpinBox

    def _gone(self) -> bool:
        raise NotImplementedError

    def _tell(self, text: str) -> None:
        raise NotImplementedError

    def load(self) -> None:
        raise NotImplementedError

    def refresh(self) -> None:
        raise NotImplementedError

    def update_buttons(self) -> None:
        raise NotImplementedError

    def selected(self) -> Row | None:
        raise NotImplementedError

    def _run(self, title: str, work: Any, done: Any) -> None:
        """One server action off the GUI thread, with a progress dialog; then the table again."""
        if self.busy or not self.session.is_unlocked:
            return
        self.busy = True
        self.update_buttons()

        def finished(result: Any) -> None:
            self.busy = False
            done(result)
            self.load()

        def failed(error: BaseException) -> None:
            self.busy = False
            self.update_buttons()
            from sim_desk.ui.messages import show_error

            show_error(self.page, error, title=title)

        run_holding_vault(
            self.page,
            self.session,
            work,
            gone=self._gone,
            on_done=finished,
            on_failed=failed,
            title=title,
        )

    def invite(self) -> None:
        from sim_desk.ui.team_server_dialogs import InviteDialog

        if self.overview is None:
            return
        dialog = InviteDialog(self.session, self.overview, parent=self.page)
        if dialog.exec():
            self.load()

    def revoke_device(self) -> None:
        from sim_desk.teamserver import team_admin

        row = self.selected()
        if row is None or row.device is None:
            return
        laptop = row.device
        who = row.user.display_name or row.user.username
        answer = QMessageBox.question(
            self.page,
            "Revoke laptop",
            f"Revoke {who}'s laptop {str(laptop.id)[:8]} (last sync:"
            f" {format_datetime(laptop.last_synced) or 'not known'})?\n\n"
            "From now on it can read and send nothing. The next time it connects, its copy of"
            " the team's records is erased; changes made on it that had not reached the server"
            " are lost.\n\nThis cannot be undone: to use that laptop with the team again,"
            f" {who} needs a new invitation.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return

        def done(revoked: bool) -> None:
            self._tell(
                f"Revoked {who}'s laptop: its records are erased when it next connects."
                if revoked
                else "That laptop was revoked already."
            )

        self._run(
            "Revoking the laptop",
            lambda vault: team_admin.revoke_device(vault, laptop.id),
            done,
        )

    def revoke_user(self) -> None:
        from sim_desk.teamserver import team_admin

        row = self.selected()
        if row is None:
            return
        user = row.user
        who = user.display_name or user.username
        live = sum(1 for d in user.devices if not d.revoked)
        answer = QMessageBox.question(
            self.page,
            "Remove from team server",
            f"Remove {who} ({user.username}) from the team server?\n\n"
            f"Their {live} laptop(s) are revoked: each erases its copy of the team's records the"
            " next time it connects, and changes on it that had not reached the server are"
            " lost. Invitations not yet used are withdrawn.\n\n"
            "Then rotate the clinical key, so that notes written from now on are under a key"
            " they never held.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return

        def done(count: int | None) -> None:
            if count is None:
                self._tell(f"{who} was removed from the team server already.")
                return
            self._tell(
                f"Removed {who} from the team server: {count} laptop(s) revoked; each erases"
                " its records when it next connects. Rotate the clinical key next."
            )
            if self.session.is_unlocked and self.session.vault.has_clinical_key:
                self.rotate_clinical_key(leaver=who)

        self._run(
            "Removing from the team server",
            lambda vault: team_admin.revoke_user(vault, user.id),
            done,
        )

    def rotate_clinical_key(self, leaver: str | None = None) -> None:
        from sim_desk.teamserver import team_admin

        why = (
            f"{leaver} has left the team server. Rotate the clinical key now, so that notes"
            " written from now on are under a key they never held.\n\n"
            if leaver
            else ""
        )
        answer = QMessageBox.question(
            self.page,
            "Rotate clinical key",
            f"{why}Start a new epoch of the team's clinical key?\n\n"
            "Clinician-only notes written from now on use the new key, which is given only to"
            " laptops that are not revoked: a leaver's laptop never holds it. Notes already"
            " written keep their key and are not rewritten. Colleagues' laptops take the new key"
            " at their next sync; nobody needs to do anything.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Yes,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self._run(
            "Rotating the clinical key",
            team_admin.rotate_clinical_key,
            lambda rotated: self._tell(
                f"Started epoch {rotated.epoch} of the clinical key, given to {rotated.holders}"
                " other laptop(s) now; the rest take it from whoever verifies them first."
            ),
        )

    def set_expiry(self) -> None:
        from sim_desk.teamserver import team_admin

        value = self.expiry.value()
        days = None if value == NO_EXPIRY else value
        self._run(
            "Setting the replica expiry",
            lambda vault: team_admin.set_replica_expiry(vault, days),
            lambda now: self._tell(
                describe_expiry(now) + " Each laptop learns this at its next sync."
            ),
        )

    def publish(self) -> None:
        from sim_desk.ui.team_server_dialogs import PublishDialog

        dialog = PublishDialog(self.session, parent=self.page)
        if dialog.exec():
            self.session.changed.emit("team")
            self.refresh()
