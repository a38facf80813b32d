"""The recovery sheet printed when a vault is created: the one place the recovery key is kept."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

from sim_desk.reports.pdf import (
    NHS_BLUE,
    TABLE_FONT,
    Provenance,
    build_pdf,
    para,
    rich,
    styles,
    write_pdf,
)


def recovery_sheet_pdf(
    *,
    team_name: str,
    vault_file: str,
    vault_id: str,
    recovery_key: str,
    created_by: str,
    created_at: datetime,
) -> bytes:
    s = styles()
    key_table = Table([[para(rich(recovery_key), s["mono"])]], colWidths=[170 * mm])
    key_table.setStyle(
        TableStyle(
            [
                TABLE_FONT,
                ("BOX", (0, 0), (-1, -1), 1.5, NHS_BLUE),
                ("TOPPADDING", (0, 0), (-1, -1), 10),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 10),
            ]
        )
    )
    facts = Table(
        [
            [Paragraph("<b>Team</b>", s["body"]), para(rich(team_name), s["body"])],
            [Paragraph("<b>Vault file</b>", s["body"]), para(rich(vault_file), s["body"])],
            [Paragraph("<b>Vault id</b>", s["body"]), para(rich(vault_id), s["small"])],
        ],
        colWidths=[35 * mm, 135 * mm],
    )
    facts.setStyle(TableStyle([TABLE_FONT]))
    story = [
        Paragraph("SIM Desk recovery sheet", s["title"]),
        Paragraph(
            "This key opens the vault below if every passphrase is forgotten. Whoever holds it"
            " can read every record in the vault, including clinician-only notes.",
            s["body"],
        ),
        Spacer(1, 6 * mm),
        facts,
        Spacer(1, 8 * mm),
        Paragraph("Recovery key", s["h2"]),
        key_table,
        Spacer(1, 8 * mm),
        Paragraph("What to do with this sheet", s["h2"]),
        Paragraph("1. Print it, then delete the PDF file and empty the wastebasket.", s["body"]),
        Paragraph(
            "2. Keep the paper in a locked place the team lead controls, apart from the laptop.",
            s["body"],
        ),
        Paragraph(
            "3. To use it: on the unlock screen choose <i>Use recovery key…</i>, type the"
            " groups of four (dashes and case do not matter), then reset the passphrase.",
            s["body"],
        ),
        Paragraph(
            "4. If the key may have been seen by someone who should not have it, rotate"
            " the vault's keys; a new recovery sheet is printed then.",
            s["body"],
        ),
    ]
    return build_pdf(story, Provenance("Recovery sheet", created_by, created_at))


def save_recovery_sheet(path: Path, **kwargs: object) -> None:
    write_pdf(path, recovery_sheet_pdf(**kwargs))  # type: ignore[arg-type]
