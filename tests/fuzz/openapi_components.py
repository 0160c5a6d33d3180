"""The contract's part of docs/openapi/registration.json: the RegisterTrio body and the models it uses.

`.venv/bin/python -m tests.fuzz.openapi_components` writes them into the document after a contract change;
tests/fuzz/test_http_fuzz.py fails until they match."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.contract.registration import RegisterTrio

DOCUMENT = Path(__file__).parents[2] / "docs" / "openapi" / "registration.json"


def current() -> dict[str, Any]:
    schema = RegisterTrio.model_json_schema(ref_template="#/components/schemas/{model}")
    return {**schema.pop("$defs", {}), "RegisterTrio": schema}


def published() -> dict[str, Any]:
    return json.loads(DOCUMENT.read_text())["components"]["schemas"]


if __name__ == "__main__":
    document = json.loads(DOCUMENT.read_text())
    document["components"]["schemas"].update(current())
    DOCUMENT.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
