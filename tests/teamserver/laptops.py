"""Laptops for sync tests: each a copy of the world's vault, used by one person, with its own
clock (so a test can put one laptop an hour behind, or in 2099)."""

from __future__ import annotations

import dataclasses
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from sim_desk.records import contacts, people, sync
from sim_desk.records.appdirs import AppDirs
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.model import Person
from sim_desk.records.people import PersonDetails
from sim_desk.records.sync.tables import REPLICATED
from sim_desk.records.team import device, users
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import VaultPaths
from sim_desk.teamserver import protocol
from sim_desk.teamserver.invitations import create_invitation
from sim_desk.teamserver.joining import join_team
from sim_desk.teamserver.sync import SyncReport, sync_now
from tests.conftest import FIXED_NOW, PASSPHRASES
from tests.teamserver.conftest import World


@dataclass
class LaptopClock:
    """A laptop's wall clock: starts at the test's fixed time, moved on by each use."""

    at: datetime = FIXED_NOW
    step: timedelta = timedelta(seconds=1)

    def __call__(self) -> datetime:
        self.at += self.step
        return self.at


@dataclass
class Laptop:
    name: str
    paths: VaultPaths
    dirs: AppDirs
    clock: LaptopClock = field(default_factory=LaptopClock)

    def open(self) -> UnlockedVault:
        return unlock.unlock(
            self.paths, self.name, PASSPHRASES[self.name], dirs=self.dirs, clock=self.clock
        )

    def sync(self) -> SyncReport:
        with self.open() as vault:
            return sync_now(vault)

    def status(self) -> sync.SyncStatus:
        with self.open() as vault:
            return sync.status(vault)

    def add_person(self, given: str, pair: uuid.UUID | None, nhs: str | None = None) -> uuid.UUID:
        with self.open() as vault:
            return people.create_person(
                vault,
                PersonDetails(
                    given_name=given,
                    family_name="Testperson",
                    referred_on=date(2026, 1, 5),
                    nhs_number=nhs,
                    pair_id=pair,
                ),
            )

    def log_contact(self, person: uuid.UUID, note: str, clinical: str | None = None) -> uuid.UUID:
        with self.open() as vault:
            return contacts.log_contact(
                vault,
                person,
                ContactDetails(
                    started_at=datetime(2026, 10, 1, 10, 0, tzinfo=FIXED_NOW.tzinfo),
                    shared_note=note,
                    clinical_note=clinical,
                ),
            )


def laptop(world: World, name: str, folder: Path) -> Laptop:
    """A new laptop for ``name``: a copy of the team's vault with their device credential.

    The second and later laptop a world makes for one user joins as a device of its own, as a
    real second laptop does: two copies of one device's vault are a fork, which the server
    refuses (its audit chain would not continue from the head the first copy left there).
    ``world.devices[name]`` is then the newest laptop's device.
    """
    target = folder / f"{name}-{uuid.uuid4().hex[:6]}"
    shutil.copytree(world.vault_paths.database.parent, target)
    machine = Laptop(name, VaultPaths.at(target / world.vault_paths.database.name), world.dirs)
    if name in world.laptops_made:
        _join_as_new_device(world, machine)
    world.laptops_made.add(name)
    return machine


def _join_as_new_device(world: World, machine: Laptop) -> None:
    with machine.open() as vault:
        me = next(u for u in users.list_users(vault) if u.username == machine.name)
        device.forget(vault)
        with protocol.device_connection(world.devices["lead"]) as conn:
            invitation = create_invitation(
                conn,
                world.db.address,
                username=machine.name,
                role=me.role.value,
                clinical=me.clinical_access,
                user_id=me.id,
            )
        world.devices[machine.name] = join_team(vault, invitation).credential


def edit_person(machine: Laptop, person: uuid.UUID, **changes: object) -> None:
    with machine.open() as vault:
        details = people.view_person(vault, person).details
        people.update_person(vault, person, dataclasses.replace(details, **changes))


def person_row(machine: Laptop, person: uuid.UUID) -> dict[str, object] | None:
    """The person's row as this laptop holds it (no timestamps of when it was saved)."""
    with machine.open() as vault, vault.read() as session:
        row = session.execute(select(Person).where(Person.id == person)).scalar_one_or_none()
        if row is None:
            return None
        return {
            c.name: getattr(row, c.name)
            for c in Person.__table__.columns
            if c.name not in ("updated_at",)
        }


def replica(machine: Laptop) -> dict[str, dict[object, tuple[object, ...]]]:
    """Every replicated table's rows on this laptop, for comparing replicas."""
    out: dict[str, dict[object, tuple[object, ...]]] = {}
    with machine.open() as vault, vault.read() as session:
        for spec in REPLICATED:
            out[spec.name] = {row.id: tuple(row) for row in session.execute(select(spec.table))}
    return out
