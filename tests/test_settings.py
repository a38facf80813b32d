"""Settings declared once with their types: a damaged or wrongly typed file never stops the app,
falls back to the defaults for what it cannot use, and says so."""

from __future__ import annotations

import json

import pytest

from sim_desk.records.appdirs import AppDirs
from sim_desk.settings import SETTINGS, Settings


@pytest.fixture
def dirs(tmp_path):
    return AppDirs(tmp_path / "data", tmp_path / "state", tmp_path / "config")


def write(dirs: AppDirs, text: str) -> None:
    dirs.ensure(dirs.config)
    Settings.path(dirs).write_text(text, encoding="utf-8")


def test_no_file_gives_the_defaults_quietly(dirs):
    settings = Settings.load(dirs)
    assert settings == Settings() and settings.problems == []


def test_saved_settings_come_back(dirs):
    Settings(auto_lock_minutes=10, last_vault="/home/a/team.simvault", last_user="lee").save(dirs)
    loaded = Settings.load(dirs)
    assert (loaded.auto_lock_minutes, loaded.last_vault, loaded.last_user) == (
        10,
        "/home/a/team.simvault",
        "lee",
    )
    assert loaded.problems == []


@pytest.mark.parametrize(
    ("content", "wrong"),
    [
        ({"last_vault": 5}, "last vault"),
        ({"last_user": ["lee"]}, "last user"),
        ({"auto_lock_minutes": "5"}, "auto lock minutes"),
        ({"auto_lock_minutes": True}, "auto lock minutes"),  # JSON true is not a number
        ({"auto_lock_minutes": 7}, "auto lock minutes"),  # not one of the choices
        ({"outcome_months": 13}, "outcome months"),
        ({"clipboard_clear_seconds": -1}, "clipboard clear seconds"),
        ({"remember_vault": "yes"}, "remember vault"),
    ],
)
def test_a_wrongly_typed_value_falls_back_to_its_default_with_a_note(dirs, content, wrong):
    write(dirs, json.dumps({"outcome_months": 24, **content}))
    settings = Settings.load(dirs)
    key = wrong.replace(" ", "_")
    assert getattr(settings, key) == getattr(Settings(), key)
    assert len(settings.problems) == 1 and wrong in settings.problems[0]
    if "outcome_months" not in content:
        assert settings.outcome_months == 24  # what could be used, is


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '"a string"', "null", "\udcff"])
def test_a_damaged_file_gives_every_default_and_a_note(dirs, text):
    dirs.ensure(dirs.config)
    Settings.path(dirs).write_bytes(text.encode("utf-8", "surrogateescape"))
    settings = Settings.load(dirs)
    assert settings == Settings()
    assert settings.problems and "usual settings" in settings.problems[0]


def test_the_note_never_quotes_a_value(dirs):
    write(dirs, json.dumps({"last_vault": {"Jo Bloggs": 1}}))
    assert "Bloggs" not in " ".join(Settings.load(dirs).problems)


def test_every_declared_default_fits_its_own_declaration():
    for setting in SETTINGS:
        assert setting.check(setting.default), setting.key
        assert getattr(Settings(), setting.key) == setting.default


def test_saving_a_value_outside_its_declaration_is_refused(dirs):
    with pytest.raises(ValueError):
        Settings(auto_lock_minutes=7).save(dirs)
