"""Names in any script: laid out by the Unicode Bidirectional Algorithm, drawn in a font that
has every glyph, and found again by ``pdftotext`` in a real person report."""

from __future__ import annotations

import io
import shutil
import subprocess
import unicodedata
from datetime import UTC, date, datetime

import pypdf
import pytest
from bidi import get_display
from hypothesis import given
from hypothesis import strategies as st
from reportlab.pdfbase import ttfonts

from sim_desk.demo.names import CULTURES
from sim_desk.records import people
from sim_desk.records.codes import PersonStatus
from sim_desk.reports import scripts
from sim_desk.reports.layout import data_table
from sim_desk.reports.pdf import Provenance, build_pdf, styles, text
from sim_desk.reports.person_report import person_report_pdf
from tests.reports.conftest import all_text


def script_name(char: str) -> str:
    """The script of a letter, from its Unicode name: LATIN, GREEK, CJK, ..."""
    return unicodedata.name(char).split()[0]


def demo_names_by_script() -> dict[str, str]:
    """One full name (given and family) for every script the demo's names use."""
    found: dict[str, str] = {}
    for culture in CULTURES:
        for first, _ in culture.given:
            for family in culture.family:
                name = f"{first} {family}"
                kinds = {script_name(c) for c in name if c.isalpha()}
                if len(kinds) != 1:
                    continue
                (kind,) = kinds
                if kind == "LATIN" and name.isascii():
                    continue  # Latin with diacritics is the case to test
                found.setdefault(kind, name)
    return found


DEMO_NAMES = demo_names_by_script()


def test_the_demo_uses_the_scripts_the_reports_must_print():
    assert set(DEMO_NAMES) >= {
        "LATIN",
        "GREEK",
        "CYRILLIC",
        "ARABIC",
        "HEBREW",
        "DEVANAGARI",
        "BENGALI",
        "TAMIL",
        "CJK",
    }


def content_streams(pdf: bytes) -> bytes:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return b"".join(page.get_contents().get_data() for page in reader.pages)


def pdftotext(pdf: bytes, tmp_path, *, raw: bool = False) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is not installed (apt-get install poppler-utils)")
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", "-enc", "UTF-8", *(["-raw"] if raw else []), str(path), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


@pytest.fixture(params=["shaped", "without HarfBuzz"])
def shaping(request, monkeypatch):
    """Runs a test with HarfBuzz shaping (if installed) and as if uharfbuzz were missing."""
    if request.param == "shaped" and not scripts.shaping_available():
        pytest.skip("uharfbuzz is not installed, so nothing is shaped")
    if request.param != "shaped":
        monkeypatch.setattr(ttfonts, "uharfbuzz", None)
    return request.param


@pytest.mark.parametrize("script", sorted(DEMO_NAMES))
def test_every_demo_script_is_found_by_pdftotext_in_the_person_report(script, clinician, tmp_path):
    given, family = DEMO_NAMES[script].split(" ", 1)
    pid = people.create_person(
        clinician,
        people.PersonDetails(given_name=given, family_name=family, referred_on=date(2026, 1, 5)),
    )
    people.change_status(clinician, pid, PersonStatus.ACTIVE, on=date(2026, 2, 2))
    pdf = person_report_pdf(clinician, pid)
    found = pdftotext(pdf, tmp_path)
    name = f"{given} {family}"
    if script == "CJK":
        # poppler never puts a space between two CJK words in its reading-order layout; the
        # space is drawn (no box) and -raw, which keeps the drawing order, returns it.
        assert name.replace(" ", "") in found
        assert name in pdftotext(pdf, tmp_path, raw=True)
    else:
        assert name in found, (name, [line for line in found.splitlines() if given[0] in line])
    assert not any("\ue000" <= c <= "\uf8ff" for c in found), "a private-use code was extracted"
    if script in ("DEVANAGARI", "BENGALI", "TAMIL", "GURMUKHI", "ARABIC"):
        assert b"/ActualText" in content_streams(pdf)  # shaped glyphs say what they stand for


