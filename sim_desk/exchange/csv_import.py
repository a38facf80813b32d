"""Headless CSV import of people and incidents: all or nothing.

Every row is read and checked first, with the same validation the forms use; a file with any bad
row writes nothing and the report lists each bad row by its line in the file (the header is line
1) and what to fix. A good file is written in one transaction with one audit entry. Incidents
already in the vault (same person, type and minute) are skipped as duplicates, so importing the
same file twice adds nothing the second time.

A file whose columns are named by another system (police or NHS exports) is read through a
:class:`~sim_desk.exchange.mappings.ColumnMapping` saved for that source; a dry run is the preview
a wizard shows: what would be added, what is a duplicate, and every rejected line with why.

Messages name the line and the column at fault and never repeat the rest of a row, because they
are shown in terminals and may be pasted into e-mails. No Qt here: the GUI and ``sim-desk
import`` call the same functions.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from sim_desk.records import circle, incidents, people
from sim_desk.records.codes import IncidentType
from sim_desk.records.errors import ValidationError
from sim_desk.records.incidents import IncidentDetails
from sim_desk.records.model import Incident, Person
from sim_desk.records.people import CASEWORKERS, PersonDetails
from sim_desk.records.unit_of_work import LOCAL_ZONE, UnlockedVault
from sim_desk.records.validation import clean_text, normalise_nhs_number
from sim_desk.records.vault.audit import Action

if TYPE_CHECKING:
    from sim_desk.exchange.mappings import ColumnMapping

#: Columns of a people file, in template order. Dates are dd/mm/yyyy or yyyy-mm-dd; codes or
#: labels are accepted for ethnic_category and gender; interpreter_needed is yes/no.
PEOPLE_COLUMNS: tuple[str, ...] = (
    "given_name",
    "family_name",
    "preferred_name",
    "pronouns",
    "date_of_birth",
    "nhs_number",
    "police_reference",
    "ethnic_category",
    "gender",
    "first_language",
    "interpreter_needed",
    "borough",
    "gp_practice",
    "referred_on",
    "referral_source",
)
PEOPLE_REQUIRED: tuple[str, ...] = ("given_name", "family_name", "referred_on")

#: Columns of an incidents file. The person is matched by nhs_number or police_reference (at
#: least one of the two columns); occurred_at is UK local time, ISO 8601 or dd/mm/yyyy HH:MM.
INCIDENT_COLUMNS: tuple[str, ...] = (
    "nhs_number",
    "police_reference",
    "occurred_at",
    "incident_type",
    "source",
    "custody",
    "ended_on",
    "legal_action",
    "source_reference",
)
INCIDENT_REQUIRED: tuple[str, ...] = ("occurred_at", "incident_type", "source")
INCIDENT_PERSON_KEYS: tuple[str, ...] = ("nhs_number", "police_reference")

#: Columns of an onward-referrals file (issue 17). The person is matched as for incidents;
#: status is the referral's status now (sent if blank), reached on status_on; codes are those
#: of ``records.circle.codes`` (service_type: MHSDS A02/A06/A18/A19 or a local code).
REFERRAL_COLUMNS: tuple[str, ...] = (
    "nhs_number",
    "police_reference",
    "referred_on",
    "kind",
    "to_whom",
    "service_type",
    "reason",
    "made_by",
    "follow_up_on",
    "status",
    "status_on",
    "first_contact_on",
    "rejection_reason",
    "closure_reason",
)
REFERRAL_REQUIRED: tuple[str, ...] = ("referred_on", "to_whom", "service_type", "reason")

KINDS: dict[str, tuple[str, ...]] = {
    "people": PEOPLE_COLUMNS,
    "incidents": INCIDENT_COLUMNS,
    "referrals": REFERRAL_COLUMNS,
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "people": PEOPLE_REQUIRED,
    "incidents": INCIDENT_REQUIRED,
    "referrals": REFERRAL_REQUIRED,
}
MAX_FILE_BYTES = 50 * 1024 * 1024
_YES = frozenset({"yes", "y", "true", "1"})
_NO = frozenset({"no", "n", "false", "0", ""})
_ISO_WITH_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_UK_DATE_TIME_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S")
_IN_CHUNKS = 500  # ids per IN (...) list, well under SQLite's limit on bound parameters
_UNIQUE_PERSON_COLUMNS = (("nhs_number", "NHS number"), ("police_reference", "Police reference"))


@dataclass(frozen=True)
class ImportReport:
    """What an import did (or, in a dry run, would do).

    Attributes:
        kind: "people" or "incidents".
        rows: data rows read (blank lines are not rows).
        added: rows written, or that a dry run would write; 0 whenever there are errors.
        duplicates: incident rows skipped because the vault or an earlier line already has them.
        errors: (line in the file, what to fix) for every bad row; the header is line 1.
        dry_run: True when nothing was meant to be written.
        duplicate_lines: the lines skipped as duplicates.
        to_add: for incidents, what each line to be added holds (the preview a wizard shows).
    """

    kind: str
    rows: int
    added: int
    duplicates: int
    errors: tuple[tuple[int, str], ...]
    dry_run: bool
    duplicate_lines: tuple[int, ...] = ()
    to_add: tuple[IncidentPreview, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class IncidentPreview:
    """One line that an incident import adds (or, in a dry run, would add)."""

    line: int
    person_id: uuid.UUID
    incident_type: str
    occurred_at: datetime


def template(kind: str) -> str:
    """The header line of an import file of this kind (no line ending)."""
    return ",".join(_columns(kind))


def _columns(kind: str) -> tuple[str, ...]:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValidationError(
            f"Import: '{kind}' is not something SIM Desk imports. Choose people, incidents or"
            " referrals.",
            "kind",
        ) from None


# -- reading the file -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    line: int
    cells: dict[str, str]
    values_beyond_header: int = 0


def _decode(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ValidationError(
                f"File: it is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB. Split it into"
                " smaller files and import them one by one.",
                "file",
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValidationError(
            "File: it was not found. Check the folder and name.", "file"
        ) from None
    except IsADirectoryError:
        raise ValidationError("File: that is a folder; choose a CSV file.", "file") from None
    except PermissionError:
        raise ValidationError(
            "File: SIM Desk is not allowed to read it. Check the file's permissions.", "file"
        ) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_like_utf16(data):
        raise ValidationError(
            "File: it is saved as UTF-16 ('Unicode text'), an encoding SIM Desk does not read."
            " Save it from your spreadsheet as 'CSV UTF-8 (comma delimited)' and import that.",
            "file",
        )
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise ValidationError(
            f"File: line {line} holds a null character, which is not text. The file may be"
            " damaged or not a CSV file; export it again from where it came from.",
            "file",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValidationError(
            f"File: line {line} is not UTF-8 text, so names could be garbled. Save the file from"
            " your spreadsheet as 'CSV UTF-8 (comma delimited)' and import that.",
            "file",
        ) from None


def _looks_like_utf16(data: bytes) -> bool:
    """UTF-16 saved without a byte-order mark: text in it has every other byte zero."""
    sample = data[:4096]
    if len(sample) < 4:
        return False
    halves = (sample[0::2], sample[1::2])
    return any(half.count(0) > 0.3 * len(half) for half in halves)


#: A quote that opens a value: at the start of the file, or after a comma or a line end.
_OPENING_QUOTE = re.compile(r'(?:(?<=^)|(?<=[,\r\n]))"')
#: A whole quoted value from its opening quote: doubled quotes inside, then the closing one.
_QUOTED_VALUE = re.compile(r'"(?:[^"]|"")*"(?!")')


def _unclosed_quote_line(text: str, start_line: int) -> int | None:
    """The line where a quote opens a value that is never closed, from ``start_line`` on."""
    position = 0
    for _ in range(start_line - 1):
        position = text.find("\n", position) + 1
        if position == 0:
            return None
    while True:
        opening = _OPENING_QUOTE.search(text, position)
        if opening is None:
            return None
        closed = _QUOTED_VALUE.match(text, opening.start())
        if closed is None:
            return text.count("\n", 0, opening.start()) + 1
        position = closed.end()


def _csv_problem(text: str, start_line: int, error: csv.Error) -> ValidationError:
    """A message that names what is wrong with the CSV text, and where."""
    opened = _unclosed_quote_line(text, start_line)
    if opened is not None:
        return ValidationError(
            f'File: line {opened} opens a quote (") that is never closed, so everything after'
            " it would be read as one value. Close the quote on that line, or remove it, and"
            " import again.",
            "file",
        )
    if "field limit" in str(error):
        return ValidationError(
            f"File: a value on line {start_line} is too long (more than"
            f" {csv.field_size_limit():,} characters). Shorten it, or check that the line is"
            " what you meant to import.",
            "file",
        )
    return ValidationError(
        f"File: line {start_line} cannot be read as CSV. Fix that line and import again.",
        "file",
    )


def file_header(path: str | os.PathLike[str]) -> list[str]:
    """The header cells of a CSV file as written (for building a column mapping)."""
    text = _decode(Path(path))
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    try:
        header = [cell.strip() for cell in next(reader, [])]
    except csv.Error as error:
        raise _csv_problem(text, 1, error) from None
    if any("\n" in cell or "\r" in cell for cell in header):
        raise _csv_problem(text, 1, csv.Error("unclosed quote"))
    while header and not header[-1]:
        header.pop()
    return header


def _read_rows(path: Path, kind: str, mapping: ColumnMapping | None = None) -> list[_Row]:
    """The data rows, keyed by column; file-level problems raise ValidationError."""
    columns = _columns(kind)
    text = _decode(path)
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise ValidationError(
                f"File: it is empty. The first line must be the header: {template(kind)}", "file"
            )
        written = [cell.strip() for cell in header]
        while not written[-1]:  # spreadsheets often save empty columns after the last one
            written.pop()
        names: list[str | None]
        if mapping is None:
            lowered = [cell.lower() for cell in written]
            _check_header(lowered, kind, columns)
            names = list(lowered)
        else:
            if mapping.kind != kind:
                raise ValidationError(f"Mapping: '{mapping.name}' is not for {kind}.", "mapping")
            names = mapping.check().targets(written)
            _check_header(mapping.present_columns(written), kind, columns)
        rows: list[_Row] = []
        last_line = reader.line_num
        for cells in reader:
            line = last_line + 1  # where this row starts; a quoted cell may span lines
            last_line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            beyond = sum(1 for cell in cells[len(names) :] if cell.strip())
            by_column = {n: c for n, c in zip(names, cells, strict=False) if n is not None}
            if mapping is not None:
                by_column = mapping.apply(by_column)
            rows.append(_Row(line, by_column, beyond))
    except csv.Error as error:
        raise _csv_problem(text, last_line + 1, error) from None
    # A quote never closed swallows the rest of the file into the last value, without error.
    if rows and any("\n" in c or "\r" in c for c in rows[-1].cells.values()):
        opened = _unclosed_quote_line(text, rows[-1].line)
        if opened is not None:
            raise _csv_problem(text, rows[-1].line, csv.Error("unclosed quote"))
    return rows


def _check_header(names: list[str], kind: str, columns: tuple[str, ...]) -> None:
    required = REQUIRED[kind]
    if len(names) == 1 and ";" in names[0]:
        raise ValidationError(
            "File: the columns are separated by semicolons. Save it as comma-separated CSV.",
            "file",
        )
    repeated = sorted({n for n in names if names.count(n) > 1 and n})
    if repeated:
        raise ValidationError(
            f"File: the column {', '.join(repeated)} appears twice in the header; keep one.",
            "file",
        )
    unknown = [n for n in names if n not in columns]
    if unknown:
        shown = ", ".join(f"'{n}'" if n else "(blank)" for n in unknown)
        raise ValidationError(
            f"File: the column {shown} is not one SIM Desk imports, so its data would be lost."
            f" Rename or remove it. The columns are: {', '.join(columns)}.",
            "file",
        )
    missing = [c for c in required if c not in names]
    if kind in ("incidents", "referrals") and not any(k in names for k in INCIDENT_PERSON_KEYS):
        missing.append(" or ".join(INCIDENT_PERSON_KEYS))
    if missing:
        raise ValidationError(
            f"File: the required column {', '.join(missing)} is missing from the header. The"
            f" header line is: {template(kind)}",
            missing[0],
        )


def _too_many_cells(row: _Row) -> None:
    if row.values_beyond_header:
        raise ValidationError(
            "This line has more values than the header has columns. A comma inside a value"
            " needs the whole value in double quotes.",
            "file",
        )


# -- cell values ----------------------------------------------------------------------------


def _cell(row: _Row, column: str) -> str:
    return row.cells.get(column, "").strip()


def _date(row: _Row, column: str) -> date | None:
    text = _cell(row, column)
    if not text:
        return None
    for parse in (date.fromisoformat, lambda t: datetime.strptime(t, "%d/%m/%Y").date()):
        try:
            return parse(text)
        except ValueError:
            continue
    raise ValidationError(
        f"{column}: not a date. Write it as dd/mm/yyyy (for example 05/03/2025) or yyyy-mm-dd.",
        column,
    )


def _flag(row: _Row, column: str) -> bool:
    text = _cell(row, column).lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValidationError(f"{column}: write yes or no (or leave it blank for no).", column)


def _moment(row: _Row, column: str) -> datetime:
    """A UK local date and time (or ISO 8601 with an offset) as an aware UTC datetime."""
    text = _cell(row, column)
    if not text:
        raise ValidationError(f"{column}: enter the date and time.", column)
    naive: datetime | None = None
    if _ISO_WITH_TIME.match(text):
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
        naive = parsed
    else:
        for form in _UK_DATE_TIME_FORMATS:
            try:
                naive = datetime.strptime(text, form)
                break
            except ValueError:
                continue
    if naive is None:
        raise ValidationError(
            f"{column}: not a date and time. Write it as dd/mm/yyyy HH:MM (for example"
            " 05/03/2025 14:30) or yyyy-mm-ddTHH:MM, in UK time.",
            column,
        )
    # An hour is skipped when the clocks go forward; when they go back, the first 01:xx is taken.
    aware = naive.replace(tzinfo=LOCAL_ZONE)
    if aware.astimezone(UTC).astimezone(LOCAL_ZONE).replace(tzinfo=None) != naive:
        raise ValidationError(
            f"{column}: that time did not exist in the UK (the clocks went forward an hour);"
            " check the time.",
            column,
        )
    return aware.astimezone(UTC)


# -- shared plumbing ------------------------------------------------------------------------


# -- people ---------------------------------------------------------------------------------


def _person_details(row: _Row) -> PersonDetails:
    def text(column: str) -> str | None:
        return row.cells.get(column) or None

    return PersonDetails(
        given_name=row.cells.get("given_name", ""),
        family_name=row.cells.get("family_name", ""),
        preferred_name=text("preferred_name"),
        pronouns=text("pronouns"),
        date_of_birth=_date(row, "date_of_birth"),
        nhs_number=text("nhs_number"),
        police_reference=text("police_reference"),
        ethnic_category=_cell(row, "ethnic_category") or "99",
        gender=_cell(row, "gender") or "X",
        first_language=text("first_language"),
        interpreter_needed=_flag(row, "interpreter_needed"),
        borough=text("borough"),
        gp_practice=text("gp_practice"),
        referred_on=_date(row, "referred_on"),
        referral_source=text("referral_source"),
    )


def import_people(
    vault: UnlockedVault,
    path: str | os.PathLike[str],
    *,
    dry_run: bool = False,
    pair_id: uuid.UUID | None = None,
    mapping: ColumnMapping | None = None,
) -> ImportReport:
    """Imports referred people from a CSV file, all or nothing.

    Officers and clinicians import into their own pair's caseload; a team lead may name a pair
    (``pair_id``) or leave the people unassigned. A person whose NHS number or police reference
    is already in the vault, or on an earlier line, is a bad row: search for them instead.
    ``mapping`` reads another system's column names, as for incidents.

    Raises:
        PermissionDenied: the user's role cannot add people.
        ValidationError: the file as a whole cannot be read (encoding, header), or the pair
            cannot be chosen.
    """
    vault.require_role(*CASEWORKERS, doing="import people")
    rows = _read_rows(Path(path), "people", mapping)
    today = vault.today()
    errors: list[tuple[int, str]] = []
    checked: list[tuple[_Row, PersonDetails]] = []
    first_line: dict[tuple[str, str], int] = {}
    for row in rows:
        try:
            _too_many_cells(row)
            details = dataclasses.replace(_person_details(row), pair_id=pair_id)
            values = people.validate_person_details(details, today)
            for column, label in _UNIQUE_PERSON_COLUMNS:
                if values[column] is None:
                    continue
                earlier = first_line.setdefault((column, values[column]), row.line)
                if earlier != row.line:
                    raise ValidationError(
                        f"{label}: line {earlier} has the same {label}; list each person once.",
                        column,
                    )
            checked.append((row, details))
        except ValidationError as error:
            errors.append((row.line, str(error)))
    if errors:
        return ImportReport("people", len(rows), 0, 0, tuple(sorted(errors)), dry_run)
    # Each person goes through the same use case as one added by hand, in one batch that commits
    # only if every row is accepted, and never for a dry run.
    with contextlib.suppress(_Undo), vault.batch():
        for row, details in checked:
            try:
                people.create_person(vault, details)
            except ValidationError as error:
                errors.append((row.line, str(error)))
        if errors or dry_run:
            raise _Undo
        _audit_import(vault, "person", "people", len(rows), len(checked), 0, mapping)
    return ImportReport("people", len(rows), len(checked), 0, tuple(sorted(errors)), dry_run)


class _Undo(Exception):
    """Rolls an import's batch back: a row was refused, or it was a dry run."""


