"""The analysts' export of the demo vault: anonymous, k-anonymous, small numbers hidden, audited."""

import csv
import hashlib
import hmac
import io
import json
import stat
import zipfile
from collections import Counter

import pytest
from sqlalchemy import select

from sim_desk.demo.names import CULTURES
from sim_desk.exchange import export
from sim_desk.records import export_data
from sim_desk.records.audit import Action
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.model import AuditEvent, Contact, Person, User, VaultMeta
from sim_desk.records.validation import format_nhs_number

QI = ["age_band", "gender", "ethnic_group", "borough", "enrolment_period"]
COUNT_MEASURES = {"people", "before_count", "after_count", "people_down", "people_level"}
COUNT_MEASURES |= {"people_up", "referred", "enrolled", "not_enrolled", "active", "stepping_down"}


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def texts_in(folder) -> dict[str, str]:
    """Every file of an export as text; XLSX and zip files unpacked, part by part."""
    texts = {}
    for path in sorted(folder.rglob("*")):
        if path.is_dir():
            continue
        data = path.read_bytes()
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    part = archive.read(name)
                    if name.endswith(".xlsx"):  # compressed: read its parts, not its bytes
                        with zipfile.ZipFile(io.BytesIO(part)) as inner:
                            for inner_name in inner.namelist():
                                texts[f"{name}:{inner_name}"] = inner.read(inner_name).decode()
                    else:
                        texts[f"{path.name}:{name}"] = part.decode("utf-8")
        else:
            texts[path.name] = data.decode("utf-8")
    return texts


def date_forms(day):
    return {
        day.isoformat(),
        day.strftime("%d/%m/%Y"),
        f"{day.day}/{day.month}/{day.year}",
        day.strftime("%Y%m%d"),
        day.strftime("%d-%m-%Y"),
        day.strftime("%d %B %Y"),
        day.strftime("%d.%m.%Y"),
    }


def direct_identifiers(lead) -> set[str]:
    """Every name, NHS number, police reference, birth date, exact date and text in the vault."""
    found = set()
    with lead.read() as session:
        for person in session.execute(select(Person)).scalars():
            found |= {person.given_name, person.family_name}
            found.add(f"{person.given_name} {person.family_name}")
            for text in (
                person.preferred_name,
                person.police_reference,
                person.gp_practice,
                person.neighbourhood,
                person.reasonable_adjustments,
                person.goals,
                person.crisis_plan,
                person.referral_criteria,
            ):
                if text:
                    found.add(text)
            if person.nhs_number:
                found |= {person.nhs_number, format_nhs_number(person.nhs_number)}
            for day in (person.date_of_birth, person.referred_on, person.enrolled_on):
                if day:
                    found |= date_forms(day)
        notes = session.execute(select(Contact.shared_note).distinct()).scalars()
        found |= {note for note in notes if note}
    for culture in CULTURES:  # every name the demo could have used, not only those it did
        found |= {given for given, _ in culture.given} | set(culture.family)
    return found | {"DEMO/", "Medical Centre", "crisis café"}


@pytest.fixture
def analyst(demo_unlock):
    with demo_unlock("analyst") as vault:
        yield vault


@pytest.fixture
def written(analyst, tmp_path):
    plan = export.plan_export(analyst)
    result = export.write_export(analyst, plan, tmp_path / "export")
    return plan, result, tmp_path / "export"


def test_export_of_the_demo_vault_holds_no_direct_identifier(
    demo_unlock, analyst, written, tmp_path
):
    plan, _, folder = written
    (tmp_path / "zipped").mkdir()
    export.write_export(analyst, plan, tmp_path / "zipped" / "export.zip", as_zip=True)
    texts = texts_in(folder) | texts_in(tmp_path / "zipped")
    assert {"people.csv", "aggregates.csv", "data_dictionary.json"} <= set(texts)
    assert any(name.endswith("xl/worksheets/sheet1.xml") for name in texts)
    assert len(texts) > 20  # the zip's four files and both workbooks' parts
    with demo_unlock("lead") as lead:
        identifiers = direct_identifiers(lead)
    assert len(identifiers) > 200
    leaks = {(name, i) for name, text in texts.items() for i in identifiers if i in text}
    assert leaks == set()


