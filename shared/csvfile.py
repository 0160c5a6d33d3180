"""CSV files a spreadsheet opens safely: no cell runs as a formula (CSV injection, OWASP's advice: a cell that starts
with a formula character gets an apostrophe in front), and the separator is `;` unless the caller asks for `,`,
because Dutch Excel splits on `;`. Every export of the system writes through `safe_csv`."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Final, Literal

Delimiter = Literal[";", ","]
DELIMITERS: Final[tuple[Delimiter, ...]] = (";", ",")
DEFAULT_DELIMITER: Final[Delimiter] = ";"
FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
# A spreadsheet that reads the file with the other separator than it was written with (English Excel opening a
# `;` file, Dutch Excel a `,` file) splits a cell there and the rest starts a cell of its own: a formula character
# right after either separator is neutralised too.
_AFTER_SEPARATOR: Final = re.compile(r"([;,])(?=[=+\-@\t\r])")


def neutralise(value: object) -> object:
    """VALUE as a spreadsheet shows it as text: text that would start a formula (at its start or after a separator)
    gets an apostrophe before it; numbers, dates and the rest are left alone."""
    if not isinstance(value, str):
        return value
    value = _AFTER_SEPARATOR.sub(r"\1'", value)
    return "'" + value if value.startswith(FORMULA_START) else value


def delimiter_of(given: str | None) -> Delimiter | None:
    """The separator a request asked for (`sep=;` or `sep=,`; unset: the default), or None if it is neither."""
    if given is None or given == "":
        return DEFAULT_DELIMITER
    return next((d for d in DELIMITERS if d == given), None)


def safe_csv(
    columns: Sequence[str], rows: Iterable[Sequence[object]], delimiter: Delimiter = DEFAULT_DELIMITER
) -> bytes:
    """The header and ROWS as CSV in UTF-8 with a byte order mark (so Excel reads the accents right), CRLF line ends;
    None is an empty cell, and every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([neutralise(c) for c in columns])
    for row in rows:
        writer.writerow(["" if v is None else neutralise(v) for v in row])
    return out.getvalue().encode("utf-8-sig")
