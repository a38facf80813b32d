"""What every SIM Desk PDF shares: A4, embedded fonts, the protective marking on every page,
page X of Y, who generated it and when, the software version; written atomically, mode 0600."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import CondPageBreak, Flowable, Paragraph, SimpleDocTemplate

from sim_desk import __version__
from sim_desk.records.unit_of_work import LOCAL_ZONE
from sim_desk.records.vault.fileio import write_atomic
from sim_desk.reports.scripts import fonts_dir, needs_shaping, rich, shaped_style

__all__ = ["fonts_dir", "rich"]

MARKING = "OFFICIAL-SENSITIVE"
#: For every TableStyle: a table sets its cells' font even when they hold paragraphs, and
#: reportlab's default (Helvetica) is not embedded.
TABLE_FONT = ("FONTNAME", (0, 0), (-1, -1), "SimSans")
NHS_BLUE = colors.HexColor("#005eb8")
DARK = colors.HexColor("#212b32")
GREY = colors.HexColor("#4c6272")

_FONTS_READY = False


def register_fonts() -> None:
    """Embeds the bundled Unicode fonts (once per process)."""
    global _FONTS_READY
    if _FONTS_READY:
        return
    folder = fonts_dir()
    pdfmetrics.registerFont(TTFont("SimSans", str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont("SimSans-Bold", str(folder / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFont(TTFont("SimMono", str(folder / "DejaVuSansMono.ttf")))
    pdfmetrics.registerFontFamily(
        "SimSans",
        normal="SimSans",
        bold="SimSans-Bold",
        italic="SimSans",
        boldItalic="SimSans-Bold",
    )
    _FONTS_READY = True


def styles() -> dict[str, ParagraphStyle]:
    """The shared paragraph styles; made once per process (reportlab styles are mutable-free)."""
    global _STYLES
    if _STYLES is None:
        _STYLES = _make_styles()
    return _STYLES


_STYLES: dict[str, ParagraphStyle] | None = None


def _make_styles() -> dict[str, ParagraphStyle]:
    register_fonts()
    base = getSampleStyleSheet()
    body = ParagraphStyle(
        "Body", parent=base["BodyText"], fontName="SimSans", fontSize=10, leading=14, textColor=DARK
    )
    cell = ParagraphStyle("Cell", parent=body, fontSize=8.5, leading=10.5, spaceBefore=0)
    return {
        "body": body,
        "small": ParagraphStyle("Small", parent=body, fontSize=8.5, leading=11, textColor=GREY),
        "title": ParagraphStyle(
            "Title",
            parent=body,
            fontName="SimSans-Bold",
            fontSize=20,
            leading=26,
            spaceAfter=8,
            textColor=NHS_BLUE,
        ),
        "h2": ParagraphStyle(
            "H2",
            parent=body,
            fontName="SimSans-Bold",
            fontSize=13,
            leading=17,
            spaceBefore=10,
            spaceAfter=4,
            textColor=NHS_BLUE,
        ),
        "h3": ParagraphStyle(
            "H3",
            parent=body,
            fontName="SimSans-Bold",
            fontSize=10.5,
            leading=14,
            spaceBefore=6,
            spaceAfter=2,
            textColor=DARK,
        ),
        "mono": ParagraphStyle(
            "Mono", parent=body, fontName="SimMono", fontSize=18, leading=26, alignment=1
        ),
        "cell": cell,
        "cell_right": ParagraphStyle("CellRight", parent=cell, alignment=2),
        "cell_head": ParagraphStyle(
            "CellHead", parent=cell, fontName="SimSans-Bold", fontSize=8, textColor=colors.white
        ),
        "cell_head_right": ParagraphStyle(
            "CellHeadRight",
            parent=cell,
            fontName="SimSans-Bold",
            fontSize=8,
            textColor=colors.white,
            alignment=2,
        ),
        "footer": ParagraphStyle("Footer", parent=body, fontSize=7.5, leading=9, textColor=GREY),
    }


def para(markup: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of reportlab markup; shaped by HarfBuzz when it holds a complex script.

    Text from the records must go through :func:`rich` first (it escapes, and picks a font for
    each script run).
    """
    return Paragraph(markup, shaped_style(style) if needs_shaping(markup) else style)


def heading(markup: str, level: str = "h2") -> list[Flowable]:
    """A heading that starts a new page rather than sit alone at the foot of one."""
    return [CondPageBreak(30 * mm if level == "h2" else 22 * mm), para(markup, styles()[level])]


def text(value: object, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text from the records (any script)."""
    return para(rich(value), style)


@dataclass(frozen=True)
class Provenance:
    """Who made a document and when: printed in every page's footer."""

    title: str
    generated_by: str
    generated_at: datetime

    def footer(self) -> str:
        when = self.generated_at.astimezone(LOCAL_ZONE).strftime("%d/%m/%Y %H:%M")
        return f"{self.title} · generated by {self.generated_by} on {when} · SIM Desk {__version__}"


class _NumberedCanvas(Canvas):
    """Defers page furniture until the end, so each page can say 'page X of Y'."""

    provenance: Provenance

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._pages: list[dict[str, object]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        # Staff names can be in any script, so the footer is a paragraph, not drawString.
        footer = para(rich(self.provenance.footer()), styles()["footer"])
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._furniture(number, total, footer)
            super().showPage()
        super().save()

    def _furniture(self, number: int, total: int, footer: Paragraph) -> None:
        width, height = A4
        self.saveState()
        self.setFillColor(colors.HexColor("#8a1c13"))
        self.setFont("SimSans-Bold", 9)
        self.drawCentredString(width / 2, height - 10 * mm, MARKING)
        self.drawCentredString(width / 2, 7 * mm, MARKING)
        self.setFillColor(GREY)
        self.setFont("SimSans", 7.5)
        page = f"Page {number} of {total}"
        self.drawRightString(width - 15 * mm, 12 * mm, page)
        room = width - 30 * mm - self.stringWidth(page, "SimSans", 7.5) - 4 * mm
        _, used = footer.wrap(room, 20 * mm)
        footer.drawOn(self, 15 * mm, 12 * mm + 9 - used)
        self.restoreState()


ProgressCallback = Callable[[float, str], None]


def build_pdf(
    story: Sequence[Flowable],
    provenance: Provenance,
    *,
    progress: ProgressCallback | None = None,
) -> bytes:
    """Lays out ``story`` on A4 pages with the shared furniture; returns the PDF bytes."""
    register_fonts()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=20 * mm,
        title=provenance.title,
        author="SIM Desk",
        creator=f"SIM Desk {__version__}",
        subject=MARKING,
        # Every page opens by setting a font; reportlab's default is Helvetica, which is not
        # embedded and fails an all-fonts-embedded preflight, so pages start in DejaVu Sans.
        initialFontName="SimSans",
    )

    class Canvas_(_NumberedCanvas):
        pass

    Canvas_.provenance = provenance
    if progress is not None:
        progress(0.9, "Laying out the pages")
    doc.build(list(story), canvasmaker=Canvas_)
    if progress is not None:
        progress(1.0, "Done")
    return buffer.getvalue()


def write_pdf(path: Path, data: bytes) -> None:
    """Writes where the user chose: atomically, readable by the owner only."""
    write_atomic(Path(path), data)
