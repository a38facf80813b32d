"""A small demo team published on a real team server, and an invitation for a new laptop: what
the "Join my team" tests and screenshots join (as a clinician would, on a laptop with no vault).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sim_desk import demo
from sim_desk.records.appdirs import AppDirs
from sim_desk.records.team import device, users
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import VaultPaths
from sim_desk.teamserver import keys, protocol
from sim_desk.teamserver.connection import ServerAddress
from sim_desk.teamserver.invitations import Invitation, create_invitation
from sim_desk.teamserver.joining import join_team
from sim_desk.teamserver.publish import publish
from sim_desk.teamserver.schema import AdminLogin, init_server


@dataclass
class DemoTeam:
    lead_paths: VaultPaths
    dirs: AppDirs
    address: ServerAddress
    #: Seconds it took to build and publish (not part of any measured join).
    made_in: float

    def open_lead(self):  # type: ignore[no-untyped-def]
        return unlock.unlock(self.lead_paths, "lead", demo.DEMO_LOGINS["lead"][0], dirs=self.dirs)

    def invite(self, username: str = "clinician", *, valid_hours: int = 72) -> Invitation:
        """An invitation file's contents, made on the lead's laptop as `server invite` does."""
        with self.open_lead() as lead:
            credential = device.device_credential(lead)
            me = next(u for u in users.list_users(lead) if u.username == username)
            with protocol.device_connection(credential) as conn:
                made = keys.invite_from_laptop(
                    lead,
                    credential,
                    conn,
                    self.address,
                    username=username,
                    role=me.role.value,
                    clinical=me.clinical_access,
                    user_id=me.id,
                    valid_hours=valid_hours,
                )
        return Invitation.from_json(made.to_json())


def publish_demo_team(
    admin: AdminLogin, folder: Path, *, people: int = 8, team_name: str = "North SIM"
) -> DemoTeam:
    """Builds a demo vault of ``people`` on the lead's laptop, sets the team up on the server
    (the trust's IT), joins the lead and publishes the vault: the team as it is on the day a
    new member's laptop joins."""
    started = time.monotonic()
    paths = VaultPaths.at(folder / "lead" / "demo.simvault")
    dirs = AppDirs(folder / "lead-data", folder / "lead-state", folder / "lead-config")
    demo.build_demo_vault(paths, people=people, seed=1)
    init_server(admin, team_name=team_name)
    made = DemoTeam(paths, dirs, admin.address, 0.0)
    with made.open_lead() as lead:
        lead_id = next(u.id for u in users.list_users(lead) if u.username == "lead")
        with admin.connect(autocommit=True) as conn:
            first = create_invitation(
                conn,
                admin.address,
                username="lead",
                role="team_lead",
                clinical=True,
                user_id=lead_id,
            )
        join_team(lead, first)
        publish(lead)
    made.made_in = time.monotonic() - started
    return made