def _audit_import(
    vault: UnlockedVault,
    entity: str,
    kind: str,
    rows: int,
    added: int,
    duplicates: int,
    mapping: ColumnMapping | None,
) -> None:
    with vault.write() as session:
        vault.audit(
            session,
            Action.IMPORT,
            entity,
            None,
            kind=kind,
            rows=rows,
            added=added,
            duplicates=duplicates,
            **({"mapping": mapping.name} if mapping is not None else {}),
        )


# -- incidents ------------------------------------------------------------------------------


def _incident_details(row: _Row) -> IncidentDetails:
    return IncidentDetails(
        occurred_at=_moment(row, "occurred_at"),
        incident_type=_cell(row, "incident_type"),
        source=_cell(row, "source"),
        custody=_flag(row, "custody"),
        ended_on=_date(row, "ended_on"),
        legal_action=_cell(row, "legal_action") or None,
        source_reference=row.cells.get("source_reference") or None,
    )


class _Caseload:
    """The people this user may see, looked up by NHS number and police reference."""

    def __init__(self, vault: UnlockedVault, session: Session) -> None:
        visible = session.execute(
            select(Person).where(people.visible_people_filter(vault))
        ).scalars()
        self.by_nhs: dict[str, Person] = {}
        self.by_reference: dict[str, Person] = {}
        for person in visible:
            if person.nhs_number:
                self.by_nhs[person.nhs_number] = person
            if person.police_reference:
                self.by_reference[person.police_reference] = person

    def match(self, row: _Row) -> Person:
        nhs = normalise_nhs_number(_cell(row, "nhs_number"))
        reference = clean_text(
            row.cells.get("police_reference"),
            field="police_reference",
            label="Police reference",
            max_chars=50,
        )
        if nhs is None and reference is None:
            raise ValidationError(
                "nhs_number, police_reference: give at least one, so the incident can be matched"
                " to a person.",
                "nhs_number",
            )
        by_nhs = self.by_nhs.get(nhs) if nhs else None
        by_reference = self.by_reference.get(reference) if reference else None
        if by_nhs is not None and by_reference is not None and by_nhs is not by_reference:
            raise ValidationError(
                "nhs_number, police_reference: they belong to two different people; check both.",
                "nhs_number",
            )
        person = by_nhs or by_reference
        if person is None:
            which = "NHS number" if nhs else "police reference"
            raise ValidationError(
                f"{'nhs_number' if nhs else 'police_reference'}: no one on your caseload has this"
                f" {which}. Add the person first, or check the {which}.",
                "nhs_number" if nhs else "police_reference",
            )
        if nhs and person.nhs_number not in (None, nhs):
            raise ValidationError(
                "nhs_number: the police reference belongs to someone with another NHS number;"
                " check both.",
                "nhs_number",
            )
        if reference and person.police_reference not in (None, reference):
            raise ValidationError(
                "police_reference: the NHS number belongs to someone with another police"
                " reference; check both.",
                "police_reference",
            )
        return person


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _existing_keys(
    session: Session, person_ids: set[uuid.UUID]
) -> set[tuple[uuid.UUID, str, datetime]]:
    keys: set[tuple[uuid.UUID, str, datetime]] = set()
    ids = sorted(person_ids)
    for start in range(0, len(ids), _IN_CHUNKS):
        rows = session.execute(
            select(Incident.person_id, Incident.incident_type, Incident.occurred_at).where(
                Incident.person_id.in_(ids[start : start + _IN_CHUNKS])
            )
        ).all()
        keys.update((p, t, _minute(o)) for p, t, o in rows)
    return keys


