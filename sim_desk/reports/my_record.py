"""My record: the person's own copy of everything SIM Desk holds about them (subject access).

Written to the person, in plain words. It includes who on the staff opened or printed the record
and when (names and times only: the audit holds nothing more). Clinician-only notes are in it
only when a clinician or clinical lead includes them, after the review the law asks for.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from reportlab.lib.units import mm
from reportlab.platypus import Flowable

from sim_desk.records import incidents, visits
from sim_desk.records.codes import IncidentType
from sim_desk.records.read_models import report_data
from sim_desk.records.read_models.report_data import PersonReportFacts
from sim_desk.records.unit_of_work import UnlockedVault, local_date
from sim_desk.reports.layout import DASH, data_table, facts_table, uk_date, uk_datetime
from sim_desk.reports.pdf import Provenance, build_pdf, heading, para, rich, styles, write_pdf
from sim_desk.reports.people_text import about_rows, equality_rows

Progress = Callable[[float, str], None] | None
YES_NO = {True: "yes", False: "no", None: "not recorded"}


def _tell(progress: Progress, fraction: float, text: str) -> None:
    if progress is not None:
        progress(fraction, text)


def my_record_pdf(
    vault: UnlockedVault,
    person_id: uuid.UUID,
    *,
    include_clinical_notes: bool = False,
    progress: Progress = None,
) -> bytes:
    """The person's own copy of their record, as PDF bytes.

    Raises:
        PermissionDenied: An analyst, someone outside the pair, or a request for clinical notes
            from anyone but a clinician or clinical lead.
    """
    _tell(progress, 0.0, "Reading the record")
    facts = report_data.person_report_facts(
        vault, person_id, include_clinical_notes=include_clinical_notes
    )
    # Audited first, so the copy's list of who looked at the record includes this copy.
    report_data.audit_report(vault, "my_record", person_id, clinical=include_clinical_notes)
    s = styles()
    record = facts.record
    d = record.details
    today = vault.today()
    story: list[Flowable] = [
        para("Your record", s["title"]),
        *heading(f"<b>{rich(record.display_name)}</b>", "h2"),
        para(
            "This is a copy of everything the Serenity Integrated Mentoring (SIM) team keeps"
            f" about you in SIM Desk, as it was on {uk_date(today)}. It was made by"
            f" {rich(vault.actor.display_name)}. If anything in it is wrong, tell the team: you"
            " have the right to have it corrected.",
            s["body"],
        ),
        *heading("About you", "h2"),
        facts_table(
            [
                *about_rows(facts, today),
                *equality_rows(record),
                ("Where you live", ", ".join(x for x in (d.neighbourhood, d.borough) if x) or DASH),
                ("GP practice", d.gp_practice or "not recorded"),
            ]
        ),
        *heading("Why you were referred", "h2"),
        facts_table(
            [
                ("Referred on", uk_date(d.referred_on)),
                ("Referred by", d.referral_source or "not recorded"),
                ("Reason", d.referral_criteria or "not recorded"),
                ("Counts that led to it", d.referral_counts or "not recorded"),
            ]
        ),
        *heading("Your goals, in your words", "h2"),
        para(rich(d.goals or "None written down yet."), s["body"]),
        *heading("Your crisis plan, in your words", "h2"),
        para(rich(d.crisis_plan or "None written down yet."), s["body"]),
    ]
    _tell(progress, 0.2, "Consent and contacts")
    story += _consent_and_people(facts)
    story += _contacts(facts)
    _tell(progress, 0.4, "Visits and incidents")
    story += _visits(vault, person_id)
    story += _incidents(vault, person_id)
    _tell(progress, 0.7, "Who has looked at your record")
    story += _access(vault, person_id)
    return build_pdf(
        story,
        Provenance("My record (subject access copy)", vault.actor.display_name, vault.now()),
        progress=progress,
    )


def save_my_record(
    path: Path, vault: UnlockedVault, person_id: uuid.UUID, **kwargs: object
) -> None:
    """Writes the person's copy where the user chose (atomic, owner-only)."""
    write_pdf(path, my_record_pdf(vault, person_id, **kwargs))  # type: ignore[arg-type]


