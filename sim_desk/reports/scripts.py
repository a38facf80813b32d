"""Names in any script: a font per script run, the Unicode Bidirectional Algorithm, shaping, and
text that can be found and copied back out of the PDF.

**Fonts.** reportlab embeds one font per text run, so text is split into runs by script and
each run that DejaVu Sans cannot draw well is wrapped in ``<font name=...>`` for the bundled
Noto font of its script (resources/fonts/README.md lists them). A space or punctuation mark
between two letters of the same script stays in that script's run only if that font has a glyph
for it (the CJK subset has no space), so no character is ever drawn as an empty box for want of
a glyph the other font has.

**Direction.** The paragraphs are left to right. Right-to-left text is laid out by the Unicode
Bidirectional Algorithm as implemented by the unicode-bidi crate, through ``python-bidi``: its
embedding levels give the visual order of the characters, and the text is cut into *segments*,
each one font, one level and one word. A right-to-left segment is handed to HarfBuzz in logical
order and shaped right to left (letters joined, glyphs returned in visual order); anything else
is written in visual order, with mirrored brackets where the level is right to left.

**Shaping.** Complex scripts (Arabic, the Indic scripts, Thai, Sinhala) and letters with
combining marks are shaped by HarfBuzz (``uharfbuzz``). reportlab's own shaping shapes a whole
word in the first piece's font and guesses its direction from the script, which breaks a word
such as "(王芳)" or Urdu digits inside Arabic text; so :func:`install_shaping` replaces it with
:func:`_shape_frag_word`, which shapes each piece in its own font and the direction the
algorithm gave it. Without ``uharfbuzz`` right-to-left segments are written in visual order,
which keeps the reading order right but leaves Arabic letters unjoined.

**Finding text again.** A shaped glyph does not always stand for one character: a Devanagari
reph or conjunct stands for several, an Arabic glyph for a joining form. reportlab maps such
glyphs to private-use codes, so copying or searching the PDF would lose letters. Every shaped
piece whose glyphs do not map back to its characters is therefore wrapped in a marked-content
span with ``/ActualText`` holding the characters (PDF 32000-1, 14.9.4), which poppler, pdf.js
and Acrobat read for search, copy and extraction.
"""

from __future__ import annotations

import functools
import re
import sys
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFont


def fonts_dir() -> Path:
    """resources/fonts in a source checkout, or inside a PyInstaller bundle."""
    frozen = getattr(sys, "_MEIPASS", None)
    base = Path(frozen) if frozen else Path(__file__).resolve().parent.parent.parent
    return base / "resources" / "fonts"


@dataclass(frozen=True)
class ScriptFont:
    key: str
    file: str
    rtl: bool
    complex: bool  # needs shaping to be legible
    ranges: tuple[tuple[int, int], ...]

    @property
    def font_name(self) -> str:
        return f"SimNoto{self.key}"


SCRIPT_FONTS: tuple[ScriptFont, ...] = (
    ScriptFont(
        "Arabic",
        "NotoSansArabic-Regular.ttf",
        True,
        True,
        ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    ),
    ScriptFont("Hebrew", "NotoSansHebrew-Regular.ttf", True, True, ((0x0590, 0x05FF),)),
    ScriptFont(
        "Devanagari",
        "NotoSansDevanagari-Regular.ttf",
        False,
        True,
        ((0x0900, 0x097F), (0xA8E0, 0xA8FF)),
    ),
    ScriptFont("Bengali", "NotoSansBengali-Regular.ttf", False, True, ((0x0980, 0x09FF),)),
    ScriptFont("Gurmukhi", "NotoSansGurmukhi-Regular.ttf", False, True, ((0x0A00, 0x0A7F),)),
    ScriptFont("Gujarati", "NotoSansGujarati-Regular.ttf", False, True, ((0x0A80, 0x0AFF),)),
    ScriptFont("Tamil", "NotoSansTamil-Regular.ttf", False, True, ((0x0B80, 0x0BFF),)),
    ScriptFont("Telugu", "NotoSansTelugu-Regular.ttf", False, True, ((0x0C00, 0x0C7F),)),
    ScriptFont("Kannada", "NotoSansKannada-Regular.ttf", False, True, ((0x0C80, 0x0CFF),)),
    ScriptFont("Malayalam", "NotoSansMalayalam-Regular.ttf", False, True, ((0x0D00, 0x0D7F),)),
    ScriptFont("Sinhala", "NotoSansSinhala-Regular.ttf", False, True, ((0x0D80, 0x0DFF),)),
    ScriptFont("Thai", "NotoSansThai-Regular.ttf", False, True, ((0x0E00, 0x0E7F),)),
    ScriptFont(
        "Ethiopic",
        "NotoSansEthiopic-Regular.ttf",
        False,
        False,
        ((0x1200, 0x139F), (0x2D80, 0x2DDF), (0xAB00, 0xAB2F)),
    ),
    ScriptFont(
        "CJK",
        "NotoSansCJKsc-SimDeskSubset.ttf",
        False,
        False,
        (
            (0x1100, 0x11FF),
            (0x2E80, 0x2FDF),
            (0x3000, 0x31FF),
            (0x3400, 0x4DBF),
            (0x4E00, 0x9FFF),
            (0xAC00, 0xD7AF),
            (0xF900, 0xFAFF),
            (0xFF00, 0xFFEF),
        ),
    ),
)

