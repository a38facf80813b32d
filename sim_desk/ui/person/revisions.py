"""Earlier versions of a corrected incident or baseline count: what each said, who replaced it,
when and why. (Contacts have their own history, with clinician-only notes.)"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QVBoxLayout, QWidget

from sim_desk.records.codes import (
    Conveyance,
    IncidentSource,
    IncidentType,
    LegalAction,
    PlaceOfSafety,
    S136Outcome,
)
from sim_desk.records.incidents import RevisionView
from sim_desk.ui import widgets
from sim_desk.ui.person.table import Column, RowsModel, elide, select_first, table_view


def plural(n: int, one: str) -> str:
    return f"{n} {one if n == 1 else one + 's'}"


def _label(codes: Any, value: object) -> str:
    if value in (None, ""):
        return ""
    try:
        return str(codes(value).label)
    except ValueError:
        return str(value)


def _when(value: object, *, with_time: bool = True) -> str:
    if not value:
        return ""
    try:
        if with_time:
            return widgets.format_datetime(datetime.fromisoformat(str(value)))
        return widgets.format_date(date.fromisoformat(str(value)))
    except ValueError:
        return str(value)


def _s136(fields: dict[str, Any]) -> str:
    episode = fields.get("s136")
    if not episode:
        return ""
    parts = [f"detained {_when(episode.get('detained_at'))}"]
    if episode.get("conveyance"):
        parts.append(f"conveyed by {_label(Conveyance, episode['conveyance']).lower()}")
    places = [_label(PlaceOfSafety, place) for place, _at in episode.get("places") or []]
    if places:
        parts.append("places: " + ", ".join(places))
    if episode.get("outcome"):
        parts.append(f"outcome: {_label(S136Outcome, episode['outcome']).lower()}")
    return "; ".join(parts)


def _common() -> list[Column[RevisionView]]:
    return [
        Column("Version", lambda r: str(r.revision)),
        Column("Replaced on", lambda r: widgets.format_datetime(r.saved_at)),
        Column("Replaced by", lambda r: r.saved_by),
        Column("Reason for the correction", lambda r: r.reason or "", tooltip=lambda r: r.reason),
    ]


def incident_revision_columns() -> list[Column[RevisionView]]:
    def field(name: str):  # type: ignore[no-untyped-def]
        return lambda r: r.fields.get(name)

    return [
        *_common(),
        Column("Date and time", lambda r: _when(field("occurred_at")(r))),
        Column("Type", lambda r: _label(IncidentType, field("incident_type")(r))),
        Column("Source", lambda r: _label(IncidentSource, field("source")(r))),
        Column("Custody", lambda r: "Custody" if field("custody")(r) else ""),
        Column("Ended", lambda r: _when(field("ended_on")(r), with_time=False)),
        Column("Legal action", lambda r: _label(LegalAction, field("legal_action")(r))),
        Column("Reference", lambda r: str(field("source_reference")(r) or "")),
        Column(
            "Summary",
            lambda r: elide(str(field("summary")(r) or ""), 50),
            tooltip=lambda r: str(field("summary")(r) or ""),
        ),
        Column("Section 136", lambda r: _s136(r.fields), tooltip=lambda r: _s136(r.fields)),
    ]


def baseline_revision_columns() -> list[Column[RevisionView]]:
    return [
        *_common(),
        Column("Type", lambda r: _label(IncidentType, r.fields.get("incident_type"))),
        Column(
            "Period",
            lambda r: (
                f"{_when(r.fields.get('period_start'), with_time=False)} –"
                f" {_when(r.fields.get('period_end'), with_time=False)}"
            ),
        ),
        Column("Count", lambda r: str(r.fields.get("count", "")), align_right=True),
        Column("Source", lambda r: _label(IncidentSource, r.fields.get("source"))),
    ]


class RevisionsDialog(QDialog):
    def __init__(
        self,
        title: str,
        intro: str,
        columns: list[Column[RevisionView]],
        revisions: list[RevisionView],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.resize(960, 420)
        self.model: RowsModel[RevisionView] = RowsModel(columns)
        self.model.set_rows(revisions)
        self.table = table_view(self.model, f"{title}: earlier versions", stretch=3)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        column = QVBoxLayout(self)
        column.addWidget(widgets.heading(title, level=2))
        column.addWidget(widgets.hint(intro))
        column.addWidget(self.table, 1)
        column.addWidget(close)
        select_first(self.table)
