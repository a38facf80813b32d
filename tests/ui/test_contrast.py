"""WCAG 2.2 AA contrast of the style sheet's colours: text at least 4.5:1 against what it sits
on; focus rings, field borders and other non-text indicators at least 3:1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim_desk.ui.person.table import BADGE_COLOURS

STYLE = Path(__file__).resolve().parents[2] / "resources" / "style.qss"
#: What windows and pages are painted on (QMainWindow, QDialog, #content; cards, fields).
PAGES = ("#f0f4f5", "#ffffff")
TEXT = "#212b32"  # QWidget { color } : every widget's text unless a rule says otherwise
_HEX = re.compile(r"#[0-9a-fA-F]{6}\b")


def luminance(colour: str) -> float:
    """Relative luminance (WCAG 2.2)."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def rules() -> list[tuple[str, dict[str, str]]]:
    """(selector, {property: value}) for every rule of the style sheet, comments dropped."""
    text = re.sub(r"/\*.*?\*/", "", STYLE.read_text(encoding="utf-8"), flags=re.S)
    found = []
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text):
        props = {}
        for declaration in body.split(";"):
            if ":" in declaration:
                name, value = declaration.split(":", 1)
                props[name.strip()] = value.strip()
        for selector in selectors.split(","):
            found.append((" ".join(selector.split()), props))
    return found


def _colour(value: str | None) -> str | None:
    match = _HEX.search(value or "")
    return match.group(0).lower() if match else None


def _inactive(selector: str) -> bool:
    """Disabled controls are exempt from contrast minimums (WCAG 1.4.3, "inactive")."""
    return ":disabled" in selector or ":off" in selector


def _base(selector: str) -> str:
    return re.sub(r"(?<!:):[a-z!\-]+", "", selector).strip()


def _inherited(selector: str, colours: dict[str, str]) -> str:
    """The text colour a rule's widget has from a less specific rule (state by state)."""
    parts = re.split(r"(?<!:)(?=:[a-z!])", selector)
    while len(parts) > 1:
        parts.pop()
        found = colours.get("".join(parts))
        if found:
            return found
    # A subcontrol (#navigation::item) has its widget's colour.
    return colours.get(selector.split("::")[0], TEXT)


def text_pairs() -> list[tuple[str, str, str]]:
    """(selector, text colour, background) for every text colour the sheet sets or paints."""
    sheet = rules()
    colours = {sel: _colour(p.get("color")) for sel, p in sheet if _colour(p.get("color"))}
    pairs = []
    for selector, props in sheet:
        if _inactive(selector) or ("::" in selector and "item" not in selector):
            continue
        fore = _colour(props.get("color"))
        back = _colour(props.get("background") or props.get("background-color"))
        if back is None and fore is None:
            continue
        if fore is None:
            fore = _inherited(selector, colours)
        if "transparent" in (props.get("background") or "") or back is None:
            for page in PAGES if "#navigation" not in selector else ("#003087",):
                pairs.append((selector, fore, page))
        else:
            pairs.append((selector, fore, back))
        selection = _colour(props.get("selection-color"))
        selected = _colour(props.get("selection-background-color"))
        if selection and selected:
            pairs.append((f"{selector} (selected)", selection, selected))
    pairs += [(f"table badge {name}", fore, back) for name, (back, fore) in BADGE_COLOURS.items()]
    return pairs


def indicator_pairs() -> list[tuple[str, str, str]]:
    """(selector, indicator colour, background) for focus rings and field borders."""
    pairs = []
    for selector, props in rules():
        if _inactive(selector):
            continue
        border = props.get("border", "")
        colour = _colour(border)
        if colour is None or "transparent" in border:
            continue
        wanted = (
            ":focus" in selector
            or 'invalid="true"' in selector
            or any(
                kind in selector
                for kind in ("QLineEdit", "QComboBox", "QSpinBox", "QPlainTextEdit")
            )
        )
        if not wanted or "::" in selector:
            continue
        backgrounds = PAGES
        own = _colour(props.get("background"))
        pairs += [(selector, colour, back) for back in backgrounds if back != own or own is None]
    return pairs


def test_the_style_sheet_is_read():
    assert len(rules()) > 60
    assert len(text_pairs()) > 30 and len(indicator_pairs()) > 10


@pytest.mark.parametrize(("selector", "fore", "back"), text_pairs())
def test_text_contrast_is_at_least_4_5_to_1(selector, fore, back):
    assert contrast(fore, back) >= 4.5, f"{selector}: {fore} on {back}"


@pytest.mark.parametrize(("selector", "ring", "back"), indicator_pairs())
def test_focus_rings_and_field_borders_are_at_least_3_to_1(selector, ring, back):
    assert contrast(ring, back) >= 3.0, f"{selector}: {ring} against {back}"


def test_focus_rings_are_drawn_for_every_kind_of_control():
    focused = {
        _base(sel) for sel, props in rules() if ":focus" in sel and _colour(props.get("border"))
    }
    for control in ("QPushButton", "QLineEdit", "QComboBox", "QSpinBox", "QPlainTextEdit",
                    "QTableView", "QListView", "QCheckBox", "QRadioButton"):  # fmt: skip
        assert control in focused


def test_the_contrast_formula_matches_published_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