def import_incidents(
    vault: UnlockedVault,
    path: str | os.PathLike[str],
    *,
    dry_run: bool = False,
    mapping: ColumnMapping | None = None,
) -> ImportReport:
    """Imports incidents from a CSV file, all or nothing.

    Each row is matched to a person on this user's caseload by NHS number or police reference.
    A row whose person, type and time (to the minute) are already in the vault, or on an earlier
    line, is skipped and counted as a duplicate. A Section 136 row gets an episode holding the
    detention time, with its other details left unknown. With ``mapping``, the file's own
    column names and codes are read through that source's saved mapping. A dry run is the
    preview: ``to_add``, ``duplicate_lines`` and ``errors`` say what a real import would do.

    Raises:
        PermissionDenied: the user's role cannot record incidents.
        ValidationError: the file as a whole cannot be read (encoding, header).
    """
    vault.require_role(*CASEWORKERS, doing="import incidents")
    rows = _read_rows(Path(path), "incidents", mapping)
    errors: list[tuple[int, str]] = []
    with vault.read() as session:
        caseload = _Caseload(vault, session)
        checked: list[tuple[_Row, Person, IncidentDetails]] = []
        for row in rows:
            try:
                _too_many_cells(row)
                person = caseload.match(row)
                details = _incident_details(row)
                incidents.validate_incident(vault, person, details)
                checked.append((row, person, details))
            except ValidationError as error:
                errors.append((row.line, str(error)))
        if errors:
            return ImportReport("incidents", len(rows), 0, 0, tuple(errors), dry_run)
        known = _existing_keys(session, {person.id for _, person, _ in checked})
        to_add: list[tuple[uuid.UUID, IncidentDetails]] = []
        preview: list[IncidentPreview] = []
        duplicate_lines: list[int] = []
        for row, person, details in checked:
            kind = IncidentType.parse(str(details.incident_type), field="incident_type").value
            key = (person.id, kind, _minute(details.occurred_at))
            if key in known:
                duplicate_lines.append(row.line)
                continue
            known.add(key)
            to_add.append((person.id, details))
            preview.append(IncidentPreview(row.line, person.id, kind, details.occurred_at))
    if not dry_run:  # the same use case as an incident recorded by hand, all in one batch
        with vault.batch():
            for person_id, details in to_add:
                incidents.record_incident(vault, person_id, details)
            _audit_import(
                vault,
                "incident",
                "incidents",
                len(rows),
                len(to_add),
                len(duplicate_lines),
                mapping,
            )
    return ImportReport(
        "incidents",
        len(rows),
        len(to_add),
        len(duplicate_lines),
        (),
        dry_run,
        tuple(duplicate_lines),
        tuple(preview),
    )


