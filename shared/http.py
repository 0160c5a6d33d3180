"""Small HTTP helpers the services share: organiser authentication and error responses."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse

from shared.contract import ErrorItem


def is_organizer(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def unauthorized() -> JSONResponse:
    return JSONResponse(
        {"errors": [ErrorItem(field="", code="unauthorized",
                              message="Alleen voor organisatoren: log in met een geldig token.").model_dump()]},
        status_code=401, headers={"WWW-Authenticate": "Bearer"},
    )


def error_response(errors: list[ErrorItem], status: int = 422) -> JSONResponse:
    return JSONResponse({"errors": [e.model_dump() for e in errors]}, status_code=status)
