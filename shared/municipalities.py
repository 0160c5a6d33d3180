"""The CBS municipalities as reference data: read from the CSV files, classified by size, and found by name or code.

Shared by registration (its rules and its form) and the chat front end (its questions), which must agree on which
municipality a participant means and on its size class. The files are in services/registration/data (README there).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shared.settings import SettingsError

SizeClass = Literal["klein", "middelgroot", "groot"]
MAX_QUERY_LENGTH = 100
MAX_SEARCH_RESULTS = 20
CODE = re.compile(r"\bGM\d{4}\b", re.IGNORECASE)


@dataclass(frozen=True)
class SizeBand:
    """Inhabitants of a middelgroot municipality, both ends inclusive."""

    min_inhabitants: int
    max_inhabitants: int


def size_class(inhabitants: int, m50_member: bool, band: SizeBand) -> SizeClass:
    if m50_member or band.min_inhabitants <= inhabitants <= band.max_inhabitants:
        return "middelgroot"
    return "klein" if inhabitants < band.min_inhabitants else "groot"


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    province: str
    inhabitants: int
    m50_member: bool
    size_class: SizeClass

    @classmethod
    def classified(
        cls, code: str, name: str, province: str, inhabitants: int, m50_member: bool, band: SizeBand
    ) -> Municipality:
        return cls(code, name, province, inhabitants, m50_member, size_class(inhabitants, m50_member, band))


def read_municipalities(
    path: Path, m50_file: Path, band: SizeBand, m50_setting: str = "REGISTRATION_M50_FILE"
) -> list[Municipality]:
    """The municipalities in `path` (gemeenten.csv), classified with `band` and the M50 members in `m50_file`.
    `m50_setting` names the variable that chose the M50 file, for the error when it has no gm_code column."""
    m50 = read_codes(m50_file, m50_setting)
    with path.open(encoding="utf-8", newline="") as f:
        return [
            Municipality.classified(
                row["gm_code"], row["naam"], row["provincie"], int(row["inwoners"]), row["gm_code"] in m50, band
            )
            for row in csv.DictReader(f)
        ]


def read_codes(path: Path, setting: str) -> set[str]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if "gm_code" not in (reader.fieldnames or []):
            raise SettingsError(f"{setting}: {path} has no gm_code column")
        return {row["gm_code"].strip() for row in reader}


def normalized(text: str) -> str:
    """Case- and accent-insensitive form of a name: `Súdwest-Fryslân` -> `sudwest-fryslan`."""
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


class MunicipalityIndex:
    """Finds municipalities by (part of) their name or their CBS code, for the autocomplete, the form and the chat."""

    def __init__(self, municipalities: Iterable[Municipality]) -> None:
        self._all = sorted(municipalities, key=lambda m: normalized(m.name))
        self._by_code = {m.code: m for m in self._all}
        self._by_name = {normalized(m.name): m for m in self._all}

    def __iter__(self) -> Iterator[Municipality]:
        return iter(self._all)

    def get(self, code: str) -> Municipality | None:
        return self._by_code.get(code.strip().upper())

    def search(self, query: str, limit: int = MAX_SEARCH_RESULTS) -> list[Municipality]:
        q = normalized(query[:MAX_QUERY_LENGTH])
        if not q:
            return []

        def rank(m: Municipality) -> int | None:
            name = normalized(m.name)
            if m.code.casefold() == q or name == q:
                return 0
            if name.startswith(q) or m.code.casefold().startswith(q):
                return 1
            if any(word.startswith(q) for word in re.split(r"[\s\-'()]+", name)):
                return 2
            return 3 if q in name else None

        ranked = [(r, m) for m in self._all if (r := rank(m)) is not None]
        return [m for _, m in sorted(ranked, key=lambda pair: pair[0])][:limit]

    def resolve(self, text: str) -> tuple[Municipality | None, list[Municipality]]:
        """The municipality the participant means, or None with the candidates when that is not clear."""
        code = CODE.search(text)
        if code:
            found = self.get(code.group())
            return found, []
        exact = self._by_name.get(normalized(text))
        if exact:
            return exact, []
        candidates = self.search(text, limit=5)
        return (candidates[0], []) if len(candidates) == 1 else (None, candidates)