def _consent_and_people(facts: PersonReportFacts) -> list[Flowable]:
    s = styles()
    record = facts.record
    c = record.consent
    story: list[Flowable] = [*heading("What you agreed to", "h2")]
    if c is None:
        story.append(para("No consent decision has been recorded yet.", s["body"]))
    else:
        story.append(
            facts_table(
                [
                    ("Taking part in SIM", YES_NO[c.taking_part]),
                    ("Sharing information between police and NHS", YES_NO[c.information_sharing]),
                    ("Who may see your record", c.scope.label),
                    ("The legal reason we hold it", c.lawful_basis.label),
                    ("Recorded", f"{uk_date(c.recorded_on)} by {c.recorded_by}"),
                    ("Withdrawn", uk_date(c.withdrawn_on) if c.withdrawn_on else "no"),
                    ("Notes", c.notes or DASH),
                ],
                label_width=62 * mm,
            )
        )
    story += heading("People you want involved", "h2")
    if record.key_contacts:
        story.append(
            data_table(
                ("Name", "Relationship", "Telephone", "Carer", "Notes"),
                [
                    [
                        k.name,
                        k.relationship or DASH,
                        k.telephone or DASH,
                        YES_NO[k.is_carer],
                        k.notes or "",
                    ]
                    for k in record.key_contacts
                ],
                [36 * mm, 30 * mm, 30 * mm, 14 * mm, 64 * mm],
                numeric_from=99,
            )
        )
    else:
        story.append(para("None recorded.", s["body"]))
    story += [
        *heading("Changes to your status", "h2"),
        data_table(
            ("Date", "From", "To", "Reason"),
            [
                [
                    uk_date(h.changed_on),
                    h.from_status.label if h.from_status else "(new referral)",
                    h.to_status.label,
                    "; ".join(
                        x for x in (h.exit_reason.label if h.exit_reason else None, h.reason) if x
                    ),
                ]
                for h in record.status_history
            ],
            [24 * mm, 30 * mm, 30 * mm, 90 * mm],
            numeric_from=99,
        ),
    ]
    return story


def _contacts(facts: PersonReportFacts) -> list[Flowable]:
    s = styles()
    story: list[Flowable] = [*heading("Times we met or spoke", "h2")]
    if not facts.contacts:
        return [*story, para("None yet.", s["body"])]
    rows = []
    for c in facts.contacts:
        note = c.shared_note or ""
        if c.clinical_note:
            note += ("\n" if note else "") + f"Clinician's note: {c.clinical_note}"
        rows.append(
            [
                uk_datetime(c.started_at),
                f"{c.mechanism.label}, {c.duration_minutes} min"
                + (f", {c.place}" if c.place else ""),
                c.attendance.label,
                c.staff_present.label,
                note,
            ]
        )
    story.append(
        data_table(
            ("When", "How", "Did it happen", "Who from the team", "Notes"),
            rows,
            [25 * mm, 30 * mm, 24 * mm, 24 * mm, 71 * mm],
            numeric_from=99,
        )
    )
    if not facts.clinical_notes_included:
        story.append(
            para(
                "Notes that clinicians write only for other clinicians are not in this copy."
                " You can ask for them: a clinician reads them first, as the law asks for"
                " health records, and then they are shared with you.",
                s["small"],
            )
        )
    return story


def _visits(vault: UnlockedVault, person_id: uuid.UUID) -> list[Flowable]:
    s = styles()
    planned = visits.list_planned_visits(vault, person_id)
    story: list[Flowable] = [*heading("Visits planned with you", "h2")]
    if not planned:
        return [*story, para("None planned.", s["body"])]
    story.append(
        data_table(
            ("Date", "What happened", "Why"),
            [[uk_datetime(v.due_at), v.status.label, v.status_reason or ""] for v in planned],
            [30 * mm, 40 * mm, 104 * mm],
            numeric_from=99,
        )
    )
    return story


