"""Users and key slots: who can grant what, leavers, passphrase changes."""

import pytest

from sim_desk.records.codes import Role
from sim_desk.records.errors import AuthenticationFailed, PermissionDenied, ValidationError
from sim_desk.records.team import users
from sim_desk.records.vault import unlock
from tests.conftest import PASSPHRASES


def test_non_clinical_lead_cannot_grant_clinical_access(team, lead):
    users.add_user(
        lead,
        username="lead2",
        display_name="Police Lead",
        role=Role.TEAM_LEAD,
        passphrase="police lead passphrase",
    )
    with unlock.unlock(team.paths, "lead2", "police lead passphrase", dirs=team.dirs) as lead2:
        assert not lead2.has_clinical_key
        users.add_user(
            lead2,
            username="pc3",
            display_name="PC Three",
            role=Role.OFFICER,
            passphrase="officer three passphrase",
        )
        with pytest.raises(PermissionDenied):
            users.add_user(
                lead2,
                username="rmn3",
                display_name="RMN Three",
                role=Role.CLINICIAN,
                passphrase="clinician three passphrase",
            )


def test_removed_user_can_no_longer_unlock(team, lead):
    officer = next(u for u in users.list_users(lead) if u.username == "officer")
    users.remove_user(lead, officer.id)
    with pytest.raises(AuthenticationFailed):
        team.unlock("officer")
    assert "officer" not in [u.username for u in users.list_users(lead)]


def test_changing_my_passphrase_retires_the_old_one(team):
    with team.unlock("clinician") as clinician:
        users.set_passphrase(clinician, clinician.actor.user_id, "a brand new passphrase")
    with pytest.raises(AuthenticationFailed):
        team.unlock("clinician")
    with unlock.unlock(team.paths, "clinician", "a brand new passphrase", dirs=team.dirs) as again:
        assert again.has_clinical_key  # the new slot still carries the clinical key


def test_officers_cannot_manage_users_and_short_passphrases_are_refused(team, officer, lead):
    with pytest.raises(PermissionDenied):
        users.add_user(
            officer,
            username="x",
            display_name="X",
            role=Role.OFFICER,
            passphrase="long enough passphrase",
        )
    with pytest.raises(ValidationError) as error:
        users.add_user(
            lead, username="newbie", display_name="New", role=Role.OFFICER, passphrase="short"
        )
    assert error.value.field == "passphrase"
    assert PASSPHRASES["lead"] not in str(error.value)


@pytest.mark.parametrize(
    "secret",
    [
        "quote ' and \" ; -- semicolon",
        "%@/:?&=+ percent and at",
        "emoji 🔐🙂 and Ω and 漢字",
        "x" * 1024,
    ],
)
def test_awkward_passphrases_work(team, lead, secret):
    users.add_user(
        lead, username="awkward", display_name="Awk", role=Role.OFFICER, passphrase=secret
    )
    with unlock.unlock(team.paths, "awkward", secret, dirs=team.dirs) as vault:
        assert vault.actor.username == "awkward"


def test_changing_my_own_passphrase_needs_the_current_one(team):
    with team.unlock("officer") as officer:
        with pytest.raises(AuthenticationFailed):
            users.change_own_passphrase(officer, "not my passphrase", "a new officer phrase")
        users.change_own_passphrase(officer, PASSPHRASES["officer"], "a new officer phrase")
    with unlock.unlock(team.paths, "officer", "a new officer phrase", dirs=team.dirs) as again:
        assert again.actor.username == "officer"
