"""The console's admin area in one place for the app (web/__init__.py): the pages of the audit log, the personal
access tokens, the accounts and the password reset links, and their API operations."""

from __future__ import annotations

from typing import Final

from starlette.routing import Route

from .accounts_api import OPERATIONS as ACCOUNTS
from .accounts_pages import account_routes
from .audit_page import audit_routes
from .openapi import Operation
from .reset_pages import reset_routes
from .tokens_api import OPERATIONS as TOKENS
from .tokens_pages import token_routes

OPERATIONS: Final[tuple[Operation, ...]] = (*TOKENS, *ACCOUNTS)


def admin_routes() -> list[Route]:
    return [*audit_routes(), *token_routes(), *account_routes(), *reset_routes()]
