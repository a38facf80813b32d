"""Drafts belong to their user: sealed with a key only that sign-in derives, clinician-only
text sealed again under the clinical key, never readable by another user of the same vault."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from sim_desk.records import drafts
from sim_desk.records.errors import NotFound, PermissionDenied
from sim_desk.records.model import Draft
from sim_desk.records.team import users
from tests.conftest import FIXED_NOW, PASSPHRASES

CONTEXT = {"person_id": str(uuid.UUID(int=7))}


def keep(vault, **values):
    return drafts.save_draft(
        vault, kind="contact", title="Log contact", context=CONTEXT, values=values or {"a": 1}
    )


def test_a_draft_comes_back_to_its_user_as_typed(clinician):
    draft_id = drafts.save_draft(
        clinician,
        kind="contact",
        title="Log contact",
        context=CONTEXT,
        values={"place": "Café Zoë", "started_at": "t-1 0930"},
        clinical_values={"clinical_note": "Low mood; plan reviewed"},
    )
    [draft] = drafts.list_drafts(clinician).drafts
    assert draft.id == draft_id and draft.kind == "contact" and draft.context == CONTEXT
    assert draft.values == {"place": "Café Zoë", "started_at": "t-1 0930"}
    assert draft.clinical_values == {"clinical_note": "Low mood; plan reviewed"}
    assert draft.saved_at == FIXED_NOW


def test_another_user_of_the_same_vault_never_sees_a_draft(team, clinician):
    keep(clinician, place="Canary Wharf")
    for other in ("officer", "lead"):
        with team.unlock(other) as vault:
            assert drafts.list_drafts(vault).drafts == []
            with vault.read() as session:
                assert len(session.execute(select(Draft)).scalars().all()) == 1


def test_a_draft_passed_to_another_owner_does_not_open_and_is_removed(team, clinician):
    keep(clinician, place="Canary Wharf")
    with team.unlock("clinician2") as other:
        # Someone with the database open rewrites the owner column: the seal is bound to the
        # owner, so it fails, and the draft is removed rather than shown.
        with other.write() as session:
            session.execute(update(Draft).values(owner_id=other.actor.user_id))
        listed = drafts.list_drafts(other)
        assert listed.drafts == [] and listed.dropped == 1


def test_the_sealed_draft_holds_no_plain_text_and_clinical_text_is_sealed_twice(clinician):
    draft_id = drafts.save_draft(
        clinician,
        kind="contact",
        title="Log contact",
        context=CONTEXT,
        values={"place": "Canary Wharf"},
        clinical_values={"clinical_note": "Canary note"},
    )
    with clinician.read() as session:
        sealed = session.get(Draft, draft_id).sealed
    assert b"Canary" not in sealed
    # Opened with the user's own key only, the clinical part is still ciphertext.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    plain = AESGCM(drafts._key(clinician)).decrypt(
        sealed[:12], sealed[12:], drafts._bound(clinician, draft_id)
    )
    assert b"Canary Wharf" in plain and b"Canary note" not in plain


def test_officers_cannot_keep_clinician_only_text(officer):
    with pytest.raises(PermissionDenied):
        drafts.save_draft(
            officer,
            kind="contact",
            title="Log contact",
            context=CONTEXT,
            values={},
            clinical_values={"clinical_note": "x"},
        )


def test_saving_again_replaces_the_draft(clinician):
    draft_id = keep(clinician, place="first")
    assert drafts.save_draft(
        clinician,
        kind="contact",
        title="Log contact",
        context=CONTEXT,
        values={"place": "second"},
        draft_id=draft_id,
    )
    [draft] = drafts.list_drafts(clinician).drafts
    assert draft.values == {"place": "second"}


def test_another_user_cannot_discard_or_overwrite_a_draft(team, clinician):
    draft_id = keep(clinician)
    with team.unlock("officer") as officer:
        with pytest.raises(NotFound):
            drafts.discard_draft(officer, draft_id)
        with pytest.raises(NotFound):
            drafts.save_draft(
                officer, kind="x", title="x", context={}, values={}, draft_id=draft_id
            )
    assert len(drafts.list_drafts(clinician).drafts) == 1
    drafts.discard_draft(clinician, draft_id)
    assert drafts.list_drafts(clinician).drafts == []


def test_drafts_are_removed_after_thirty_days(team, clinician):
    keep(clinician)
    later = FIXED_NOW + timedelta(days=drafts.KEEP_DAYS + 1)
    from sim_desk.records.vault import unlock

    with unlock.unlock(
        team.paths, "clinician", PASSPHRASES["clinician"], dirs=team.dirs, clock=lambda: later
    ) as vault:
        assert drafts.list_drafts(vault).drafts == []
    assert drafts.list_drafts(clinician).drafts == []


def test_drafts_from_before_a_new_passphrase_are_dropped_and_counted(team, clinician, lead):
    keep(clinician)
    users.set_passphrase(lead, clinician.actor.user_id, "a brand new passphrase")
    from sim_desk.records.vault import unlock

    with unlock.unlock(
        team.paths, "clinician", "a brand new passphrase", dirs=team.dirs, clock=team.clock
    ) as vault:
        listed = drafts.list_drafts(vault)
    assert listed.drafts == [] and listed.dropped == 1


def test_recovery_key_drafts_are_its_own(team, lead):
    from sim_desk.records.vault import unlock

    with unlock.unlock_with_recovery_key(
        team.paths, team.recovery_key, dirs=team.dirs, clock=team.clock
    ) as recovery:
        keep(recovery, note="from recovery")
        assert len(drafts.list_drafts(recovery).drafts) == 1
    assert drafts.list_drafts(lead).drafts == []


def test_a_user_keeps_at_most_twenty_drafts(clinician):
    for n in range(drafts.MAX_DRAFTS + 3):
        keep(clinician, n=n)
    assert len(drafts.list_drafts(clinician).drafts) == drafts.MAX_DRAFTS
