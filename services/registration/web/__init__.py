"""Registration's web front end: the Dutch registration form, the trio's status page (with cancellation) and
the approver's page, plus the small JSON API the form's autocomplete uses.

Server-rendered and usable without JavaScript; one inline script (allowed by a per-response CSP nonce) only
adds search-as-you-type and shows the fee once a municipality is chosen. Every command goes through the service's
own consumers (`Consumers.command`), the same path as RabbitMQ and `POST /api/registrations`, so the pages get the
same rules, idempotency and error objects.

One module a job: `form` (the registration form), `status` (status page and cancelling), `approval` (the
approver's page), `municipality_search` (the autocomplete's API); `form_fields` (the form to RegisterTrio and
errors back), `csrf`, `posted` (reading a posted form), `reads` (the store's reads) and `rendering` (templates,
headers).
"""

from __future__ import annotations

from starlette.routing import Route

from shared.http import secure_cookies
from shared.messaging.wiring import Consumers
from shared.municipalities import MunicipalityIndex
from shared.settings import Settings

from ..adapters import RegistrationStore
from ..domain import MunicipalityRegister
from .approval import ApprovalPages
from .csrf import Csrf
from .form import RegistrationForm
from .municipality_search import MunicipalitySearch
from .reads import Reads
from .status import StatusPages

__all__ = ["web_routes"]


def web_routes(
    store: RegistrationStore, consumers: Consumers, municipalities: MunicipalityRegister, settings: Settings
) -> list[Route]:
    """The pages and their API; `consumers` carry out the pages' commands (consumes.consumers of the store)."""
    index = MunicipalityIndex(list(municipalities))
    reads = Reads(store)
    secret = settings.secret_keys
    csrf = Csrf(secret, secure_cookie=secure_cookies(settings.public_url))
    return [
        *RegistrationForm(consumers, index, reads, csrf, secret).routes(),
        *MunicipalitySearch(index, reads).routes(),
        *StatusPages(consumers, store, reads, csrf, secret).routes(),
        *ApprovalPages(consumers, reads, secret).routes(),
    ]
