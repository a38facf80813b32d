"""The demo vault: realistic enough to learn on, honest enough to report on."""

from sqlalchemy import func, select

from sim_desk import demo
from sim_desk.records.model import Contact, HandoverPlan, OnwardReferral, Person, SupportPartner
from sim_desk.records.read_models import outcome_data
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import VaultPaths


def test_small_demo_vault_has_every_kind_of_record(tmp_path):
    paths = VaultPaths.at(tmp_path / "demo.simvault")
    demo.build_demo_vault(paths, people=14, seed=3)
    with unlock.unlock(paths, "lead", demo.DEMO_LOGINS["lead"][0]) as lead:
        with lead.read() as session:
            names = set(session.execute(select(Person.given_name)).scalars())
            notes = session.execute(
                select(func.count()).where(Contact.clinical_note.is_not(None))
            ).scalar_one()
            with_circle = session.execute(
                select(func.count(func.distinct(SupportPartner.person_id)))
            ).scalar_one()
            statuses = set(session.execute(select(OnwardReferral.status)).scalars())
            plans = session.execute(select(func.count()).select_from(HandoverPlan)).scalar_one()
        report = outcome_data.cohort_outcomes(lead)
    scripts = {"arabic": "\u0600", "han": "\u4e00", "devanagari": "\u0900", "greek": "\u0370"}
    joined = "".join(names)
    for name, start in scripts.items():
        assert any(
            start <= ch <= chr(ord(start) + 0xFF) or (name == "han" and "\u4e00" <= ch <= "\u9fff")
            for ch in joined
        ), name
    assert notes > 0  # clinicians write clinician-only notes in the demo
    assert with_circle >= len(names) // 2  # most people have a circle of support on record
    assert {"accepted", "attended"} <= statuses and len(statuses) >= 3
    assert plans > 0  # those stepping down have a handover plan
    assert report.flow.enrolled >= 10
    directions = report.outcome.type_outcome("call_999").directions
    assert directions.down > 0  # most fall after enrolment…
    assert directions.up + directions.level > 0  # …but not everyone
