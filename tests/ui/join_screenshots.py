"""Screenshots of "Join my team" at 1366x768, and the time from "Join my team" to Today.

Needs PostgreSQL (as the team-server tests do): it starts a throwaway cluster, publishes the
demo team (40 people) from its lead's laptop, invites the clinician, and walks the wizard on a
new laptop with the real key derivation (Argon2id, as users have it)::

    QT_QPA_PLATFORM=offscreen python -m tests.ui.join_screenshots docs/screenshots

The time printed is the machine's part: from "Join my team" to Today with the typing done at
once (a person adds the time it takes them to read, compare and type).
"""

from __future__ import annotations

import dataclasses
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path


def main(out: Path) -> int:
    from PySide6.QtWidgets import QApplication

    from sim_desk.records.appdirs import AppDirs
    from sim_desk.settings import Settings
    from sim_desk.teamserver.connection import ServerAddress
    from sim_desk.teamserver.schema import AdminLogin
    from sim_desk.ui.app import make_application
    from sim_desk.ui.screenshots import _settle, _small_laptop_screen
    from sim_desk.ui.session import UiSession
    from sim_desk.ui.wizard import FirstRunWizard
    from tests.teamserver.cluster import ADMIN_USER, running_cluster
    from tests.ui.demo_team_server import publish_demo_team

    out.mkdir(parents=True, exist_ok=True)
    _small_laptop_screen()
    app = make_application()

    def shot(widget, name: str) -> None:  # type: ignore[no-untyped-def]
        _settle(app)
        widget.grab().save(str(out / f"{name}.png"))
        print(f"  {name}.png", flush=True)

    def wait(until, seconds: float = 600) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + seconds
        while not until() and time.monotonic() < deadline:
            QApplication.processEvents()
            time.sleep(0.01)
        if not until():
            raise RuntimeError("the wizard did not get there in time")

    with running_cluster() as cluster, tempfile.TemporaryDirectory(prefix="join-") as folder:
        root = Path(folder)
        name = f"t{uuid.uuid4().hex[:12]}"
        with cluster.admin_connect(autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        address = ServerAddress(cluster.host, cluster.port, name, cluster.ca.ca_pem.decode())
        admin = AdminLogin(address, ADMIN_USER, cluster.admin_password)
        print("publishing the demo team (40 people)…", flush=True)
        team = publish_demo_team(admin, root / "team", people=40)
        print(f"  built and published in {team.made_in:.0f} s", flush=True)
        invitation = team.invite("clinician")
        file = root / "clinician.siminvite"
        invitation.write(file)

        dirs = AppDirs(root / "new-laptop" / "data", root / "new-laptop" / "s", root / "c")
        wizard = FirstRunWizard(dirs)
        wizard.show()
        wizard.start.join.setChecked(True)
        shot(wizard, "join-0-start")
        started = time.monotonic()
        wizard.next()
        wizard.join.load_file(file)
        shot(wizard, "join-1-invitation")
        wizard.next()
        wait(lambda: wizard.currentId() == FirstRunWizard.JOIN_SERVER)
        shot(wizard, "join-2-check-server")
        wizard.join_server.matches.setChecked(True)
        wizard.next()
        wizard.join_passphrase.first.setText("kettle harbour violet")
        wizard.join_passphrase.second.setText("kettle harbour violet")
        shot(wizard, "join-3-passphrase")
        wizard.next()
        page = wizard.joining
        wait(lambda: page.bar.maximum() == 0)  # the sync under way
        shot(wizard, "join-4-receiving")
        wait(lambda: page.finished or page.again.isVisible())
        if not page.finished:
            print(page.error.text(), file=sys.stderr)
            return 1
        joined_after = time.monotonic() - started
        shot(wizard, "join-5-done")
        wizard.next()
        wizard.recovery.confirm.setChecked(True)
        shot(wizard, "join-6-recovery-key")
        wizard.accept()
        vault = wizard.take_joined_vault()
        assert vault is not None and wizard.chosen is not None
        from sim_desk.ui.main_window import MainWindow

        session = UiSession(wizard.chosen, dirs=dirs, settings=Settings())
        session.adopt(vault, vault.actor.username)
        window = MainWindow(session)
        window.show()
        wait(lambda: window.stack.currentWidget() is window.pages.get("today"))
        today_after = time.monotonic() - started
        shot(window, "join-7-today")
        print(
            f"Join my team -> Today: {today_after:.1f} s (joined and synced after"
            f" {joined_after:.1f} s); {page.arrived.text()}",
            flush=True,
        )
        session.lock()
        window.close()

        # What a server out of reach looks like, before anything is made.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed = probe.getsockname()[1]
        away = dataclasses.replace(
            team.invite("officer"),
            address=dataclasses.replace(address, port=closed),
        )
        wizard = FirstRunWizard(AppDirs(root / "n2" / "d", root / "n2" / "s", root / "n2" / "c"))
        wizard.show()
        wizard.start.join.setChecked(True)
        wizard.next()
        wizard.join.text.setPlainText(away.to_json())
        wizard.next()
        shot(wizard, "join-8-unreachable")
        wizard.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
