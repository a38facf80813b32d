"""The team-server device credential kept inside the vault (records layer, no server needed)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.model import AuditEvent
from sim_desk.records.team import device
from sim_desk.records.team.device import DeviceCredential
from sim_desk.records.vault import unlock


def credential(device_id: uuid.UUID | None = None) -> DeviceCredential:
    return DeviceCredential(
        team_id=uuid.uuid4(),
        team_name="North SIM",
        host="sim.trust.nhs.uk",
        port=5432,
        database="simdesk",
        ca_pem="-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n",
        device_id=device_id or uuid.uuid4(),
        login_role="simdesk_d_" + uuid.uuid4().hex,
        server_user_id=uuid.uuid4(),
        server_username="officer",
        role="officer",
        secret="s" * 43,
        private_key=b"p" * 32,
        public_key=b"q" * 32,
    )


def test_a_pending_credential_becomes_active_and_belongs_to_its_user_only(team):
    new = credential()
    with team.unlock("officer") as officer:
        assert device.device_credential(officer) is None
        device.save_pending(officer, new)
        kept = device.device_credential(officer)
        assert kept is not None and kept.state == device.PENDING and kept.secret == new.secret
        active = device.activate(officer, new.device_id)
        assert active.is_active and active.joined_at is not None
    with team.unlock("clinician") as clinician:
        assert device.device_credential(clinician) is None  # not another user's to use
    with team.unlock("officer") as officer:
        again = device.device_credential(officer)
        assert again == active
        with pytest.raises(ValidationError, match="already joined"):
            device.save_pending(officer, credential())


def test_a_pending_credential_is_replaced_by_a_new_join_and_can_be_forgotten(team):
    with team.unlock("officer") as officer:
        device.save_pending(officer, credential())
        second = credential()
        device.save_pending(officer, second)
        kept = device.device_credential(officer)
        assert kept is not None and kept.device_id == second.device_id
        assert device.forget(officer) and not device.forget(officer)
        assert device.device_credential(officer) is None


def test_the_recovery_key_cannot_hold_or_read_a_device_credential(team):
    with unlock.unlock_with_recovery_key(
        team.paths, team.recovery_key, dirs=team.dirs, clock=team.clock
    ) as vault:
        with pytest.raises(PermissionDenied):
            device.device_credential(vault)
        with pytest.raises(PermissionDenied):
            device.save_pending(vault, credential())


def test_the_audit_log_records_ids_only(team):
    new = credential()
    with team.unlock("officer") as officer:
        device.save_pending(officer, new)
        device.activate(officer, new.device_id)
        with officer.read() as session:
            events = [
                (e.action, str(e.detail), e.entity_id)
                for e in session.execute(
                    select(AuditEvent)
                    .where(AuditEvent.action.like("server.%"))
                    .order_by(AuditEvent.seq)
                ).scalars()
            ]
    assert [e[0] for e in events] == [device.JOIN_STARTED, device.JOINED]
    for _action, detail, entity in events:
        assert new.secret not in detail and new.host not in detail
        assert entity == new.device_id