_REGISTERED: set[str] = set()


def shaping_available() -> bool:
    """Whether HarfBuzz shaping is installed (the ``uharfbuzz`` package)."""
    return ttfonts.uharfbuzz is not None


def register_script_font(font: ScriptFont) -> str:
    """Embeds a script's font on first use (the CJK subset is 3 MB: only load it if needed)."""
    name = font.font_name
    if name not in _REGISTERED:
        pdfmetrics.registerFont(TTFont(name, str(fonts_dir() / font.file)))
        # One weight only: bold and italic text in this script uses the regular face.
        pdfmetrics.registerFontFamily(name, normal=name, bold=name, italic=name, boldItalic=name)
        _REGISTERED.add(name)
    return name


@functools.lru_cache(maxsize=4096)
def script_of(char: str) -> ScriptFont | None:
    """The bundled script font for a character, or None for DejaVu Sans (Latin, Greek, ...)."""
    code = ord(char)
    for font in SCRIPT_FONTS:
        for low, high in font.ranges:
            if low <= code <= high:
                return font
    return None


def has_glyph(font: ScriptFont | None, char: str) -> bool:
    """Whether the font (None: DejaVu Sans) has a glyph of its own for the character."""
    return ord(char) in _covered(font)


@functools.cache
def _covered(font: ScriptFont | None) -> frozenset[int]:
    if font is None:
        face = TTFont("SimScriptsDejaVu", str(fonts_dir() / "DejaVuSans.ttf")).face
    else:
        face = pdfmetrics.getFont(register_script_font(font)).face
    return frozenset(face.charToGlyph)


def _is_mark(char: str) -> bool:
    return unicodedata.category(char) in ("Mn", "Mc", "Me") or char in "\u200c\u200d"


def _is_letter(char: str) -> bool:
    return unicodedata.category(char)[0] in "LN" and not _is_mark(char)


@dataclass(frozen=True)
class Run:
    font: ScriptFont | None
    text: str


def font_keys(text: str) -> list[ScriptFont | None]:
    """The font each character of ``text`` is drawn in (None: DejaVu Sans)."""
    keys: list[ScriptFont | None] = []
    for index, char in enumerate(text):
        if _is_mark(char) and keys:
            keys.append(keys[-1])  # a combining mark belongs with the letter before it
        elif _is_letter(char) or script_of(char) is not None:
            keys.append(script_of(char))
        else:
            keys.append(_neutral_font(text, index, keys))
    return keys


def runs(text: str) -> list[Run]:
    """Splits text into runs of one font each, in logical order."""
    result: list[Run] = []
    for char, key in zip(text, font_keys(text), strict=True):
        if result and result[-1].font is key:
            result[-1] = Run(key, result[-1].text + char)
        else:
            result.append(Run(key, char))
    return result


def _neutral_font(text: str, index: int, keys: list[ScriptFont | None]) -> ScriptFont | None:
    """Spaces and punctuation join a script run when it goes on after them and its font has
    a glyph for them; otherwise DejaVu Sans draws them."""
    before = next((keys[i] for i in range(index - 1, -1, -1) if _is_letter(text[i])), _NO_SCRIPT)
    after = next((script_of(c) for c in text[index + 1 :] if _is_letter(c)), _NO_SCRIPT)
    if before is not _NO_SCRIPT and before is after and has_glyph(after, text[index]):  # type: ignore[arg-type]
        return before  # type: ignore[return-value]
    return None


_NO_SCRIPT = object()

# --------------------------------------------------------------------------------------------
# The Unicode Bidirectional Algorithm (UAX #9), by python-bidi