def test_the_workbook_holds_the_same_rows_as_the_csv_files_with_figures_as_numbers(written):
    from openpyxl import load_workbook

    _plan, _result, folder = written
    book = load_workbook(folder / "export.xlsx", read_only=True)
    assert book.sheetnames == ["people", "aggregates"]
    assert book.properties.creator == "SIM Desk"
    assert not book.properties.lastModifiedBy or book.properties.lastModifiedBy == "SIM Desk"
    for name in book.sheetnames:
        rows = [list(r) for r in book[name].iter_rows(values_only=True)]
        csv_rows = list(csv.reader(io.StringIO((folder / f"{name}.csv").read_text("utf-8"))))
        assert [str(c) for c in rows[0]] == csv_rows[0]
        assert len(rows) == len(csv_rows) > 1
        for got, want in zip(rows[1:], csv_rows[1:], strict=True):
            for cell, text in zip(got, want, strict=True):
                if cell is None:
                    assert text == ""
                elif isinstance(cell, int | float):
                    assert float(text) == cell  # a figure, summable in a spreadsheet
                else:
                    assert cell == text
    header = [c.value for c in next(book["aggregates"].iter_rows(max_row=1))]
    values = [
        r[header.index("value")] for r in book["aggregates"].iter_rows(min_row=2, values_only=True)
    ]
    assert any(isinstance(v, int | float) for v in values) and "*" in values  # "*" stays text


def test_every_quasi_identifier_combination_occurs_at_least_k_times(analyst, tmp_path):
    for k in (5, 3, 8):
        plan = export.plan_export(analyst, k=k)
        folder = tmp_path / f"k{k}"
        export.write_export(analyst, plan, folder)
        rows = read_csv((folder / "people.csv").read_bytes())
        assert rows and len(rows) == plan.rows_total - plan.rows_suppressed
        groups = Counter(tuple(row[c] for c in QI) for row in rows)
        assert min(groups.values()) >= k
        finer = Counter(tuple(row[c] for c in [*QI, "months_enrolled"]) for row in rows)
        dictionary = json.loads((folder / "data_dictionary.json").read_text())
        assert dictionary["k_anonymity"]["k_reached"] == min(finer.values()) >= k
        assert dictionary["k_anonymity"]["rows_suppressed"] == plan.rows_suppressed
        assert dictionary["k_anonymity"]["k_required"] == k


def test_aggregate_cells_obey_the_small_number_rule(written):
    _, _, folder = written
    rows = read_csv((folder / "aggregates.csv").read_bytes())
    assert len(rows) > 100
    people = {(r["breakdown"], r["group"]): r["value"] for r in rows if r["measure"] == "people"}
    counts = {
        (r["breakdown"], r["group"], r["incident_type"], r["measure"].split("_")[0]): r["value"]
        for r in rows
        if r["measure"].endswith("_count")
    }
    assert any(v == "*" for v in people.values())  # the demo has small groups
    for row in rows:
        value = row["value"]
        measure = row["measure"]
        if measure in COUNT_MEASURES or measure.endswith("_count") or measure.startswith("closed_"):
            assert value == "*" or (int(value) % 5 == 0), row
            continue
        # A mean, share or rate: hidden whenever it rests on 1-7 people.
        if people[(row["breakdown"], row["group"])] == "*":
            assert value == "*", row
        if measure.endswith("_rate"):
            window = measure.split("_")[0]
            key = (row["breakdown"], row["group"], row["incident_type"], window)
            if counts[key] == "*":
                assert value == "*", row


