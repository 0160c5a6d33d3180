"""CSV injection: every export (reporting's registrations, attendance and invoices, the same files through the
console) neutralises text a spreadsheet would run as a formula, whichever separator the file is read with; the
separator is `;` for Dutch Excel unless `?sep=,` asks for commas (shared/csvfile.py)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from shared.contract.scheduling import TrioPlaced
from shared.csvfile import neutralise, safe_csv
from tests.unit.test_reporting_dashboard import EDITION, TOKEN, fill, make, registered
from tests.unit.test_reporting_overview_api import invoice

FORMULAS = ['=HYPERLINK("http://evil.example","klik")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
HOSTILE_REFERENCE = 'PO-1;=HYPERLINK("http://evil.example")'
HOSTILE_BUYER = "Gemeente Utrecht,=1+1"


def cells(content: bytes, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=delimiter))


def live_formulas(content: bytes) -> list[str]:
    """Every cell that would start a formula, read with either separator (a spreadsheet may guess either)."""
    return [
        c
        for d in (";", ",")
        for row in cells(content, d)
        for c in row
        if c.startswith(("=", "+", "-", "@", "\t", "\r"))
    ]


@pytest.mark.parametrize("value", FORMULAS)
def test_a_cell_that_would_start_a_formula_gets_an_apostrophe(value: str) -> None:
    assert neutralise(value) == "'" + value
    (row,) = cells(safe_csv(["x"], [[value]]), ";")[1:]
    assert row == ["'" + value]


def test_numbers_stay_numbers_and_plain_text_is_untouched() -> None:
    assert neutralise(-12.5) == -12.5
    assert neutralise("Noord-Brabant") == "Noord-Brabant"
    assert cells(safe_csv(["bedrag", "provincie"], [[-12.5, "Noord-Brabant"]]), ";")[1] == ["-12.5", "Noord-Brabant"]


def test_a_formula_behind_a_separator_is_neutralised_for_a_reader_that_splits_there() -> None:
    content = safe_csv(["referentie"], [[HOSTILE_REFERENCE], [HOSTILE_BUYER]], delimiter=",")
    assert live_formulas(content) == []
    assert cells(content, ",")[1] == ['PO-1;\'=HYPERLINK("http://evil.example")']


def test_the_separator_is_a_semicolon_unless_a_comma_is_asked_for() -> None:
    assert safe_csv(["a", "b"], [["1", "2"]]).decode("utf-8-sig") == "a;b\r\n1;2\r\n"
    assert safe_csv(["a", "b"], [["1", "2"]], delimiter=",").decode("utf-8-sig") == "a,b\r\n1,2\r\n"


@pytest.mark.parametrize("what", ["registrations", "attendance", "invoices"])
@pytest.mark.parametrize("sep", [None, ";", ","])
async def test_every_reporting_export_neutralises_formula_text(tmp_path: Path, what: str, sep: str | None) -> None:
    service, db = await make(tmp_path, "https://werkplaatsen.example.nl")
    try:
        await fill(service)  # registrations: a case titled =HYPERLINK(...)
        await service.deliver(registered("r5", "=1+2", "groot", "@Utrecht", ["sociaal", "fysiek", "bestuur"], False, 6))
        await service.deliver(TrioPlaced(registration_id="r5", edition=EDITION, via="allocation"))
        hostile = invoice("F2027-0001", "r5", 24200).model_copy(
            update={"buyer_name": HOSTILE_BUYER, "buyer_reference": HOSTILE_REFERENCE}
        )
        await service.deliver(hostile)
        params = {} if sep is None else {"sep": sep}
        response = await service.http.get(
            f"/dashboard/{EDITION}/{what}.csv", params=params, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status_code == 200
        header = response.content.decode("utf-8-sig").split("\r\n", 1)[0]
        assert (sep or ";") in header and ({";": ",", ",": ";"}[sep or ";"]) not in header
        assert live_formulas(response.content) == []
        text = response.content.decode("utf-8-sig")
        expected = {
            "registrations": ["'=HYPERLINK", "'=1+2"],
            "attendance": ["'=1+2"],
            "invoices": ["PO-1;'=HYPERLINK", "Gemeente Utrecht,'=1+1"],
        }[what]
        assert all(e in text for e in expected), text
    finally:
        await service.http.aclose()
        await db.dispose()


async def test_an_unknown_separator_is_refused_naming_the_parameter(tmp_path: Path) -> None:
    service, db = await make(tmp_path, "https://werkplaatsen.example.nl")
    try:
        await fill(service)
        response = await service.http.get(
            f"/dashboard/{EDITION}/registrations.csv", params={"sep": "|"}, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status_code == 400
        (error,) = response.json()["errors"]
        assert (error["field"], error["code"]) == ("sep", "invalid_separator") and "scheidingsteken" in error["message"]
    finally:
        await service.http.aclose()
        await db.dispose()
