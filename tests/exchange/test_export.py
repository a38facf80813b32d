"""The analysts' export of the demo vault: anonymous, k-anonymous, small numbers hidden, audited."""

import csv
import hashlib
import hmac
import io
import json
import stat
import zipfile
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from sim_desk.demo.names import CULTURES
from sim_desk.exchange import anonymise as anon
from sim_desk.exchange import export
from sim_desk.records.codes import DEMAND_TYPES, HARM_TYPES
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.model import AuditEvent, Contact, Person, User, VaultMeta
from sim_desk.records.read_models import export_data
from sim_desk.records.validation import format_nhs_number
from sim_desk.records.vault.audit import Action

QI = [qi.column for qi in anon.QUASI_IDENTIFIERS]
DERIVED = ("_rate", "_share", "contacts_per_person_year")


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
    # The release says the day its data are as of (the end of last month): a person referred or
    # enrolled that same day shares the date, which says nothing of them (the demo's dates
    # follow today's, so on some days one does).
    identifiers -= date_forms(plan.data_as_of)
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
                assert cell != ""  # never an empty string: an empty cell
                if cell is None:
                    assert text == ""
                elif isinstance(cell, int | float):
                    assert float(text) == cell  # a figure, summable in a spreadsheet
                else:
                    assert cell == text
    header = [c.value for c in next(book["aggregates"].iter_rows(max_row=1))]
    assert header[-2:] == ["value", "status"]
    values = [
        r[header.index("value")] for r in book["aggregates"].iter_rows(min_row=2, values_only=True)
    ]
    assert all(v is None or isinstance(v, int | float) for v in values)
    assert None in values and any(isinstance(v, float) for v in values)


def test_pandas_style_reading_gets_numbers_from_the_value_column(written):
    _, _, folder = written
    rows = read_csv((folder / "aggregates.csv").read_bytes())
    statuses = Counter(r["status"] for r in rows)
    assert set(statuses) <= {"shown", "rounded", "suppressed", "not_applicable"}
    assert statuses["suppressed"] and statuses["rounded"] and statuses["shown"]
    for row in rows:
        if row["status"] in ("suppressed", "not_applicable"):
            assert row["value"] == ""
        else:
            float(row["value"])  # every other value is a number, never "*"


def test_every_quasi_identifier_combination_occurs_at_least_k_times(analyst, tmp_path):
    for k in (5, 3, 8):
        plan = export.plan_export(analyst, k=k)  # planned only: one period, one release
        rows = [dict(zip(plan.people_columns, r, strict=True)) for r in plan.people_rows]
        assert rows and len(rows) == plan.rows_total - plan.rows_suppressed
        groups = Counter(tuple(row[c] for c in QI) for row in rows)
        assert min(groups.values()) >= k == plan.k
        assert plan.k_reached == min(groups.values())
    export.write_export(analyst, plan, tmp_path / "k8")
    dictionary = json.loads((tmp_path / "k8" / "data_dictionary.json").read_text())
    assert dictionary["k_anonymity"]["k_reached"] == plan.k_reached
    assert dictionary["k_anonymity"]["rows_suppressed"] == plan.rows_suppressed
    assert dictionary["k_anonymity"]["k_required"] == 8
    assert dictionary["k_anonymity"]["quasi_identifiers"] == QI


