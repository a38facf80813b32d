"""Names in any script: a font per script run, right-to-left runs in visual order, shaping.

reportlab embeds one font per text run, so text is split into runs by script and each run that
DejaVu Sans cannot draw well is wrapped in ``<font name=...>`` for the bundled Noto font of its
script (resources/fonts/README.md lists them). Spaces and punctuation between two letters of the
same script stay in that script's run, so a name in one script is one run.

Complex scripts (Arabic, the Indic scripts, Thai, Sinhala) and letters with combining marks are
shaped by HarfBuzz through reportlab's optional ``uharfbuzz`` support: paragraphs that contain
them get a style with ``shaping=1``. reportlab's own right-to-left support needs ``rlbidi``,
which is not published on PyPI, so right-to-left runs are put into visual order here: within a
left-to-right paragraph, the words of a right-to-left run are reversed (HarfBuzz already returns
each word's glyphs in visual order). Without ``uharfbuzz`` each right-to-left word's characters
are reversed too, which keeps the reading order right but leaves Arabic letters unjoined.
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
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


def _quiet_shaping_features() -> None:
    # WORKAROUND: reportlab shapes every word with kern, liga and dlig on and offers no option.
    # Discretionary ligatures change how a name is written (Noto Sans Arabic turns محمد into a
    # vowelled ligature) and Latin ligatures (ﬃ) spoil copied and extracted text, so both go.
    # Required ligatures (Arabic lam-alef, Indic conjuncts) come from other features and stay.
    defaults = getattr(ttfonts.shapeFragWord, "__defaults__", None)
    if defaults and isinstance(defaults[0], dict):
        defaults[0].update(kern=True, liga=False, dlig=False)


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


def _is_mark(char: str) -> bool:
    return unicodedata.category(char) in ("Mn", "Mc", "Me") or char in "\u200c\u200d"


def _is_letter(char: str) -> bool:
    return unicodedata.category(char)[0] in "LN" and not _is_mark(char)


@dataclass(frozen=True)
class Run:
    font: ScriptFont | None
    text: str


def runs(text: str) -> list[Run]:
    """Splits text into runs of one font each, in logical order."""
    keys: list[ScriptFont | None] = []
    for index, char in enumerate(text):
        if _is_mark(char) and keys:
            keys.append(keys[-1])  # a combining mark belongs with the letter before it
        elif _is_letter(char) or script_of(char) is not None:
            keys.append(script_of(char))
        else:
            keys.append(_neutral_font(text, index, keys))
    result: list[Run] = []
    for char, key in zip(text, keys, strict=True):
        if result and result[-1].font is key:
            result[-1] = Run(key, result[-1].text + char)
        else:
            result.append(Run(key, char))
    return result


def _neutral_font(text: str, index: int, keys: list[ScriptFont | None]) -> ScriptFont | None:
    """Spaces and punctuation join a script run only when it goes on after them."""
    before = next((keys[i] for i in range(index - 1, -1, -1) if _is_letter(text[i])), _NO_SCRIPT)
    after = next((script_of(c) for c in text[index + 1 :] if _is_letter(c)), _NO_SCRIPT)
    if before is not _NO_SCRIPT and before is after:
        return before  # type: ignore[return-value]
    return None


_NO_SCRIPT = object()


def _clusters(word: str) -> list[str]:
    clusters: list[str] = []
    for char in word:
        if clusters and _is_mark(char):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def visual(run: Run) -> str:
    """A run's text in the order it is drawn from left to right."""
    if run.font is None or not run.font.rtl:
        return run.text
    words = run.text.split(" ")
    if not shaping_available():
        words = ["".join(reversed(_clusters(w))) for w in words]
    return " ".join(reversed(words))


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
    """Escapes plain text for a Paragraph and gives each script run its font."""
    if text is None:
        return ""
    parts = []
    for run in runs(str(text)):
        body = escape(visual(run))
        if run.font is None:
            parts.append(body)
        else:
            parts.append(f'<font name="{register_script_font(run.font)}">{body}</font>')
    return "".join(parts)


def shaped_style(style: ParagraphStyle) -> ParagraphStyle:
    """The same style with HarfBuzz shaping on (cached per style)."""
    _quiet_shaping_features()
    cached = _SHAPED.get(style.name)
    if cached is None or cached.parent is not style:
        cached = ParagraphStyle(f"{style.name}-shaped", parent=style, shaping=1)
        _SHAPED[style.name] = cached
    return cached


_SHAPED: dict[str, ParagraphStyle] = {}
