"""The anonymiser on a corpus of dirty Dutch notes (anonymiser_corpus.py): no person recognisable, no contact
detail or number left, no municipality named that may not be, and the ordinary words and consented
municipalities still there as written. All notes in one test, so a report lists every note that fails."""

from __future__ import annotations

import re
import time

from services.reporting.anonymise import COMMON_WORDS, WORD, Anonymiser, NameKey, fold, name_digests
from services.reporting.contacts import INVISIBLE
from services.reporting.domain import Case, Municipality, Trio
from services.reporting.person_names import PARTICLES
from services.reporting.views import anonymiser_for
from tests.unit.anonymiser_corpus import CORPUS, MUNICIPALITIES, OTHER_PEOPLE, OWN_PEOPLE, Note

KEY = NameKey.generate()


def corpus_anonymiser() -> Anonymiser:
    own: dict = {}
    for name in OWN_PEOPLE:
        own.update(name_digests(KEY, name))
    other = {d: k for name in OTHER_PEOPLE for d, k in name_digests(KEY, name).items() if k == "always"}
    trios, elsewhere = [], []
    for n, (code, name, consented, here) in enumerate(MUNICIPALITIES):
        municipality = Municipality(code, name, "Gelderland", 50000, "middelgroot", False)
        if here:
            case = Case("Casus", "De Burgt", "Samenvatting", ["fysiek"])
            trios.append(
                Trio(f"r{n}", "2027-najaar", municipality=municipality, case=case, publish_municipality_name=consented)
            )
        else:
            elsewhere.append((municipality, consented))
    return anonymiser_for(KEY, own, trios, other_names=other, elsewhere=elsewhere)


def words_of(text: str) -> list[tuple[str, bool]]:
    return [(fold(w), w[0].isupper()) for w in WORD.findall(text)]


def problems(note: Note, out: str) -> list[str]:
    found = []
    out = INVISIBLE.sub("", out)  # a reader does not see them: they hide nothing from a reader
    written = words_of(out)
    sequence = " ".join(w for w, _ in written)
    for person in note.people:
        whole = " ".join(fold(w) for w in WORD.findall(person))
        if " " in whole and re.search(rf"\b{whole}\b", sequence):
            found.append(f"names {person!r}")
        for word in (fold(w) for w in WORD.findall(person)):
            if len(word) < 2 or word in PARTICLES:
                continue
            if (word, True) in written or (word not in COMMON_WORDS and (word, False) in written):
                found.append(f"names {person!r} ({word})")
    compact = re.sub(r"[\W_]", "", out).upper()
    for secret in note.secrets:
        local = re.split(r"[@\s\[(]", secret)[0]
        if "@" in secret or " at " in secret or "[at]" in secret or "(at)" in secret:
            if local.casefold() in out.casefold():
                found.append(f"shows the address {secret!r}")
        elif re.sub(r"[\W_]", "", secret).upper() in compact:
            found.append(f"shows {secret!r}")
    for place in note.places:
        name = fold(WORD.findall(place)[-1])
        if (name, True) in written or (name not in COMMON_WORDS and (name, False) in written):
            found.append(f"names {place!r}")
        if re.search(rf"gemeente\s+{name}\b", fold(out)):
            found.append(f"names {place!r} after 'gemeente'")
    found += [f"lost {kept!r}" for kept in note.keep if kept not in out]
    return found


def test_no_note_of_the_corpus_names_anyone_or_loses_an_ordinary_word() -> None:
    clean = corpus_anonymiser()
    started = time.perf_counter()
    outcomes = [(note, clean.clean(note.text)) for note in CORPUS]
    elapsed = time.perf_counter() - started
    failures = [f"{note.text!r} -> {out!r}: {'; '.join(p)}" for note, out in outcomes if (p := problems(note, out))]
    assert not failures, f"{len(failures)} of {len(CORPUS)} notes:\n" + "\n".join(failures)
    assert len(CORPUS) >= 200
    assert elapsed < 2.0, f"{len(CORPUS)} notes took {elapsed:.2f} s"
