"""Rebuilds the Noto fonts bundled in resources/fonts/ from Debian's packages.

Not part of the application: run it by hand when the bundled fonts should change.

    apt-get install -y fonts-noto-core fonts-noto-cjk
    .venv/bin/pip install fonttools
    .venv/bin/python resources/fonts/build_fonts.py

What it does (see README.md beside it for why):

* copies the regular weight of one Noto Sans font per script that DejaVu Sans lacks, unchanged;
* cuts Noto Sans CJK SC (an OpenType/CFF collection of 65,535 glyphs, 19 MB) down to the
  characters of GB 2312 (6,763 simplified Han characters, kana, symbols), the Han characters of
  Big5 level 1 (5,401 common traditional characters), the 2,350 Hangul syllables of KS X 1001,
  CJK punctuation and full-width forms, without OpenType layout features; then converts its
  cubic CFF outlines to quadratic TrueType outlines (reportlab embeds TrueType outlines only).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont, newTable

HERE = Path(__file__).resolve().parent
NOTO = Path("/usr/share/fonts/truetype/noto")
CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
CJK_SC_INDEX = 2  # 0 JP, 1 KR, 2 SC, 3 TC, 4 HK in Debian's collection
CJK_OUT = "NotoSansCJKsc-SimDeskSubset.ttf"

SCRIPT_FONTS = (
    "Arabic",
    "Hebrew",
    "Devanagari",
    "Bengali",
    "Gurmukhi",
    "Gujarati",
    "Tamil",
    "Telugu",
    "Kannada",
    "Malayalam",
    "Sinhala",
    "Thai",
    "Ethiopic",
)


def _decoded(codec: str, firsts: range, seconds: range) -> set[int]:
    found: set[int] = set()
    for b1 in firsts:
        for b2 in seconds:
            try:
                text = bytes((b1, b2)).decode(codec)
            except UnicodeDecodeError:
                continue
            found.update(ord(c) for c in text)
    return found


def cjk_codepoints() -> set[int]:
    wanted = _decoded("gb2312", range(0xA1, 0xF8), range(0xA1, 0xFF))
    # Big5 level 1: the common traditional characters (lead bytes A4-C6).
    big5 = _decoded("big5", range(0xA4, 0xC7), range(0x40, 0xFF))
    wanted |= {c for c in big5 if 0x4E00 <= c <= 0x9FFF}
    # KS X 1001 Hangul syllables (EUC-KR rows B0-C8).
    hangul = _decoded("euc_kr", range(0xB0, 0xC9), range(0xA1, 0xFF))
    wanted |= {c for c in hangul if 0xAC00 <= c <= 0xD7A3}
    wanted |= set(range(0x3000, 0x3040))  # CJK symbols and punctuation
    wanted |= set(range(0x3040, 0x3100))  # hiragana and katakana
    wanted |= set(range(0xFF00, 0xFFF0))  # full-width and half-width forms
    wanted |= {0x30FB, 0x00B7, 0x2014, 0x2026}
    return wanted


def _to_truetype(font: TTFont) -> None:
    """Replaces CFF outlines with quadratic TrueType ones (the otf2ttf recipe of fontTools)."""
    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    for tag in ("CFF ", "VORG"):
        if tag in font:
            del font[tag]
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for field in (
        "maxZones",
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    font["head"].indexToLocFormat = 0
    font["head"].glyphDataFormat = 0
    post = font["post"]
    post.formatType = 3.0  # no glyph names: CID names mean nothing and cost space
    font.sfntVersion = "\x00\x01\x00\x00"


def _rename(font: TTFont, family: str, postscript: str) -> None:
    names = font["name"]
    for record in list(names.names):
        if record.nameID in (1, 3, 4, 6, 16, 17, 18):
            names.removeNames(nameID=record.nameID)
    names.setName(family, 1, 3, 1, 0x409)
    names.setName("Regular", 2, 3, 1, 0x409)
    names.setName(f"{family} Regular", 3, 3, 1, 0x409)
    names.setName(family, 4, 3, 1, 0x409)
    names.setName(postscript, 6, 3, 1, 0x409)


def build_cjk(target: Path) -> None:
    collection = TTCollection(str(CJK))
    font = collection.fonts[CJK_SC_INDEX]
    options = subset.Options()
    # Names need no CJK layout features (vertical forms, alternates): dropping them keeps
    # the subset near 3 MB instead of 6 MB.
    options.layout_features = []
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.desubroutinize = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(cjk_codepoints()))
    subsetter.subset(font)
    _to_truetype(font)
    # The subset is a Modified Version under the OFL: it carries its own name.
    _rename(font, "Noto Sans CJK SC SIM Desk subset", "NotoSansCJKsc-SimDeskSubset")
    font.save(str(target))


def main() -> int:
    for script in SCRIPT_FONTS:
        name = f"NotoSans{script}-Regular.ttf"
        shutil.copyfile(NOTO / name, HERE / name)
    build_cjk(HERE / CJK_OUT)
    for path in sorted(HERE.glob("Noto*.ttf")):
        print(f"{path.stat().st_size / 1024:8.0f} KiB  {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
