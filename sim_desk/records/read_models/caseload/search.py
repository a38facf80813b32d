"""Names as people search for them: folded case and accents, any script, kept per sign-in."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sim_desk.records.unit_of_work import UnlockedVault

# -- names ----------------------------------------------------------------------------------

# Letters that Unicode does not decompose into a base letter and an accent.
_EXTRA_FOLDS = {"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "ŀ": "l", "æ": "ae", "œ": "oe"}


class _CharacterFolds(dict[int, str | None]):
    """A ``str.translate`` table worked out one character at a time as characters turn up:
    accents and other combining marks and punctuation dropped, any space made a plain space."""

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        if unicodedata.category(char)[0] in "MP":
            value = None
        elif char.isspace():
            value = " "
        else:
            value = _EXTRA_FOLDS.get(char, char)
        self[code] = value
        return value


_FOLDS = _CharacterFolds()


def search_key(text: str) -> str:
    """The form names and search text are compared in: case, accents and punctuation ignored."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return " ".join(folded.translate(_FOLDS).split())


def display_name(given: str, family: str, preferred: str | None = None) -> str:
    """Given and family name; a preferred name that differs from the given one follows in
    brackets, so the name the person uses is never hidden: "Zofia Wójcik (Zosia)"."""
    name = " ".join(part for part in (given, family) if part)
    if preferred and preferred != given:
        return f"{name} ({preferred})" if name else preferred
    return name


#: Past this many texts, the memo of search keys starts again (one search rebuilds it).
_FOLDED_KEPT = 50_000


class _Folded(dict[str, str]):
    """:func:`search_key` of every text folded so far, worked out once each."""

    def __missing__(self, text: str) -> str:
        value = self[text] = search_key(text)
        return value


def folded_names(vault: UnlockedVault) -> _Folded:
    """The search keys of names and references already folded in this sign-in.

    Each keystroke matches (and sorts) every visible person, and folding 6,000 names took
    longer than the query that reads them. A key depends on its text alone, so it is kept in
    the vault's cache, which is emptied on lock.
    """
    memo = vault.cache.get("caseload.folded")
    if memo is None or len(memo) > _FOLDED_KEPT:
        memo = vault.cache["caseload.folded"] = _Folded()
    return memo


@dataclass(frozen=True)
class Query:
    """Search text split into what it can match."""

    words: tuple[str, ...]
    digits: str | None
    reference: str

    @classmethod
    def parse(cls, text: str) -> Query:
        stripped = "".join(c for c in text if not c.isspace() and c != "-")
        digits = stripped if stripped.isascii() and stripped.isdigit() else None
        key = search_key(text)
        return cls(tuple(key.split()), digits, key.replace(" ", ""))

    @property
    def empty(self) -> bool:
        return not self.words and not self.digits

    def matches(
        self,
        given: str,
        family: str,
        preferred: str | None,
        nhs_number: str | None,
        police_reference: str | None,
        folded: _Folded | None = None,
    ) -> bool:
        if self.empty:
            return True
        if self.digits is not None and nhs_number is not None and self.digits in nhs_number:
            return True
        fold = search_key if folded is None else folded.__getitem__
        if (
            police_reference is not None
            and self.reference
            and self.reference in fold(police_reference).replace(" ", "")
        ):
            return True
        if self.digits is not None:
            return False  # a number is never part of a name
        g, f, p = fold(given), fold(family), fold(preferred or "")
        haystack = "\n".join((g, f, p, g + f, f + g))
        return all(word in haystack for word in self.words)