@pytest.mark.parametrize("script", ["ARABIC", "HEBREW", "DEVANAGARI", "CJK", "LATIN"])
def test_names_are_found_with_or_without_shaping(script, shaping, tmp_path):
    name = DEMO_NAMES[script]
    s = styles()
    pdf = build_pdf(
        [text(name, s["body"]), data_table(("Name", "People"), [[name, "1"]], [200, 60])],
        Provenance("Names", name, datetime(2026, 11, 2, tzinfo=UTC)),
    )
    # Reading order, except for CJK, whose spaces only the drawing order (-raw) keeps.
    found = pdftotext(pdf, tmp_path, raw=script == "CJK")
    assert found.count(name) >= 3, found  # paragraph, table cell, footer


def test_the_layout_of_a_mixed_arabic_and_latin_name_reads_right():
    # Drawn left to right: "Amir", then عبد الله with الله on the left (read right to left,
    # عبد first), then "Khan".
    assert scripts.visual("Amir عبد الله Khan") == "Amir " + "هللا دبع" + " Khan"
    drawn = scripts.segments("Amir عبد الله Khan", shaping=True)
    assert [s.text for s in drawn if s.rtl and s.text.strip()] == ["الله", "عبد"]


def test_hebrew_with_digits_keeps_the_number_left_to_right():
    # "Flat 12, Herzl Street": the number stays 12, and sits where a Hebrew reader expects it.
    assert scripts.visual("דירה 12 רחוב הרצל") == "לצרה בוחר 12 הריד"
    assert scripts.visual("שרה כהן 1984") == "1984 ןהכ הרש"


def test_brackets_inside_right_to_left_text_are_mirrored():
    assert scripts.visual("(محمد)") == "(دمحم)"
    assert scripts.visual("x محمد (الحسن) y") == "x (نسحلا) دمحم y"


BIDI_ALPHABET = st.sampled_from(
    list("محمدالحسنعبد") + list("שרהכןדוד") + list("0123456789") + list("AbcXyz")
    + [" ", " ", "(", ")", "-", ",", ".", ":", "٣", "۴"]
)  # fmt: skip


UNMIRROR = str.maketrans({")": "("})


@given(st.lists(BIDI_ALPHABET, min_size=1, max_size=40).map("".join))
def test_layout_matches_the_unicode_bidirectional_algorithm(value):
    # python-bidi's own reordering (unicode-bidi) is the reference for the order: the segments
    # drawn left to right must spell what it displays, trailing spaces aside (rule L1). It does
    # not mirror brackets (rule L4), which the layout does (see the test above), so bracket
    # direction is left out of the comparison.
    drawn = scripts.visual(value).rstrip().translate(UNMIRROR)
    assert drawn == str(get_display(value, base_dir="L")).rstrip().translate(UNMIRROR)


@given(st.sampled_from(sorted(DEMO_NAMES.values())), st.sampled_from([" ", "\u00a0", "-", "."]))
def test_no_character_is_drawn_in_a_font_without_its_glyph(name, joiner):
    value = name.replace(" ", joiner) + f"{joiner}{name}"
    for segment in scripts.segments(value):
        for char in segment.text:
            assert scripts.has_glyph(segment.font, char), (char, segment.font)


def test_a_space_between_cjk_words_is_not_a_box():
    [cjk] = [f for f in scripts.SCRIPT_FONTS if f.key == "CJK"]
    assert not scripts.has_glyph(cjk, " ")  # the subset has no space...
    keys = scripts.font_keys("王 芳")
    assert keys[0] is cjk and keys[1] is None  # ...so DejaVu Sans draws it


def test_markup_is_escaped_and_names_with_markup_characters_survive():
    s = styles()
    pdf = build_pdf(
        [text("O'Connor <b>& Smith-Jones</b>", s["body"])],
        Provenance("Names", "x", datetime(2026, 11, 2, tzinfo=UTC)),
    )
    assert "O'Connor <b>& Smith-Jones</b>" in all_text(pdf)