_LEVEL = re.compile(r"Level\(\s*(\d+),?\s*\)")
_WHITESPACE_CLASSES = frozenset({"WS", "FSI", "LRI", "RLI", "PDI"})


def bidi_levels(text: str) -> list[int]:
    """Each character's resolved embedding level in a left-to-right paragraph: even is left to
    right, odd right to left (rules up to I2 of UAX #9 by unicode-bidi, then L1 here).

    python-bidi returns the levels only in its debug answer (``debug=True``, documented as
    "return the calculated levels"), one per UTF-8 byte; they are read from there.

    Raises:
        RuntimeError: If the installed python-bidi answers in a form this cannot read.
    """
    from bidi import get_display

    debug = str(get_display(text, base_dir="L", debug=True))
    try:
        section = debug.split("levels:", 1)[1].split("paragraphs:", 1)[0]
    except IndexError:
        raise RuntimeError("python-bidi gave no embedding levels") from None
    per_byte = [int(n) for n in _LEVEL.findall(section)]
    if len(per_byte) != len(text.encode("utf-8")):
        raise RuntimeError("python-bidi's embedding levels do not match the text")
    levels, offset = [], 0
    for char in text:
        levels.append(per_byte[offset])
        offset += len(char.encode("utf-8"))
    # L1: whitespace before a segment or paragraph separator, and at the end of the line, takes
    # the paragraph's level, so a trailing space never sits inside a right-to-left run.
    trailing = True
    for i in range(len(text) - 1, -1, -1):
        kind = unicodedata.bidirectional(text[i])
        if kind in ("B", "S"):
            levels[i] = 0
            trailing = True
        elif trailing and kind in _WHITESPACE_CLASSES:
            levels[i] = 0
        else:
            trailing = False
    return levels


def visual_order(levels: Sequence[int]) -> list[int]:
    """Rule L2: the logical indices in the order they are drawn from left to right.

    From the highest level down to the lowest odd level, every run of characters at that level
    or higher is reversed.
    """
    order = list(range(len(levels)))
    odd = [level for level in levels if level % 2]
    if not odd:
        return order
    for level in range(max(levels), min(odd) - 1, -1):
        i = 0
        while i < len(order):
            if levels[order[i]] < level:
                i += 1
                continue
            j = i
            while j < len(order) and levels[order[j]] >= level:
                j += 1
            order[i:j] = order[i:j][::-1]
            i = j
    return order


@functools.lru_cache(maxsize=1)
def _mirrors() -> dict[str, str]:
    from bidi.mirror import MIRRORED

    return dict(MIRRORED)


@dataclass(frozen=True)
class Segment:
    """A piece of text drawn as one unit: one font, one embedding level, no space inside.

    ``text`` is what goes into the PDF, in the order HarfBuzz or reportlab wants it: the
    logical order for a right-to-left segment that will be shaped right to left, otherwise the
    visual order (with brackets mirrored at an odd level).
    """

    font: ScriptFont | None
    level: int
    text: str

    @property
    def rtl(self) -> bool:
        return self.level % 2 == 1


