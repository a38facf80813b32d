"""My record: everything held about one person, in plain words, with who looked at it."""

from __future__ import annotations

import pytest

from sim_desk.records import people
from sim_desk.records.errors import PermissionDenied
from sim_desk.reports.my_record import my_record_pdf
from tests.reports.conftest import CLINICAL_SECRET, SHARED_NOTE, all_text


def test_my_record_holds_the_record_and_who_looked_at_it(team, lead, scenario):
    person = scenario.lukasz
    people.view_person(lead, person.id)
    with team.unlock("officer") as officer:
        people.view_person(officer, person.id)
        text = all_text(my_record_pdf(officer, person.id))
    assert "Your record" in text and "Łukasz Wójcik" in text
    assert "To sleep better and to get back to the choir." in text  # goals, their words
    assert SHARED_NOTE in text
    assert "Section 136 detention" in text and "Mental-health admission" in text
    assert "left hospital 11/07/2025" in text
    access = text[text.index("Who has looked at your record") :]
    assert "Lee Lead opened the record" in access
    assert "Olu Officer opened the record" in access
    assert "Olu Officer printed a report or copy of the record" in access  # this very copy
    assert "CLIN-7731" not in text
    assert "Notes that clinicians write only for other clinicians are not in this copy" in text


def test_clinical_notes_only_for_a_clinician_who_includes_them(team, clinician, scenario):
    text = all_text(my_record_pdf(clinician, scenario.lukasz.id, include_clinical_notes=True))
    assert CLINICAL_SECRET in text
    assert "Cleo Clinician printed a report or copy of the record" in text
    with team.unlock("officer") as officer, pytest.raises(PermissionDenied):
        my_record_pdf(officer, scenario.lukasz.id, include_clinical_notes=True)
    with team.unlock("analyst") as analyst, pytest.raises(PermissionDenied):
        my_record_pdf(analyst, scenario.lukasz.id)
