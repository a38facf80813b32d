"""Column mappings for CSV imports, saved per source (one JSON file each, in the config folder).

Police and NHS systems export incidents with their own column names and codes ("Incident Date",
"Sec 136"). A mapping says, for one source, which of its columns fills which SIM Desk column
(``csv_import.INCIDENT_COLUMNS``), which to ignore, what to translate
(its codes to ours) and what to assume for every row (a police export's source is "police").
Saved once, it is reused for every later file from that source.

A mapping holds column names and codes only, never data from a file. Every header in a file
must be in its mapping, mapped or ignored, so that a changed export format is noticed rather
than silently losing a column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sim_desk.exchange.csv_import import KINDS
from sim_desk.records.appdirs import AppDirs
from sim_desk.records.codes import IncidentSource, IncidentType, LegalAction
from sim_desk.records.errors import ValidationError
from sim_desk.records.vault.fileio import write_atomic

FORMAT = "sim-desk-import-mapping"
FOLDER = "import-mappings"
#: A date column and a time column may be mapped instead of one occurred_at column.
SPLIT_MOMENT = ("occurred_date", "occurred_time")
#: Columns that may have one value for every row of a source.
DEFAULTABLE = {"incidents": ("source", "incident_type", "custody", "legal_action")}
_CODES = {"incident_type": IncidentType, "source": IncidentSource, "legal_action": LegalAction}
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_HHMM = re.compile(r"\d{4}")
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "nhs_number": ("nhs number", "nhs no", "nhsno", "nhs"),
    "police_reference": ("police reference", "police ref", "pnc id", "pnc", "subject ref"),
    "occurred_at": ("date time", "datetime", "incident date time", "occurred", "when"),
    "occurred_date": ("date", "incident date", "event date", "occurred on"),
    "occurred_time": ("time", "incident time", "event time"),
    "incident_type": ("type", "incident type", "event type", "category"),
    "source": ("data source",),
    "custody": ("in custody",),
    "ended_on": ("discharge date", "discharged", "end date", "ended"),
    "legal_action": ("action",),
    "source_reference": (
        "reference",
        "incident ref",
        "incident reference",
        "incident number",
        "log number",
        "cad number",
        "cad ref",
    ),
}


def header_key(text: str) -> str:
    """How headers are compared: case, spaces and _ / - . between words do not matter."""
    return " ".join(re.sub(r"[_/\-.]+", " ", text).casefold().split())


def mapping_name(text: str) -> str:
    """A source's name as a mapping name: "Met Police CAD" → "met-police-cad"."""
    name = re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:40]
    if not _NAME.fullmatch(name):
        raise ValidationError(
            "Mapping name: use letters and digits, for example met-police-cad.", "name"
        )
    return name


@dataclass(frozen=True)
class ColumnMapping:
    """One source's mapping. Keys of ``columns`` are the file's headers as written."""

    name: str
    columns: Mapping[str, str | None]  # file header -> SIM Desk column, or None to ignore it
    defaults: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    kind: str = "incidents"

    def check(self) -> ColumnMapping:
        """Raises ValidationError naming the first problem; returns the mapping when sound."""
        mapping_name(self.name)
        if self.name != mapping_name(self.name):
            raise ValidationError("Mapping name: use lower-case letters, digits and -.", "name")
        if self.kind not in KINDS:
            raise ValidationError(f"Mapping: '{self.kind}' is not an import kind.", "kind")
        allowed = set(KINDS[self.kind]) | (set(SPLIT_MOMENT) if self.kind == "incidents" else set())
        targets = [t for t in self.columns.values() if t is not None]
        for target in targets:
            if target not in allowed:
                raise ValidationError(
                    f"Mapping: '{target}' is not a SIM Desk column. Choose from:"
                    f" {', '.join(sorted(allowed))}.",
                    "columns",
                )
        repeated = sorted({t for t in targets if targets.count(t) > 1})
        if repeated:
            raise ValidationError(
                f"Mapping: two columns of the file fill {', '.join(repeated)}; keep one.", "columns"
            )
        if "occurred_at" in targets and set(SPLIT_MOMENT) & set(targets):
            raise ValidationError(
                "Mapping: map either occurred_at or a date and a time column, not both.", "columns"
            )
        if len(set(SPLIT_MOMENT) & set(targets)) == 1:
            raise ValidationError(
                "Mapping: a date column needs a time column too (occurred_date and occurred_time).",
                "columns",
            )
        for column, value in self.defaults.items():
            if column not in DEFAULTABLE.get(self.kind, ()):
                raise ValidationError(
                    f"Mapping: '{column}' cannot have one value for every row.", "defaults"
                )
            self._check_code(column, value)
        for column, table in self.values.items():
            if column not in allowed:
                raise ValidationError(f"Mapping: '{column}' is not a SIM Desk column.", "values")
            for value in table.values():
                self._check_code(column, value)
        return self

    @staticmethod
    def _check_code(column: str, value: str) -> None:
        codes = _CODES.get(column)
        if codes is not None:
            codes.parse(value, field=column)

    def targets(self, header: Sequence[str]) -> list[str | None]:
        """The SIM Desk column for each header cell (None: ignored).

        Raises:
            ValidationError: a header the mapping does not know, so its data would be lost.
        """
        by_key = {header_key(h): t for h, t in self.columns.items()}
        unknown = [h for h in header if header_key(h) not in by_key]
        if unknown:
            shown = ", ".join(f"'{h}'" if h else "(blank)" for h in unknown)
            raise ValidationError(
                f"File: the column {shown} is not in the mapping '{self.name}'. Add it to the"
                " mapping, as a SIM Desk column or as ignored, and import again.",
                "file",
            )
        return [by_key[header_key(h)] for h in header]

    def present_columns(self, header: Sequence[str]) -> list[str]:
        """The SIM Desk columns a file fills through this mapping, defaults included."""
        names = [t for t in self.targets(header) if t is not None]
        if set(SPLIT_MOMENT) <= set(names):
            names = [n for n in names if n not in SPLIT_MOMENT] + ["occurred_at"]
        return names + [c for c in self.defaults if c not in names]

    def apply(self, cells: Mapping[str, str]) -> dict[str, str]:
        """One row's cells (by SIM Desk column) with codes translated and defaults filled."""
        out = dict(cells)
        if any(c in out for c in SPLIT_MOMENT):
            day = out.pop("occurred_date", "").strip()
            clock = out.pop("occurred_time", "").strip()
            if _HHMM.fullmatch(clock):  # 1430, as many police systems write it
                clock = f"{clock[:2]}:{clock[2:]}"
            out["occurred_at"] = f"{day} {clock}".strip() if day else ""
        for column, table in self.values.items():
            value = out.get(column, "").strip()
            translated = {k.strip().casefold(): v for k, v in table.items()}
            if value and value.casefold() in translated:
                out[column] = translated[value.casefold()]
        for column, value in self.defaults.items():
            if not out.get(column, "").strip():
                out[column] = value
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "version": 1,
            "name": self.name,
            "kind": self.kind,
            "columns": dict(self.columns),
            "defaults": dict(self.defaults),
            "values": {c: dict(t) for c, t in self.values.items()},
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, object]) -> ColumnMapping:
        if doc.get("format") != FORMAT or doc.get("version") != 1:
            raise ValueError("not a SIM Desk import mapping")
        columns = doc["columns"]
        defaults = doc.get("defaults", {})
        values = doc.get("values", {})
        if not isinstance(columns, dict) or not isinstance(defaults, dict):
            raise ValueError("damaged mapping")
        if not isinstance(values, dict):
            raise ValueError("damaged mapping")
        return cls(
            name=str(doc["name"]),
            kind=str(doc.get("kind", "incidents")),
            columns={str(k): None if v is None else str(v) for k, v in columns.items()},
            defaults={str(k): str(v) for k, v in defaults.items()},
            values={str(c): {str(k): str(v) for k, v in t.items()} for c, t in values.items()},
        ).check()


