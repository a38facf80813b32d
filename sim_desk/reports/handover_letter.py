"""The handover letter: for the GP or care coordinator who carries on when the pair steps back.

It says only what the person agreed may be shared with that partner (``records.circle.letter``
decides, and logs the disclosure); each section says so, and the letter says what was left out
because the person did not agree to it, without saying what it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer

from sim_desk.records.circle import HandoverLetter, ShareItem, handover_letter
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.reports.layout import (
    CONTENT_WIDTH,
    boxed,
    data_table,
    facts_table,
    uk_date,
    uk_datetime,
)
from sim_desk.reports.pdf import Provenance, build_pdf, heading, para, rich, styles, write_pdf
from sim_desk.reports.people_text import nhs_number


def _about(letter: HandoverLetter) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [("Name", letter.person_name)]
    if letter.preferred_name:
        rows.append(("Prefers to be called", letter.preferred_name))
    rows += [
        (
            "Date of birth",
            uk_date(letter.date_of_birth) if letter.date_of_birth else "not recorded",
        ),
        ("NHS number", nhs_number(letter.nhs_number)),
    ]
    return rows


def _recipient(letter: HandoverLetter) -> str:
    r = letter.recipient
    lines = [r.worker_name, r.role, r.organisation, r.how_to_reach]
    return "\n".join(line for line in lines if line)


def letter_story(letter: HandoverLetter) -> list[Flowable]:
    """The letter's flowables (kept apart from the PDF so a test can read the story)."""
    s = styles()
    name = letter.preferred_name or letter.person_name.split(" ")[0]
    story: list[Flowable] = [
        para("Handover letter", s["title"]),
        para(f"To: {rich(_recipient(letter)).replace(chr(10), '<br/>')}", s["body"]),
        para(f"Date: {uk_date(letter.written_on)}", s["body"]),
        Spacer(1, 3 * mm),
        facts_table(_about(letter)),
        Spacer(1, 3 * mm),
        para(
            f"The SIM pair has supported {rich(name)} and is stepping back. {rich(name)} agreed"
            f" (consent recorded {uk_date(letter.consent_recorded_on)}) that the following may"
            " be shared with you, and nothing else is in this letter.",
            s["body"],
        ),
    ]
    if letter.handover is not None:
        plan = letter.handover
        rows: list[tuple[str, object]] = [
            ("Agreed", uk_date(plan.agreed_on)),
            ("Who carries on", plan.carries_on),
        ]
        if plan.check_in_on:
            rows.append(("The pair will check in", uk_date(plan.check_in_on)))
        if plan.shared_with:
            rows.append(("Plan shared with", plan.shared_with))
        story += [*heading("The handover plan", "h2"), facts_table(rows)]
        if plan.person_wants_known:
            story += [
                *heading(f"What {rich(name)} wants you to know, in their words", "h3"),
                para(rich(plan.person_wants_known), s["body"]),
            ]
    if letter.crisis_plan:
        story += [
            *heading("Crisis plan, in their own words", "h2"),
            para(rich(letter.crisis_plan), s["body"]),
        ]
    if letter.goals:
        story += [
            *heading("Their goals, in their own words", "h2"),
            para(rich(letter.goals), s["body"]),
        ]
    if ShareItem.CIRCLE in letter.agreed:
        story += [*heading("Who else supports them", "h2")]
        story.append(
            data_table(
                ("Who", "Role", "How to reach"),
                [
                    (p.name, p.role or p.service_type.label, p.how_to_reach or "")
                    for p in letter.circle
                ],
                (70 * mm, 45 * mm, CONTENT_WIDTH - 115 * mm),
                numeric_from=9,
            )
            if letter.circle
            else para("No one else is recorded.", s["body"])
        )
    if ShareItem.REFERRALS in letter.agreed:
        story += [*heading("Referrals the pair has made", "h2")]
        story.append(
            data_table(
                ("Date", "To", "Why", "Status"),
                [
                    (
                        uk_date(r.referred_on),
                        r.to_whom,
                        r.reason,
                        f"{r.status.label} {uk_date(r.status_on)}",
                    )
                    for r in letter.referrals
                ],
                (22 * mm, 48 * mm, 70 * mm, CONTENT_WIDTH - 140 * mm),
                numeric_from=9,
            )
            if letter.referrals
            else para("None made.", s["body"])
        )
    if letter.clinical_notes:
        story += [
            *heading("Health information chosen by the clinician", "h2"),
            para(
                f"Clinician-only notes chosen for this letter by {rich(letter.written_by)}.",
                s["small"],
            ),
        ]
        for note in letter.clinical_notes:
            story += [
                para(f"<b>{uk_datetime(note.written_at)}</b>", s["body"]),
                para(rich(note.text), s["body"]),
            ]
    if letter.pair_contact:
        story += [
            *heading("How to reach the SIM pair", "h2"),
            para(rich(letter.pair_contact), s["body"]),
        ]
    if letter.sharing_notes:
        story += [Spacer(1, 3 * mm), boxed("About sharing", [rich(letter.sharing_notes)])]
    story += [
        Spacer(1, 4 * mm),
        para(
            f"Written by {rich(letter.written_by)}. This letter was logged as a disclosure on"
            f" {rich(name)}'s record. Please keep it confidential and do not pass it on"
            " without their agreement.",
            s["small"],
        ),
    ]
    return story


def handover_letter_pdf(
    vault: UnlockedVault,
    person_id: uuid.UUID,
    partner_id: uuid.UUID,
    *,
    clinical_note_ids: Sequence[uuid.UUID] = (),
) -> bytes:
    """The handover letter as PDF bytes; gathering it logs the disclosure.

    Raises:
        ValidationError, PermissionDenied: see ``records.circle.handover_letter``.
    """
    letter = handover_letter(vault, person_id, partner_id, clinical_note_ids=clinical_note_ids)
    return build_pdf(
        letter_story(letter),
        Provenance("Handover letter", vault.actor.display_name, vault.now()),
    )


def save_handover_letter(
    path: Path,
    vault: UnlockedVault,
    person_id: uuid.UUID,
    partner_id: uuid.UUID,
    **kwargs: object,
) -> None:
    """Writes the letter where the user chose (atomic, owner-only)."""
    write_pdf(path, handover_letter_pdf(vault, person_id, partner_id, **kwargs))  # type: ignore[arg-type]