def test_pseudonyms_are_stable_under_the_linkage_key_and_differ_under_fresh_keys(demo_unlock):
    with demo_unlock("lead") as lead:
        with lead.read() as session:
            analyst_id = session.execute(
                select(User.id).where(User.username == "analyst")
            ).scalar_one()
        export_data.grant_linkage(lead, analyst_id)
        with lead.read() as session:
            key = session.execute(select(VaultMeta.linkage_key)).scalar_one()
            person_ids = session.execute(select(Person.id)).scalars().all()
    with demo_unlock("analyst") as analyst:
        assert export_data.linkage_granted(analyst)
        linked = [export.plan_export(analyst, linkage=True) for _ in range(2)]
        fresh = [export.plan_export(analyst) for _ in range(2)]
    names = [{row[0] for row in plan.people_rows} for plan in (*linked, *fresh)]
    assert names[0] == names[1] and len(names[0]) == len(linked[0].people_rows) > 0
    assert names[2].isdisjoint(names[0]) and names[3].isdisjoint(names[2])
    assert len(names[2]) == len(fresh[0].people_rows)
    # Checked independently: HMAC-SHA256 of each person's id under the vault's linkage key.
    expected = {hmac.new(key, pid.bytes, hashlib.sha256).hexdigest() for pid in person_ids}
    assert names[0] <= expected


def test_files_are_owner_only_and_one_audit_entry_holds_their_hashes(demo_unlock, tmp_path):
    with demo_unlock("analyst") as analyst:
        plan = export.plan_export(analyst)
        folder = export.write_export(analyst, plan, tmp_path / "out").destination
        zipped = export.write_export(analyst, plan, tmp_path / "out.zip", as_zip=True)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == sorted(export.FILE_NAMES)
    for path in [*folder.iterdir(), zipped.destination]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    with zipfile.ZipFile(zipped.destination) as archive:
        assert all((i.external_attr >> 16) & 0o777 == 0o600 for i in archive.infolist())
        inside = {i.filename.split("/")[-1]: archive.read(i) for i in archive.infolist()}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with demo_unlock("lead") as lead, lead.read() as session:
        entries = (
            session.execute(
                select(AuditEvent.detail)
                .where(AuditEvent.action == Action.EXPORT)
                .order_by(AuditEvent.seq)
            )
            .scalars()
            .all()
        )
    assert len(entries) == 2
    on_disk = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    first, second = entries
    for name, digest in on_disk.items():
        assert first[name.replace(".", "_")] == digest
    assert first["format"] == "folder" and first["archive"] is None
    assert second["archive"] == hashlib.sha256(zipped.destination.read_bytes()).hexdigest()
    for name, data in inside.items():
        assert second[name.replace(".", "_")] == hashlib.sha256(data).hexdigest()
    assert first["rows"] == len(plan.people_rows) and first["k"] == 5 and not first["linkage"]


def test_the_preview_reports_progress_and_a_cancel_writes_nothing(analyst, tmp_path):
    steps = []
    plan = export.plan_export(analyst, progress=lambda f, text: steps.append((f, text)))
    assert [f for f, _ in steps] == sorted(f for f, _ in steps) and steps[-1][0] == 1.0
    assert all(text for _, text in steps)

    class Cancelled(Exception):
        pass

    def cancel(fraction, text):
        if fraction >= 0.8:
            raise Cancelled

    exports = tmp_path / "exports"
    exports.mkdir()
    for as_zip in (False, True):
        with pytest.raises(Cancelled):
            export.write_export(analyst, plan, exports / "out", as_zip=as_zip, progress=cancel)
    assert list(exports.iterdir()) == []
    with analyst.read() as session:
        assert (
            session.execute(select(AuditEvent.id).where(AuditEvent.action == Action.EXPORT)).all()
            == []
        )


def test_a_folder_with_files_in_it_is_never_overwritten(analyst, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    plan = export.plan_export(analyst)
    with pytest.raises(ValidationError, match="not empty"):
        export.write_export(analyst, plan, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    export.write_export(analyst, plan, tmp_path / "empty")
    assert len(list((tmp_path / "empty").iterdir())) == 4


def test_who_may_export(demo_unlock):
    with demo_unlock("officer") as officer, pytest.raises(PermissionDenied):
        export.plan_export(officer)
    with demo_unlock("analyst") as analyst:
        with pytest.raises(PermissionDenied, match="team lead"):
            export.plan_export(analyst, linkage=True)
        with pytest.raises(ValidationError, match="k:"):
            export.plan_export(analyst, k=2)
    with demo_unlock("lead") as lead:
        assert export.plan_export(lead, months=6).months == 6