def suggest_mapping(name: str, header: Sequence[str], *, kind: str = "incidents") -> ColumnMapping:
    """A first guess from a file's header, for the user to check; unknown columns ignored."""
    columns: dict[str, str | None] = {}
    used: set[str] = set()
    known = KINDS[kind]
    for cell in header:
        key = header_key(cell)
        guess = next((c for c in known if key == header_key(c)), None)
        if guess is None and kind == "incidents":
            guess = next((c for c, words in _SYNONYMS.items() if key in words), None)
        if guess in used:
            guess = None
        if guess is not None:
            used.add(guess)
        columns[cell] = guess
    # A date and a time column only together, and never beside a date-and-time column.
    if "occurred_at" in used or len(used & set(SPLIT_MOMENT)) == 1:
        columns = {h: None if t in SPLIT_MOMENT else t for h, t in columns.items()}
    return ColumnMapping(mapping_name(name), columns, kind=kind)


# -- saved mappings -------------------------------------------------------------------------


def _folder(dirs: AppDirs | None) -> Path:
    return (dirs or AppDirs.default()).config / FOLDER


def save_mapping(mapping: ColumnMapping, dirs: AppDirs | None = None) -> Path:
    """Saves (or replaces) a source's mapping, owner-only. Returns the file written."""
    mapping.check()
    root = dirs or AppDirs.default()
    root.ensure(root.config)
    folder = root.ensure(_folder(root))
    path = folder / f"{mapping.name}.json"
    write_atomic(
        path, (json.dumps(mapping.to_json(), indent=2, ensure_ascii=False) + "\n").encode()
    )
    return path


def list_mappings(dirs: AppDirs | None = None) -> list[str]:
    """Names of the saved mappings, sorted."""
    folder = _folder(dirs)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if _NAME.fullmatch(p.stem))


def load_mapping(name: str, dirs: AppDirs | None = None) -> ColumnMapping:
    """A saved mapping by name (or by the source's name as typed).

    Raises:
        ValidationError: none saved under that name, or the file is damaged.
    """
    slug = mapping_name(name)
    path = _folder(dirs) / f"{slug}.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        saved = ", ".join(list_mappings(dirs)) or "none yet"
        raise ValidationError(
            f"Mapping: there is no saved mapping called '{slug}'. Saved mappings: {saved}.",
            "mapping",
        ) from None
    except (OSError, ValueError):
        doc = None
    try:
        if not isinstance(doc, dict):
            raise ValueError("not an object")
        return ColumnMapping.from_json(doc)
    except (ValueError, KeyError, TypeError, ValidationError):
        raise ValidationError(
            f"Mapping: the saved mapping '{slug}' is damaged. Save it again.", "mapping"
        ) from None


def delete_mapping(name: str, dirs: AppDirs | None = None) -> None:
    (_folder(dirs) / f"{mapping_name(name)}.json").unlink(missing_ok=True)