def _shaped_right_to_left(text: str) -> bool:
    """Whether a piece will be shaped right to left: it opens with a strong right-to-left
    letter (rule P2 of UAX #9, the same test :func:`_shape_frag_word` makes)."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


def segments(text: str, *, shaping: bool | None = None) -> list[Segment]:
    """Cuts text into segments in visual order (left to right), ready to be written.

    Args:
        text: Plain text in logical order, any scripts.
        shaping: Whether the text will be shaped by HarfBuzz; by default, whether it can be.
    """
    if not text:
        return []
    if shaping is None:
        shaping = shaping_available()
    keys = font_keys(text)
    levels = bidi_levels(text)
    order = visual_order(levels)
    groups: list[list[int]] = []
    for i in order:
        if groups:
            last = groups[-1][-1]
            same = keys[last] is keys[i] and levels[last] == levels[i]
            if same and text[i] != " " and text[last] != " ":
                groups[-1].append(i)
                continue
        groups.append([i])
    mirrors = _mirrors()
    result = []
    for group in groups:
        level = levels[group[0]]
        logical = "".join(text[i] for i in sorted(group))
        if level % 2 and shaping and _shaped_right_to_left(logical):
            drawn = logical  # HarfBuzz lays it out right to left
        elif level % 2:
            drawn = "".join(mirrors.get(text[i], text[i]) for i in group)
        else:
            drawn = "".join(text[i] for i in group)
        result.append(Segment(keys[group[0]], level, drawn))
    return result


def visual(text: str) -> str:
    """The characters of ``text`` in the order they are drawn from left to right, as a reader
    sees them (right-to-left runs reversed, brackets in them mirrored)."""
    return "".join(s.text for s in segments(text, shaping=False))


def needs_shaping(text: str) -> bool:
    """Whether a paragraph holding this text must be shaped to be legible."""
    if not shaping_available():
        return False
    for char in text:
        font = script_of(char)
        if (font is not None and font.complex) or _is_mark(char):
            return True
    return False


def rich(text: object) -> str:
    """Escapes plain text for a Paragraph, gives each script run its font, and lays out
    right-to-left runs (see the module's notes)."""
    if text is None:
        return ""
    value = str(text)
    if value.isascii():  # nearly every label and figure: nothing to reorder or change font
        return escape(value)
    shaping = needs_shaping(value)
    parts = []
    for segment in segments(value, shaping=shaping):
        body = escape(segment.text)
        if segment.font is None:
            parts.append(body)
        else:
            parts.append(f'<font name="{register_script_font(segment.font)}">{body}</font>')
    return "".join(parts)


def shaped_style(style: ParagraphStyle) -> ParagraphStyle:
    """The same style with HarfBuzz shaping on (cached per style)."""
    install_shaping()
    cached = _SHAPED.get(style.name)
    if cached is None or cached.parent is not style:
        cached = ParagraphStyle(f"{style.name}-shaped", parent=style, shaping=1)
        _SHAPED[style.name] = cached
    return cached


_SHAPED: dict[str, ParagraphStyle] = {}

# --------------------------------------------------------------------------------------------
# Shaping each piece in its own font and direction, and /ActualText for what it drew

#: Kerning on; discretionary ligatures off (Noto Sans Arabic turns محمد into a vowelled
#: ligature, which changes how the name is written) and Latin ligatures off (ﬃ spoils copied
#: text). Required ligatures (lam-alef, Indic conjuncts) come from other features and stay.
SHAPING_FEATURES = {"kern": True, "liga": False, "dlig": False}


class _Source:
    """The characters a shaped piece was made from, where each HarfBuzz cluster starts, and
    whether it was laid out right to left."""

    __slots__ = ("rtl", "starts", "text")

    def __init__(self, text: str, starts: Sequence[int], rtl: bool) -> None:
        self.text = text
        self.starts = sorted(set(starts))
        self.rtl = rtl

    def text_of(self, clusters: set[int]) -> str:
        """The characters of these clusters in the order their glyphs are drawn: logical order
        for left-to-right text, reversed for right to left. Text extraction (poppler's, as
        for glyphs mapped one by one) puts a right-to-left run back into logical order."""
        if len(clusters) == len(self.starts):
            chosen = self.text
        else:
            bounds = [*self.starts, len(self.text)]
            chosen = "".join(
                self.text[start : bounds[k + 1]]
                for k, start in enumerate(self.starts)
                if start in clusters
            )
        return chosen[::-1] if self.rtl else chosen


def _sourced_shape_data() -> type:
    """A ShapeData that also knows the characters its glyph came from (made on first use,
    since reportlab defines ShapeData only where shaping is possible)."""
    base = ttfonts.ShapeData

    class SourcedShapeData(base):  # type: ignore[misc, valid-type]
        source: _Source

    return SourcedShapeData


_SOURCED: type | None = None


def _shape_piece(frag: Any, text: str) -> tuple[float, Any] | None:
    """Shapes one piece of a word in its own font, right to left if it opens with a strong
    right-to-left letter. Returns its width and a reportlab ShapedStr, or None if the font
    cannot be shaped or shaping changed nothing."""
    global _SOURCED
    hb = ttfonts.uharfbuzz
    font = pdfmetrics.getFont(frag.fontName)
    if hb is None or not getattr(font, "shapable", False) or not text:
        return None
    if _SOURCED is None:
        _SOURCED = _sourced_shape_data()
    hb_font = font.hbFont(frag.fontSize)
    buffer = hb.Buffer()
    buffer.cluster_level = hb.BufferClusterLevel.MONOTONE_CHARACTERS
    buffer.add_str(text)
    buffer.guess_segment_properties()
    rtl = _shaped_right_to_left(text)
    buffer.direction = "rtl" if rtl else "ltr"
    hb.shape(hb_font, buffer, SHAPING_FEATURES)
    infos, positions = buffer.glyph_infos, buffer.glyph_positions
    source = _Source(text, [info.cluster for info in infos], rtl)
    size = frag.fontSize / 1000
    chars, data, width, changed = [], [], 0.0, len(infos) != len(text)
    for k, (info, pos) in enumerate(zip(infos, positions, strict=True)):
        gid = info.codepoint
        try:
            code = font.face.glyphToChar[gid][0]
        except KeyError:
            code = font.hbAddPrivate(hb_font.glyph_to_string(gid), gid, pos.x_advance)
        natural = font.face.charWidths[code]
        x_advance = font.pdfScale(pos.x_advance)
        entry = _SOURCED(
            info.cluster,
            x_advance,
            font.pdfScale(pos.y_advance),
            font.pdfScale(pos.x_offset),
            font.pdfScale(pos.y_offset),
            natural,
        )
        entry.source = source
        data.append(entry)
        chars.append(chr(code))
        width += x_advance * size
        changed = changed or (
            k >= len(text)
            or text[k] != chars[-1]
            or pos.x_offset != 0
            or pos.y_offset != 0
            or x_advance != natural
        )
    if not changed:
        return None
    return width, ttfonts.ShapedStr("".join(chars), shapeData=data)


def _shape_frag_word(word: Any, features: object = None, force: bool = False) -> Any:
    """A replacement for reportlab's ``shapeFragWord``: each piece of a word (one font, one
    segment of :func:`segments`) is shaped on its own, in its own font and direction."""
    if isinstance(word, ttfonts.ShapedFragWord):
        return word
    pieces: list[Any] = []
    width = 0.0
    changed = False
    for piece in word[1:]:
        frag, text = piece
        if hasattr(frag, "cbDefn"):
            pieces.append(piece)
            continue
        shaped = _shape_piece(frag, text)
        if shaped is None:
            pieces.append(piece)
            width += pdfmetrics.stringWidth(text, frag.fontName, frag.fontSize)
        else:
            piece_width, shaped_text = shaped
            pieces.append((frag, shaped_text))
            width += piece_width
            changed = True
    if not changed:
        return word
    result = ttfonts.makeShapedFragWord(word)(pieces)
    result.insert(0, width)
    return result


def actual_text(text: str) -> str | None:
    """What a shaped string stands for, where its glyphs do not say it themselves; else None.

    Consecutive glyphs shaped from the same piece give that piece's characters (in the order
    drawn: see ``_Source.text_of``); any other character (a space added between words) stands
    for itself.
    """
    data = getattr(text, "__shapeData__", None)
    if not data:
        return None
    parts: list[str] = []
    source: _Source | None = None
    clusters: set[int] = set()
    for char, entry in zip(text, data, strict=False):
        own = getattr(entry, "source", None)
        if own is not source and source is not None:
            parts.append(source.text_of(clusters))
            clusters = set()
        source = own
        if own is None:
            parts.append(char)
        else:
            clusters.add(entry.cluster)
    if source is not None:
        parts.append(source.text_of(clusters))
    meant = "".join(parts)
    return None if meant == str(text) else meant


def _pdf_text_string(text: str) -> str:
    """A PDF text string in UTF-16BE with its byte-order mark, written as hex."""
    return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"


_INSTALLED = False
_INSTALLING = threading.Lock()  # reports are made on worker threads: patch reportlab once


def install_shaping() -> None:
    """Puts :func:`_shape_frag_word` in place of reportlab's shaping and wraps shaped text in
    ``/ActualText`` spans (once per process; harmless without HarfBuzz)."""
    with _INSTALLING:
        _install_shaping()


def _install_shaping() -> None:
    global _INSTALLED
    if _INSTALLED:
        return
    from reportlab.pdfgen.textobject import PDFTextObject
    from reportlab.platypus import paragraph

    # WORKAROUND: reportlab (4.x, 5.1) shapes a whole word in its first piece's font with the
    # direction HarfBuzz guesses from the script, and offers no hook for either; its
    # paragraphs call the name imported into reportlab.platypus.paragraph.
    paragraph.shapeFragWord = _shape_frag_word  # type: ignore[attr-defined]
    format_text = PDFTextObject._formatText

    # WORKAROUND: reportlab has no marked content for text; shaped glyphs carry private-use
    # codes, so what they stand for is given as /ActualText around them.
    def _format_text(self: PDFTextObject, text: str) -> str:
        drawn = format_text(self, text)
        meant = actual_text(text)
        if meant is None:
            return drawn
        return f"/Span <</ActualText {_pdf_text_string(meant)}>> BDC {drawn} EMC"

    PDFTextObject._formatText = _format_text  # type: ignore[method-assign]
    _INSTALLED = True
