"""A corpus of dirty Dutch session notes for the anonymiser, written for the tests: generated from templates
(every way a person, a municipality or a contact detail is written, in every kind of sentence) plus hand-written
tricky ones. Each note says whom it names (`people`: none may be recognisable afterwards), which secrets it holds
(`secrets`: contact details and numbers, gone afterwards) and what must stay as written (`keep`: ordinary words
that are also names, municipalities that consented).

The edition's world: its own participants and approvers (OWN_PEOPLE), another edition's (OTHER_PEOPLE), people
nobody registered (mentioned by title or with a frequent first name), municipalities that did not consent
(Barneveld, Houten; Nijkerk in another edition) and that did (Veenendaal, Ede).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import cycle

OWN_PEOPLE = (
    "Anna de Vries",
    "Björn Öztürk",
    "Mehmet Yılmaz",
    "Roos Visser",
    "Mark de Wit",
    "Fatima el Amrani",
    "Jan-Willem van den Berg",
    "Sanne Hoogendoorn",
    "Gijsbrecht Oudeboom",
    "Quirine Zwanenburg",
    "Thijs Molenaar",
    "Els Kuiper",
)
OTHER_PEOPLE = ("Wil Bakker", "Pieter Groen", "Hendrika Oosterveld")
# (code, name, consented, own edition)
MUNICIPALITIES = (
    ("GM0203", "Barneveld", False, True),
    ("GM0321", "Houten", False, True),
    ("GM0345", "Veenendaal", True, True),
    ("GM0228", "Ede", True, True),
    ("GM0267", "Nijkerk", False, False),
)


@dataclass(frozen=True)
class Note:
    text: str
    people: tuple[str, ...] = ()  # names as registered or as a person would say them: none may stay
    secrets: tuple[str, ...] = ()  # contact details and numbers: none may stay
    keep: tuple[str, ...] = ()  # exactly as written, still in the published text
    places: tuple[str, ...] = ()  # municipalities that may not be named


# How a person is written in notes: (as written, the person).
OWN_MENTIONS = (
    ("Anna de Vries", "Anna de Vries"),
    ("anna de vries", "Anna de Vries"),
    ("Ann\u00ada de Vries", "Anna de Vries"),
    ("mevrouw De Vries", "Anna de Vries"),
    ("Anna", "Anna de Vries"),
    ("Björn Öztürk", "Björn Öztürk"),
    ("Bjorn Ozturk", "Björn Öztürk"),
    ("Bjoern Oeztuerk", "Björn Öztürk"),
    ("Öz\u200btürk", "Björn Öztürk"),
    ("Mehmet Yilmaz", "Mehmet Yılmaz"),
    ("Yılmaz", "Mehmet Yılmaz"),
    ("Roos Visser", "Roos Visser"),
    ("Roos", "Roos Visser"),
    ("mevr. Visser", "Roos Visser"),
    ("Mark de Wit", "Mark de Wit"),
    ("mark de wit", "Mark de Wit"),
    ("Fatima el Amrani", "Fatima el Amrani"),
    ("fatima", "Fatima el Amrani"),
    ("Jan-Willem van den Berg", "Jan-Willem van den Berg"),
    ("Jan-Willem", "Jan-Willem van den Berg"),
    ("Sanne Hoogendoorn", "Sanne Hoogendoorn"),
    ("Hoogen\u200ddoorn", "Sanne Hoogendoorn"),
    ("Gijsbrecht Oudeboom", "Gijsbrecht Oudeboom"),
    ("\ufeffOudeboom", "Gijsbrecht Oudeboom"),
    ("Quirine Zwanenburg", "Quirine Zwanenburg"),
    ("quirine", "Quirine Zwanenburg"),
    ("Thijs Molenaar", "Thijs Molenaar"),
    ("Els Kuiper", "Els Kuiper"),
)
OTHER_MENTIONS = (
    ("Wil Bakker", "Wil Bakker"),
    ("Pieter Groen", "Pieter Groen"),
    ("Hendrika Oosterveld", "Hendrika Oosterveld"),
    ("Oosterveld", "Hendrika Oosterveld"),
    ("Pie\u00adter Groen", "Pieter Groen"),
)
UNREGISTERED_MENTIONS = (
    ("wethouder Karin Hoekstra", "Karin Hoekstra"),
    ("Karin Hoekstra", "Karin Hoekstra"),
    ("mevrouw Dalmeijer", "Dalmeijer"),
    ("dhr. Terpstra", "Terpstra"),
    ("mw. J. Zwart", "Zwart"),
    ("burgemeester Van Aartsen", "Aartsen"),
    ("Peter Kuijpers", "Peter Kuijpers"),
    ("Ahmed Benali", "Ahmed Benali"),
    ("Lotte Brinkman", "Lotte Brinkman"),
    ("de heer Bruinsma", "Bruinsma"),
    ("opbouwwerker Wendy Stroeve", "Wendy Stroeve"),
    ("Esther", "Esther"),
)
MENTIONS = OWN_MENTIONS + OTHER_MENTIONS + UNREGISTERED_MENTIONS

# How a municipality is written: (as written, may not be named).
PLACES = (
    ("Barneveld", True),
    ("barneveld", True),
    ("de gemeente Barneveld", True),
    ("Houten", True),
    ("gemeente houten", True),
    ("Veenendaal", False),
    ("Ede", False),
    ("Nijkerk", True),
    ("nijkerk", True),
    ("Bar\u00adneveld", True),
)

TEMPLATES = (
    "{p} vertelde hoe de wijkaanpak in {m} van de grond kwam.",
    "Volgens {p} moet {m} eerder met bewoners om tafel.",
    "Het voorbeeld van {p} over de buurtkamer in {m} sprak iedereen aan.",
    "Afspraak: {p} stuurt de presentatie rond; in {m} begint de schouw in maart.",
    "In de tweede ronde liet {p} zien hoe het sociaal team in {m} werkt.",
    "We spraken af dat {p} en de wijkagent samen de schouw doen, eerst in {m}.",
    "Bij de lunch vertelde {p} dat het jongerenwerk in {m} onder druk staat.",
    "Les: {p} zag in {m} dat een vaste sleutelfiguur het verschil maakt.",
)

PHONES = (
    "06-12345678",
    "06 12 34 56 78",
    "+31 6 1234 5678",
    "+31 (0)6 1234 5678",
    "0031 6 12345678",
    "030 123 4567",
    "(030) 1234567",
    "030-1234567",
    "06–12345678",
    "06.12.34.56.78",
    "+31612345678",
    "(0031) 6 12345678",
    "0342 - 123 456",
)
EMAILS = (
    "a.devries@barneveld.nl",
    "anna at barneveld dot nl",
    "anna [at] barneveld [punt] nl",
    "j.w.vandenberg(at)houten.nl",
    "r.visser @ ede . nl",
    "s.hoogendoorn@gemeente.example",
)
NUMBERS = (
    ("BSN 111222333", "111222333"),
    ("bsn: 123.456.782", "123456782"),
    ("burgerservicenummer 12345678", "12345678"),
    ("nummer 123456782", "123456782"),
    ("IBAN NL91 ABNA 0417 1643 00", "NL91ABNA0417164300"),
    ("rekening nl91abna0417164300", "NL91ABNA0417164300"),
    ("rekening GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432"),
)
CONTACT_TEMPLATES = (
    "Contact: {p}, {c}.",
    "Bel {p} op {c} voor de sleutel van het buurthuis.",
    "{p} is bereikbaar via {c} (liever niet na 17.00 uur).",
    "Voor de declaratie: {c}, zei {p}.",
)

HAND_WRITTEN = (
    Note(
        "De bakker en de visser uit de buurt doen mee; zij bakken voor de buurtkamer.",
        keep=("De bakker en de visser uit de buurt doen mee",),
    ),
    Note(
        "Groen en wit zijn de kleuren van het nieuwe plein, zei de ontwerper. Bakker Van Dam levert de koffie.",
        keep=("Groen en wit zijn de kleuren", "Bakker Van Dam levert de koffie"),
    ),
    Note(
        "Er groeit een roos op het plein en de wit geschilderde bankjes staan er nog.",
        keep=("Er groeit een roos op het plein en de wit geschilderde bankjes",),
    ),
    Note(
        "Er kwamen houten banken; in Houten zelf werkte dat het best.",
        keep=("Er kwamen houten banken;", "het best"),
        places=("Houten",),
    ),
    Note("In Veenendaal en Ede werkt de aanpak al jaren.", keep=("In Veenendaal en Ede werkt",)),
    Note("De wethouder Zorg en de wethouder van Wonen waren er ook.", keep=("wethouder Zorg", "wethouder van Wonen")),
    Note(
        "Op 01-10-2025 om 13:00 begint de tweede ronde; het budget is 1.250.000 euro voor 2025-2026.",
        keep=("01-10-2025 om 13:00", "1.250.000 euro", "2025-2026"),
    ),
    Note("Postcode 3811 AB, daar is het buurthuis.", keep=("Postcode 3811 AB",)),
    Note(
        "Mail de stukken naar secretariaat at barneveld dot nl of bel (0342) 123 456.",
        secrets=("secretariaat", "0342123456"),
        places=("Barneveld",),
    ),
    Note(
        "Jan-Willem van den Berg en Fatima el Amrani presenteerden samen.",
        people=("Jan-Willem van den Berg", "Fatima el Amrani"),
    ),
    Note("jan-willem had het idee, fatima werkte het uit.", people=("Jan-Willem van den Berg", "Fatima el Amrani")),
    Note("Björn (Bjorn) Öztürk bracht de cijfers mee.", people=("Björn Öztürk",)),
    Note("Thijs Molenaar nam de molenaar van de wijk mee.", people=("Thijs Molenaar",), keep=("de molenaar",)),
    Note("Els Kuiper sprak met de kuiper uit de haven.", people=("Els Kuiper",), keep=("de kuiper uit de haven",)),
    Note("Volgens Roos is de buurt veranderd.", people=("Roos Visser",), keep=("is de buurt veranderd",)),
    Note("De heer Bruinsma belde later terug.", people=("Bruinsma",), keep=("belde later terug",)),
    Note("Mevrouw Oosterveld en mw. Zwanenburg waren het eens.", people=("Hendrika Oosterveld", "Quirine Zwanenburg")),
    Note("Ahmed Benali en Lotte Brinkman van het wijkteam.", people=("Ahmed Benali", "Lotte Brinkman")),
    Note("We belden +31 6 1234 5678 en daarna 030 123 4567.", secrets=("0612345678", "0301234567")),
    Note("Stuur het naar r.visser@barneveld.nl.", secrets=("r.visser",), places=("Barneveld",)),
    Note("Karin vertelde dat de wijkboa in de avond komt.", people=("Karin",), keep=("de wijkboa",)),
    Note("Bij Nijkerk deden ze het vorig jaar anders.", places=("Nijkerk",), keep=("deden ze het vorig jaar",)),
    Note("De Burgt is de wijk waar het begon, in Barneveld.", places=("Barneveld",), keep=("de wijk waar het begon",)),
    Note("Wil Bakker (vorige editie) en de bakker van de markt.", people=("Wil Bakker",), keep=("de bakker",)),
    Note("Mark de Wit vroeg het aan De Wit junior.", people=("Mark de Wit",)),
    Note(
        "Het Emma Kinderziekenhuis, het Maria-onderwijs en de Sint Maarten; ook Hendrik-Ido-Ambacht doet mee.",
        keep=("Het Emma Kinderziekenhuis, het Maria-onderwijs en de Sint Maarten; ook Hendrik-Ido-Ambacht doet mee.",),
    ),
    Note(
        "De handleiding is er in het Frans en het Engels; Frans Timmermans stond op de poster.",
        people=("Timmermans",),  # "Frans" stays: the language
        keep=("in het Frans en het Engels",),
    ),
    Note(
        "De burgemeester van Veenendaal en de wethouder van Ede openden; wethouder van den Berg sloot af.",
        people=("Berg",),
        keep=("De burgemeester van Veenendaal en de wethouder van Ede openden; wethouder",),
    ),
    Note("Emma Bos-Kuijpers van de GGD schoof aan.", people=("Emma Bos-Kuijpers",), keep=("van de GGD",)),
    Note(
        "Het college van burgemeester en wethouders besloot in juni.",
        keep=("Het college van burgemeester en wethouders besloot in juni.",),
    ),
)


def generated() -> list[Note]:
    """Every mention of a person in a sentence with a municipality, and every contact detail with a person."""
    notes = []
    places = cycle(PLACES)
    for round_ in range(3):
        for n, (written, person) in enumerate(MENTIONS):
            template = TEMPLATES[(n + round_ * 3) % len(TEMPLATES)]
            place, hidden = next(places)
            text = template.format(p=written, m=place)
            if text.startswith(written):  # a sentence begins with a capital
                text = text[0].upper() + text[1:]
            shown = () if hidden else (place,)
            notes.append(Note(text, people=(person,), keep=shown, places=(place,) if hidden else ()))
    contacts = [(c, (c,)) for c in PHONES + EMAILS] + [(text, (secret,)) for text, secret in NUMBERS]
    people = cycle(MENTIONS)
    for n, (contact, secrets) in enumerate(contacts):
        for template in CONTACT_TEMPLATES[: 2 if n % 2 else 3]:
            written, person = next(people)
            text = template.format(p=written, c=contact)
            notes.append(Note(text[0].upper() + text[1:], people=(person,), secrets=secrets))
    return notes


CORPUS = tuple(generated()) + HAND_WRITTEN
assert len(CORPUS) >= 200, len(CORPUS)