def _incident_details(vault: UnlockedVault, view: incidents.IncidentView) -> str:
    parts = []
    if view.incident_type == IncidentType.MH_ADMISSION and view.ended_on:
        parts.append(f"left hospital {uk_date(view.ended_on)}")
    if view.custody:
        parts.append("in custody" + (f" until {uk_date(view.ended_on)}" if view.ended_on else ""))
    if view.legal_action:
        parts.append(view.legal_action.label)
    if view.incident_type == IncidentType.S136:
        episode = incidents.incident_detail(vault, view.id).episode
        if episode is not None:
            places = ", then ".join(p.place.label for p in episode.places)
            if places:
                parts.append(f"taken to {places}")
            if episode.conveyance:
                parts.append(f"by {episode.conveyance.label.lower()}")
            if episode.outcome:
                parts.append(f"outcome: {episode.outcome.label.lower()}")
    if view.summary:
        parts.append(view.summary)
    return "; ".join(parts)


def _incidents(vault: UnlockedVault, person_id: uuid.UUID) -> list[Flowable]:
    s = styles()
    rows = list(reversed(incidents.list_incidents(vault, person_id)))
    story: list[Flowable] = [
        *heading("Crises and other events recorded", "h2"),
        para(
            "Police, NHS and you yourself may have told us about these. They are counted to see"
            " whether crises become less frequent; they are never used to refuse you help.",
            s["small"],
        ),
    ]
    if rows:
        story.append(
            data_table(
                ("When", "What", "Told us", "Details"),
                [
                    [
                        uk_datetime(i.occurred_at),
                        i.incident_type.label,
                        i.source.label,
                        _incident_details(vault, i),
                    ]
                    for i in rows
                ],
                [25 * mm, 40 * mm, 20 * mm, 89 * mm],
                numeric_from=99,
            )
        )
    else:
        story.append(para("None recorded.", s["body"]))
    baselines = incidents.list_baseline_counts(vault, person_id)
    if baselines:
        story += [
            *heading("Totals recorded for a period before you joined", "h3"),
            data_table(
                ("What", "From", "To", "How many", "Told us"),
                [
                    [
                        b.incident_type.label,
                        uk_date(b.period_start),
                        uk_date(b.period_end),
                        str(b.count),
                        b.source.label,
                    ]
                    for b in baselines
                ],
                [50 * mm, 26 * mm, 26 * mm, 24 * mm, 48 * mm],
                numeric_from=3,
            ),
        ]
    shared = list(reversed(incidents.list_disclosures(vault, person_id)))
    story += heading("Health information shared with the police", "h2")
    if shared:
        story.append(
            data_table(
                ("When", "What", "Why", "Legal reason", "Were you asked?", "By"),
                [
                    [
                        uk_date(local_date(x.shared_at)),
                        x.what,
                        x.why,
                        x.lawful_basis.label,
                        x.person_asked.label,
                        x.recorded_by,
                    ]
                    for x in shared
                ],
                [20 * mm, 36 * mm, 36 * mm, 30 * mm, 26 * mm, 26 * mm],
                numeric_from=99,
            )
        )
    else:
        story.append(para("Nothing has been shared with the police through SIM Desk.", s["body"]))
    return story


def _access(vault: UnlockedVault, person_id: uuid.UUID) -> list[Flowable]:
    s = styles()
    seen = report_data.record_access(vault, person_id)
    story: list[Flowable] = [
        *heading("Who has looked at your record", "h2"),
        para(
            "Every time someone on the team opens your record, prints it or reads a clinician's"
            " note, SIM Desk writes down who and when. This is that list.",
            s["small"],
        ),
    ]
    if not seen:
        return [*story, para("No one has opened your record yet.", s["body"])]
    story.append(
        data_table(
            ("When", "Who", "What they did"),
            [[uk_datetime(a.at), a.who, a.what] for a in seen],
            [32 * mm, 62 * mm, 80 * mm],
            numeric_from=99,
        )
    )
    return story