# -- onward referrals -----------------------------------------------------------------------


def _referral(row: _Row) -> tuple[circle.ReferralDetails, circle.StatusUpdate | None]:
    details = circle.ReferralDetails(
        referred_on=_date(row, "referred_on"),  # type: ignore[arg-type]
        reason=_cell(row, "reason"),
        to_whom=_cell(row, "to_whom") or None,
        service_type=_cell(row, "service_type") or None,
        kind=_cell(row, "kind") or circle.ReferralKind.REFERRAL.value,
        made_by=_cell(row, "made_by") or circle.ReferralMadeBy.BOTH.value,
        follow_up_on=_date(row, "follow_up_on"),
    )
    status = _cell(row, "status")
    if not status or status == circle.ReferralStatus.SENT.value:
        for column in ("status_on", "rejection_reason", "closure_reason", "first_contact_on"):
            if _cell(row, column):
                raise ValidationError(
                    f"{column}: only a referral that has moved on from 'sent' has one; give its"
                    " status too.",
                    column,
                )
        return details, None
    on = _date(row, "status_on")
    if on is None:
        raise ValidationError(
            "status_on: give the date the referral reached its status.", "status_on"
        )
    return details, circle.StatusUpdate(
        to_status=status,
        on=on,
        rejection_reason=_cell(row, "rejection_reason") or None,
        closure_reason=_cell(row, "closure_reason") or None,
        first_contact_on=_date(row, "first_contact_on"),
    )