def test_published_counts_obey_the_small_number_rule_and_derived_figures_use_them(written):
    _, _, folder = written
    rows = read_csv((folder / "aggregates.csv").read_bytes())
    assert len(rows) > 100
    by_key = {(r["breakdown"], r["group"], r["incident_type"], r["measure"]): r for r in rows}
    for row in rows:
        measure, value, status = row["measure"], row["value"], row["status"]
        if any(measure.endswith(d) for d in DERIVED):
            continue
        if measure.endswith("person_years"):
            assert status == "suppressed" or float(value).is_integer()
        elif status == "shown":
            assert value == "0", row  # the only counts shown as they are
        elif status == "rounded":
            assert int(value) % 5 == 0 and int(value) >= 10, row
        else:
            assert status == "suppressed" and value == "", row
    rates = [r for r in rows if r["measure"].endswith("_rate") and r["value"]]
    assert rates
    for rate in rates:
        window = rate["measure"].removesuffix("_rate")
        count = by_key[(rate["breakdown"], rate["group"], rate["incident_type"], f"{window}_count")]
        years = by_key[(rate["breakdown"], rate["group"], "", f"{window}_person_years")]
        assert float(rate["value"]) == round(float(count["value"]) / float(years["value"]), 2)
    for measure, part, whole in (
        ("attended_share", "attended", "contacts"),
        ("taken_up_share", "referrals_taken_up", "referrals"),  # beyond demand (issue 17)
        ("connected_share", "connected_at_step_down", "stepped_down"),
    ):
        assert any(r["measure"] == measure for r in rows)
        for share in (r for r in rows if r["measure"] == measure and r["value"]):
            key = (share["breakdown"], share["group"], "")
            top, bottom = by_key[(*key, part)], by_key[(*key, whole)]
            assert float(share["value"]) == round(float(top["value"]) / float(bottom["value"]), 2)


def test_the_dictionary_names_both_products_the_audit_and_what_all_demand_is_made_of(written):
    plan, _, folder = written
    dictionary = json.loads((folder / "data_dictionary.json").read_text())
    assert dictionary["data_as_of"] == plan.data_as_of.isoformat()
    assert plan.data_as_of.day >= 28 and (plan.data_as_of + timedelta(days=1)).day == 1
    products = dictionary["products"]
    assert "anonymous" in products["published figures"]["use"].lower()
    assert "pseudonymised personal data" in products["pseudonymised extract"]["use"].lower()
    assert "data-sharing agreement" in dictionary["files"]["people.csv"]["use"]
    groups = dictionary["incident_type_groups"]
    assert set(groups["all_demand"]["made_of"]) == {t.value for t in DEMAND_TYPES}
    assert set(groups["all_harms"]["made_of"]) == {t.value for t in HARM_TYPES}
    audit = dictionary["disclosure_audit"]
    assert audit["cells_checked"] > 100 and audit["cells_unsafe_in_what_is_written"] == 0
    assert "HiGHS" in audit["method"] and audit["tables_not_written"] == []
    assert dictionary["releases_of_this_period"] == []
    assert dictionary["this_release"]["first_of_its_period"]


def test_a_table_that_fails_its_audit_is_not_written_and_the_export_says_why(analyst, tmp_path):
    plan = export.plan_export(analyst, max_rounds=0)  # no complementary suppression at all
    not_written = plan.disclosure["tables_not_written"]
    assert not_written
    for table in not_written:
        assert table["reason"] and "can be worked out" in table["reason"]
        assert not any(
            (r[0], r[1]) == (table["table"], table["breakdown"]) for r in plan.aggregate_rows
        )
    export.write_export(analyst, plan, tmp_path / "out")
    dictionary = json.loads((tmp_path / "out" / "data_dictionary.json").read_text())
    assert dictionary["disclosure_audit"]["tables_not_written"] == not_written
    assert dictionary["disclosure_audit"]["cells_unsafe_in_what_is_written"] == 0


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


def test_the_command_line_names_both_products_and_refuses_a_second_release_with_other_k(
    demo_paths, tmp_path, capsys
):
    from sim_desk import cli, demo

    secret = tmp_path / "analyst.pass"
    secret.write_text(demo.DEMO_LOGINS["analyst"][0] + "\n")
    base = ["export", "--vault", str(demo_paths.database), "--user", "analyst"]
    base += ["--passphrase-file", str(secret)]
    assert cli.main([*base, "--out", str(tmp_path / "dry"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Published figures (anonymous" in out and "Pseudonymised extract (personal data" in out
    assert "data-sharing agreement" in out and "disclosure audit" in out
    assert "Nothing written" in out and not (tmp_path / "dry").exists()
    assert cli.main([*base, "--out", str(tmp_path / "first.zip")]) == 0
    assert (tmp_path / "first.zip").exists()
    capsys.readouterr()
    assert cli.main([*base, "--k", "8", "--out", str(tmp_path / "second")]) == 4
    err = capsys.readouterr().err
    assert "same settings" in err and "k 5" in err
    assert not (tmp_path / "second").exists()
