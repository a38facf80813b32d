"""Names in any script: each finds its font, renders, and can be found in the PDF's text."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest
from reportlab.pdfbase import ttfonts

from sim_desk.reports import scripts
from sim_desk.reports.layout import data_table
from sim_desk.reports.pdf import Provenance, build_pdf, styles, text
from tests.reports.conftest import all_text

NAMES = {
    "Polish": "Łukasz Wójcik",
    "Arabic": "محمد الحسن",
    "Chinese": "王芳",
    "Devanagari": "प्रिया शर्मा",
    "Greek": "Ελένη Παπαδοπούλου",
}


def correct_render_extracts_to(name: str) -> str:
    """What text extraction gives back from a correctly shaped name.

    HarfBuzz turns Devanagari conjuncts and vowel signs that move (प्रि, र्म) into glyphs that
    stand for several characters, or none. A PDF maps each glyph back to one character; glyphs
    with no character of their own get a private-use code, which ``pages`` drops. So the text
    found is the characters of the glyphs that have one, in the order drawn. This works that
    out with HarfBuzz and the font directly, not through reportlab.
    """
    if not scripts.shaping_available():
        return name
    font = scripts.script_of(name[0])
    if font is None or not font.complex or font.rtl:
        return name  # Arabic extracts as presentation forms, which NFKC folds back
    import uharfbuzz as hb

    TTFont = pytest.importorskip("fontTools.ttLib").TTFont

    path = scripts.fonts_dir() / font.file
    ttf = TTFont(path)
    glyph_ids = {glyph: gid for gid, glyph in enumerate(ttf.getGlyphOrder())}
    first_char: dict[int, str] = {}
    for code, glyph in sorted(ttf.getBestCmap().items()):
        first_char.setdefault(glyph_ids[glyph], chr(code))
    hb_font = hb.Font(hb.Face(hb.Blob.from_file_path(str(path))))
    words = []
    for word in name.split(" "):
        buf = hb.Buffer()
        buf.add_str(word)
        buf.guess_segment_properties()
        hb.shape(hb_font, buf, {"kern": True, "liga": False, "dlig": False})
        words.append("".join(first_char.get(g.codepoint, "") for g in buf.glyph_infos))
    return " ".join(words)


@pytest.fixture(params=["shaped", "without HarfBuzz"])
def shaping(request, monkeypatch):
    """Runs a test with HarfBuzz shaping (if installed) and as if uharfbuzz were missing."""
    if request.param == "shaped" and not scripts.shaping_available():
        pytest.skip("uharfbuzz is not installed, so nothing is shaped")
    if request.param != "shaped":
        monkeypatch.setattr(ttfonts, "uharfbuzz", None)
    return request.param


@pytest.mark.parametrize("script", sorted(NAMES))
def test_name_in_each_script_can_be_found_in_the_pdf(script, shaping):
    name = NAMES[script]
    s = styles()
    pdf = build_pdf(
        [text(name, s["body"]), data_table(("Name", "People"), [[name, "1"]], [200, 60])],
        Provenance("Names", name, datetime(2026, 11, 2, tzinfo=UTC)),
    )
    found = all_text(pdf)
    expected = unicodedata.normalize("NFKC", correct_render_extracts_to(name))
    assert found.count(expected) >= 3, (expected, found)  # paragraph, table cell, footer


def test_each_script_gets_its_own_font_and_right_to_left_runs_are_reordered():
    runs = scripts.runs("Name: محمد الحسن (王芳)")
    assert [r.font.key if r.font else None for r in runs] == [None, "Arabic", None, "CJK", None]
    assert runs[1].text == "محمد الحسن"
    drawn = scripts.visual(runs[1])
    assert drawn.split(" ")[0] in ("الحسن", "نسحلا")  # last word drawn first (leftmost)
    assert [r.font for r in scripts.runs("Tèmítọ́pẹ́ Ελένη Дмитрий")] == [None]


def test_markup_is_escaped_and_names_with_markup_characters_survive():
    s = styles()
    pdf = build_pdf(
        [text("O'Connor <b>& Smith-Jones</b>", s["body"])],
        Provenance("Names", "x", datetime(2026, 11, 2, tzinfo=UTC)),
    )
    assert "O'Connor <b>& Smith-Jones</b>" in all_text(pdf)