def import_referrals(
    vault: UnlockedVault,
    path: str | os.PathLike[str],
    *,
    dry_run: bool = False,
    mapping: ColumnMapping | None = None,
) -> ImportReport:
    """Imports onward referrals from a CSV file, all or nothing, as incidents are imported.

    Each row is matched to a person on this user's caseload by NHS number or police reference
    and recorded by the same use case as a referral made by hand (status "sent"), then moved
    to the row's status, if any, on ``status_on``. Every row is checked inside one batch that
    is rolled back if any row is refused, and always for a dry run: nothing is half-imported.

    Raises:
        PermissionDenied: the user's role cannot record referrals.
        ValidationError: the file as a whole cannot be read (encoding, header), or a mapping
            was given (referral files have no saved mappings yet).
    """
    vault.require_role(*CASEWORKERS, doing="import onward referrals")
    if mapping is not None:
        raise ValidationError("Mapping: referral files are read by their own columns.", "mapping")
    rows = _read_rows(Path(path), "referrals")
    errors: list[tuple[int, str]] = []
    with vault.read() as session:
        caseload = _Caseload(vault, session)
        matched: list[tuple[_Row, uuid.UUID]] = []
        for row in rows:
            try:
                _too_many_cells(row)
                matched.append((row, caseload.match(row).id))
            except ValidationError as error:
                errors.append((row.line, str(error)))
    added = 0
    try:
        with vault.batch():
            for row, person_id in matched:
                try:
                    details, update = _referral(row)
                    with vault.write():  # a savepoint per row: a refused row leaves nothing
                        referral = circle.record_referral(vault, person_id, details)
                        if update is not None:
                            circle.update_referral_status(vault, referral, update)
                    added += 1
                except ValidationError as error:
                    errors.append((row.line, str(error)))
            if errors or dry_run:
                raise _Undo
            _audit_import(vault, "onward_referral", "referrals", len(rows), added, 0, None)
    except _Undo:
        pass
    errors.sort()
    return ImportReport("referrals", len(rows), 0 if errors else added, 0, tuple(errors), dry_run)
