"""Awkward passphrases work everywhere a passphrase goes: create, unlock, change and rekey.

Passphrases never reach SQL (the database has a random raw key), but they pass through UTF-8,
Argon2id, JSON-free code paths and messages; each kind a person might type is tried end to end.
"""

from __future__ import annotations

import pytest

from sim_desk.records.errors import AuthenticationFailed
from sim_desk.records.team import users
from sim_desk.records.vault import rekey, unlock
from sim_desk.records.vault.files import VaultPaths

#: About passphrases themselves: Argon2id runs for every one of them (no test cache).
pytestmark = pytest.mark.real_kdf

AWKWARD = {
    "quotes-and-semicolons": 'it\'s "quoted"; DROP TABLE users; --',
    "url-characters": "%@/:?&=+#%00%s %n {0}",
    "emoji-and-scripts": "🔐🙂 Ωμέγα 漢字 عربى ‮reversed",
    "spaces-around": "  spaces at both ends  ",
    "1024-characters": ("ab'\";%@/:🔐 " * 100)[:1024],
}
NAMES = list(AWKWARD)


@pytest.mark.parametrize("name", NAMES)
def test_awkward_passphrase_creates_unlocks_changes_and_survives_rekey(name, tmp_path, team):
    secret = AWKWARD[name]
    assert len(secret) >= 10
    paths = VaultPaths.at(tmp_path / name / "team.simvault")
    unlock.create_vault(
        paths,
        team_name="Awkward",
        username="lead",
        display_name="Lead",
        passphrase=secret,
        clinical_lead=True,
    )
    if name == "spaces-around":  # typed exactly: trimmed is a different passphrase
        with pytest.raises(AuthenticationFailed):
            unlock.unlock(paths, "lead", secret.strip(), dirs=team.dirs)
    changed = AWKWARD[NAMES[(NAMES.index(name) + 1) % len(NAMES)]]
    with unlock.unlock(paths, "lead", secret, dirs=team.dirs) as lead:
        assert lead.has_clinical_key
        users.set_passphrase(lead, lead.actor.user_id, changed)
        rekey.rotate_keys(lead, new_recovery=False)
    with pytest.raises(AuthenticationFailed):
        unlock.unlock(paths, "lead", secret, dirs=team.dirs)
    with unlock.unlock(paths, "lead", changed, dirs=team.dirs) as lead:
        assert lead.has_clinical_key
