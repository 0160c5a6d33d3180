"""Registration's web front end: the Dutch registration form, the trio's status page (with cancellation) and
the approver's page, plus the small JSON API the form's autocomplete uses.

Server-rendered and usable without JavaScript; one inline script (allowed by a per-response CSP nonce) only
adds search-as-you-type and shows the fee once a municipality is chosen. Every command goes through the same
`run_command` path as RabbitMQ and `POST /api/registrations`, so the form gets the same rules, idempotency and
error objects.

Forms that act on a participant's behalf carry a CSRF token (double submit: a random HttpOnly, SameSite=Lax
cookie and, in a hidden field, that value signed with the secret key). The approval page needs none: its only
credential is the signed token in its URL, which a forging site cannot know, and the browser attaches nothing
that would make a forged request succeed; that is also why other clients may post a decision there.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.datastructures import MultiDict
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from shared.contract import ErrorItem, Reply, message_name
from shared.contract.registration import (
    ApproveRegistration,
    CancelRegistration,
    DeclineRegistration,
    Fee,
    RegisterTrio,
)
from shared.db import utcnow
from shared.links import LinkExpired, LinkInvalid, sign, status_path, unsign
from shared.messaging.messages import Incoming
from shared.settings import Settings

from . import entrypoints
from .adapters import RegistrationStore, SqlEditions, SqlRegistrations
from .domain import Edition, Municipality, MunicipalityRegister, RegistrationView, fee_for, has_priority
from .invoice_routes import invoice_links_of
from .tokens import MAX_TOKEN_LENGTH
from .tokens import PURPOSE as APPROVE_PURPOSE

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MAX_BODY_BYTES = 64 * 1024
MAX_FORM_FIELDS = 200
MAX_QUERY_LENGTH = 100
MAX_SEARCH_RESULTS = 20
CSRF_COOKIE = "werkplaatsen_csrf"
CSRF_MAX_AGE_SECONDS = 24 * 3600  # a form left open overnight is shown again, with its values, to resubmit
CSRF_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_-]{32,64}")
CODE = re.compile(r"\bGM\d{4}\b", re.IGNORECASE)
# Sent for a municipality the form could not resolve: no CBS municipality has it, so the core reports
# `unknown_municipality` together with every other problem instead of a bare schema error.
UNRESOLVED_MUNICIPALITY = "GM0000"
ACTIVE_FOR_CANCEL = ("awaiting_approval", "approved", "placed", "waitlisted")
ALREADY_ENDED = {"already_cancelled", "already_declined"}  # cancelling then changes nothing: show the status

ROLES = {
    "wijkambtenaar": "Wijkambtenaar (wijkmanager, wijkregisseur, gebiedsregisseur …)",
    "sectorambtenaar": "Sectorambtenaar (collega van een beleidsafdeling)",
}
DOMAINS = {
    "fysiek": "Fysiek (wonen, openbare ruimte, water …)",
    "sociaal": "Sociaal (Wmo, jeugd, participatie, wijkteams …)",
    "veiligheid": "Veiligheid",
    "economie": "Economie",
    "bestuur": "Bestuur",
    "overig": "Overig",
}
# A member's own domain, in a select: the short names (the case's checkboxes explain them).
DOMAIN_CHOICES = {"fysiek": "Fysiek", "sociaal": "Sociaal", "veiligheid": "Veiligheid", "economie": "Economie",
                  "bestuur": "Bestuur", "overig": "Overig"}
LANGUAGES = {"nl": "Nederlands", "en": "Engels (English)"}
SIZE_CLASSES = {"klein": "kleine gemeente", "middelgroot": "middelgrote gemeente", "groot": "grote gemeente"}
MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
          "november", "december")

MEMBER_FIELDS = ("name", "email", "role", "domain", "job_title", "language")
TEXT_FIELDS = ("edition", "municipality", *(f"members[{i}].{f}" for i in range(3) for f in MEMBER_FIELDS),
               "case.title", "case.neighbourhood", "case.summary", "approver.name", "approver.email",
               "invoice.address", "invoice.reference")
# Anchors an error can be shown at: the inputs, plus the groups that rules about several fields point to.
GROUP_ANCHORS = ("members", "members[0]", "members[1]", "members[2]", "case", "case.domains", "approver", "consent",
                 "consent.privacy", "invoice")
FIELD_LABELS = {
    "edition": "Editie", "municipality": "Gemeente", "members": "Het trio",
    **{f"members[{i}]": f"Lid {i + 1}" for i in range(3)}, "case": "De casus",
    "case.title": "Titel van de casus", "case.neighbourhood": "Wijk of buurt", "case.summary": "Korte beschrijving",
    "case.domains": "Beleidsdomeinen van de casus", "approver": "Goedkeuring", "approver.name": "Naam goedkeurder",
    "approver.email": "E-mailadres goedkeurder", "consent": "Toestemming", "consent.privacy": "Toestemming privacy",
    "invoice": "Factuurgegevens", "invoice.address": "Factuuradres", "invoice.reference": "Inkoop- of ordernummer",
    "reason": "Toelichting",
    **{f"members[{i}].{f}": f"Lid {i + 1}, {label}" for i in range(3) for f, label in (
        ("name", "naam"), ("email", "e-mailadres"), ("role", "rol"), ("domain", "domein"),
        ("job_title", "functie"), ("language", "taal"))},
}
CHOICES = (".role", ".domain", ".language")
REQUIRED_FIELDS = ("edition", "municipality",
                   *(f"members[{i}].{f}" for i in range(3) for f in ("name", "email", "role", "domain")),
                   "case.title", "case.neighbourhood", "case.summary", "approver.name", "approver.email")
PAGE_ORDER = ("edition", "municipality", "members", "case", "approver", "invoice", "consent")
KNOWN_ANCHORS = frozenset((*TEXT_FIELDS, *GROUP_ANCHORS))
PARENT = re.compile(r"(\.[^.\[\]]*|\[\d+\]|^[^.\[\]]+)$")  # `members[1].email` -> `members[1]` -> `members` -> ``


def field_id(path: str) -> str:
    """`members[1].email` -> `members-1-email`: an HTML id for the input a field path names."""
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "formulier"


def anchor_for(path: str) -> str | None:
    """The nearest field or group on the page a (possibly deeper) error path belongs to."""
    while path not in KNOWN_ANCHORS:
        parent = PARENT.sub("", path)
        if parent == path:
            return None
        path = parent
    return path


def normalized(text: str) -> str:
    """Case- and accent-insensitive form of a name: `Súdwest-Fryslân` -> `sudwest-fryslan`."""
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


class MunicipalityIndex:
    """Finds municipalities by (part of) their name or their CBS code, for the autocomplete and the form."""

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


@dataclass
class FormState:
    """What the registration form shows: the entered values, the errors per anchor and the summary."""

    values: MultiDict
    errors: dict[str, list[str]] = field(default_factory=dict)
    summary: list[tuple[str | None, str]] = field(default_factory=list)  # (anchor id or None, text)

    def add(self, path: str, message: str) -> None:
        anchor = anchor_for(path)
        if anchor is not None:
            self.errors.setdefault(field_id(anchor), []).append(message)
        label = FIELD_LABELS.get(anchor or "", "")
        self.summary.append((field_id(anchor) if anchor else None, f"{label}: {message}" if label else message))


# Rendering


templates = Environment(
    loader=PackageLoader("services.registration", "templates"),
    autoescape=True,  # every page shows what participants typed
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,  # templates ship with the code: no stat() per render
)


def dutch_datetime(value: datetime | str | None, with_time: bool = True) -> str:
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(AMSTERDAM)
    date = f"{local.day} {MONTHS[local.month - 1]} {local.year}"
    return f"{date}, {local:%H:%M} uur" if with_time else date


def dutch_time(value: datetime) -> str:
    return f"{value.astimezone(AMSTERDAM):%H:%M} uur"


def euro(cents: int) -> str:
    whole, rest = divmod(cents, 100)
    return f"€ {whole:,}".replace(",", ".") + f",{rest:02d}"


def fee_text(fee: Fee | Mapping[str, Any]) -> str:
    fee = fee if isinstance(fee, Fee) else Fee.model_validate(fee)
    if fee.waived or fee.amount_cents == 0:
        reason = SIZE_CLASSES.get(fee.reason or "", "")
        return f"Geen eigen bijdrage ({reason})" if reason else "Geen eigen bijdrage"
    return f"{euro(fee.amount_cents)} per trio"


templates.globals.update(
    field_id=field_id, dutch_datetime=dutch_datetime, dutch_time=dutch_time, euro=euro, fee_text=fee_text,
    ROLES=ROLES, DOMAINS=DOMAINS,
    DOMAIN_CHOICES=DOMAIN_CHOICES, LANGUAGES=LANGUAGES, SIZE_CLASSES=SIZE_CLASSES,
)


def allocation_moment(edition: Edition | None) -> datetime | None:
    """When places are allocated (scheduling's registration deadline), if registration's copy of the edition
    knows it. Not the moment registration closes: that is later, and trios registering in between go straight
    to a free place or the waitlist."""
    return edition.registration_deadline if edition is not None else None


def security_headers(nonce: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
            "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'; object-src 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        # Status and approval links carry their credential in the URL: never pass it on to another site.
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }


def page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    body = templates.get_template(template).render(nonce=nonce, **context)
    return HTMLResponse(body, status_code=status_code, headers=security_headers(nonce))


def api_json(content: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status_code,
                        headers={"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})


def api_error(field: str, code: str, message: str, status_code: int) -> JSONResponse:
    return api_json({"errors": [ErrorItem(field=field, code=code, message=message).model_dump()]}, status_code)


def back_to_status(registration_id: str, token: str) -> RedirectResponse:
    # Back to the very link the trio came with: it is valid (checked before), and a freshly signed one
    # would differ only in its timestamp, leaving the browser history with two status addresses.
    return RedirectResponse(f"/registrations/{registration_id}?token={quote(token, safe='')}", 303)


def not_found() -> HTMLResponse:
    # One page for a wrong token, an unknown registration and an erased one: a guess learns nothing.
    return page("not_found.html", 404)


# CSRF


@dataclass(frozen=True)
class Csrf:
    secret: str
    secure_cookie: bool

    def issue(self, request: Request) -> tuple[str, str | None]:
        """The hidden field's value, and a new cookie value when the browser has none yet."""
        cookie = request.cookies.get(CSRF_COOKIE, "")
        fresh = None
        if not CSRF_COOKIE_VALUE.fullmatch(cookie):
            cookie = fresh = secrets.token_urlsafe(32)
        return sign(self.secret, "csrf", cookie), fresh

    def valid(self, request: Request, field_value: str) -> bool:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        try:
            expected = unsign(self.secret, "csrf", field_value, max_age_seconds=CSRF_MAX_AGE_SECONDS)
        except (LinkInvalid, LinkExpired):
            return False
        return bool(cookie) and hmac.compare_digest(expected.encode(), cookie.encode())

    def attach(self, response: Response, fresh: str | None) -> Response:
        if fresh:
            response.set_cookie(CSRF_COOKIE, fresh, httponly=True, samesite="lax", secure=self.secure_cookie,
                                path="/")
        return response


# Requests


class BadForm(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


async def read_form(request: Request) -> MultiDict:
    """The url-encoded form in the body; BadForm with the page to answer when it is too large or unreadable."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise BadForm(page("problem.html", 415, title="Dit formulier kunnen we niet lezen",
                           text="Verstuur het formulier vanuit de pagina zelf."))
    body = await entrypoints.read_body(request, MAX_BODY_BYTES)
    if body is None:
        raise BadForm(page("problem.html", 413, title="Dit is te veel tekst",
                           text="Wat je verstuurde is groter dan 64 KiB. Maak de beschrijvingen korter en "
                                "probeer het opnieuw."))
    try:
        return MultiDict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS,
                                   strict_parsing=False))
    except (UnicodeDecodeError, ValueError):
        raise BadForm(page("problem.html", 400, title="Dit formulier kunnen we niet lezen",
                           text="Verstuur het formulier vanuit de pagina zelf.")) from None


def command_message(routing_key: str, body: dict[str, Any], message_id: str) -> Incoming:
    return Incoming(body=json.dumps(body).encode(), routing_key=routing_key, message_id=message_id,
                    correlation_id=message_id, message_type=message_name(routing_key),
                    content_type="application/json")


def trio_command(form: MultiDict, municipality: str) -> dict[str, Any]:
    """RegisterTrio from the form. Blank selects are left out (`missing`); blank text goes as typed so the
    intake rules still run on everything else."""

    def text(path: str) -> str:
        return form.get(path, "").strip()

    def member(i: int) -> dict[str, Any]:
        m: dict[str, Any] = {"name": text(f"members[{i}].name"), "email": text(f"members[{i}].email"),
                             "language": text(f"members[{i}].language") or "nl"}
        for key in ("role", "domain", "job_title"):
            if text(f"members[{i}].{key}"):
                m[key] = text(f"members[{i}].{key}")
        return m

    body: dict[str, Any] = {
        "edition": text("edition"), "municipality": municipality, "members": [member(i) for i in range(3)],
        "case": {"title": text("case.title"), "neighbourhood": text("case.neighbourhood"),
                 "summary": text("case.summary"), "domains": [d for d in form.getlist("case.domains") if d]},
        "approver": {"name": text("approver.name"), "email": text("approver.email")},
        "consent": {"privacy": form.get("consent.privacy") == "ja",
                    "publish_municipality_name": form.get("consent.publish_municipality_name") == "ja"},
        "channel": "web",
    }
    if text("invoice.address") or text("invoice.reference"):
        body["invoice"] = {"address": text("invoice.address"), "reference": text("invoice.reference")}
    return body


def form_errors(state: FormState, errors: list[ErrorItem], municipality_problem: str | None) -> None:
    mentioned = {e.field for e in errors}
    # A schema error stops the intake rules, so report every required field left blank now, not one by one.
    blanks = [ErrorItem(field=path, code="schema", message="")
              for path in REQUIRED_FIELDS if path not in mentioned and not state.values.get(path, "").strip()]
    if municipality_problem and "municipality" not in mentioned and all(b.field != "municipality" for b in blanks):
        blanks.append(ErrorItem(field="municipality", code="unknown_municipality", message=municipality_problem))
    for e in sorted([*errors, *blanks], key=lambda e: page_order(e.field)):
        message = e.message
        if e.field == "municipality" and municipality_problem:
            message = municipality_problem
        elif e.field == "edition" and not state.values.get("edition", "").strip():
            message = "Kies de editie waarvoor jullie je aanmelden."
        elif e.code in ("schema", "invalid_email") and e.field in TEXT_FIELDS \
                and not state.values.get(e.field, "").strip():
            message = "Maak een keuze." if e.field.endswith(CHOICES) else "Vul dit veld in."
        state.add(e.field, message)


def page_order(path: str) -> tuple[int, int]:
    """Errors in the summary follow the page from top to bottom."""
    section = next((i for i, name in enumerate(PAGE_ORDER) if path.startswith(name)), len(PAGE_ORDER))
    anchor = anchor_for(path)
    return section, TEXT_FIELDS.index(anchor) if anchor in TEXT_FIELDS else -1


def municipality_problem(text: str, candidates: list[Municipality]) -> str:
    if not text.strip():
        return "Vul de gemeente in: de naam of de CBS-code (bijvoorbeeld GM0344 voor Utrecht)."
    if candidates:
        names = ", ".join(m.name for m in candidates)
        return f"Meerdere gemeenten passen bij wat je typte: {names}. Kies de juiste uit de lijst."
    return "We vinden geen gemeente met deze naam of code. Kies de gemeente uit de lijst."


# The routes


class Web:
    def __init__(self, store: RegistrationStore, municipalities: MunicipalityRegister, settings: Settings) -> None:
        self.store = store
        self.register = municipalities
        self.municipalities = MunicipalityIndex(list(municipalities))
        self.secret = settings.werkplaatsen_secret_key
        self.csrf = Csrf(self.secret, secure_cookie=settings.public_url.startswith("https://"))

    def routes(self) -> list[Route]:
        return [
            Route("/", self.form, methods=["GET"]),
            Route("/", self.submit, methods=["POST"]),
            Route("/api/municipalities", self.search_municipalities, methods=["GET"]),
            Route("/api/municipalities/{code}", self.municipality, methods=["GET"]),
            Route("/registrations/{registration_id}", self.status, methods=["GET"]),
            Route("/registrations/{registration_id}/cancel", self.confirm_cancel, methods=["GET"]),
            Route("/registrations/{registration_id}/cancel", self.cancel, methods=["POST"]),
            Route("/approve/{token}", self.approval_page, methods=["GET"]),
            Route("/approve/{token}", self.approval_decision, methods=["POST"]),
        ]

    # Municipality API

    async def search_municipalities(self, request: Request) -> JSONResponse:
        found = self.municipalities.search(request.query_params.get("q", ""))
        return api_json({"municipalities": [{"code": m.code, "name": m.name, "province": m.province}
                                            for m in found]})

    async def municipality(self, request: Request) -> JSONResponse:
        m = self.municipalities.get(request.path_params["code"][:10])
        if m is None:
            return api_error("code", "unknown_municipality", "Deze gemeentecode kennen we niet.", 404)
        slug = request.query_params.get("edition")
        edition = await self.edition(slug) if slug else await self.only_open_edition()
        if slug and edition is None:
            return api_error("edition", "unknown_edition", "Deze editie bestaat niet.", 404)
        fee = fee_for(edition, m.size_class) if edition else None
        return api_json({
            "code": m.code, "name": m.name, "province": m.province, "inhabitants": m.inhabitants,
            "size_class": m.size_class, "m50_member": m.m50_member, "edition": edition.slug if edition else None,
            "fee_cents": fee.amount_cents if fee else None, "fee_waived": fee.waived if fee else None,
            "priority": has_priority(edition, m.size_class) if edition else None,
        })

    async def edition(self, slug: str) -> Edition | None:
        async with self.store.db.sessions() as session:
            return await SqlEditions(session).get(slug[:64])

    async def open_editions(self) -> list[Edition]:
        now = utcnow()
        async with self.store.db.sessions() as session:
            editions = await SqlEditions(session).all()
        return sorted((e for e in editions if e.registration_open(now)), key=lambda e: e.registration_closes_at)

    async def only_open_edition(self) -> Edition | None:
        editions = await self.open_editions()
        return editions[0] if len(editions) == 1 else None

    # The registration form

    async def form(self, request: Request) -> Response:
        values = MultiDict({"form_key": sign(self.secret, "registration-form", str(uuid.uuid4()))})
        return await self.render_form(request, FormState(values))

    async def render_form(self, request: Request, state: FormState, status_code: int = 200) -> Response:
        editions = await self.open_editions()
        if not editions:
            return page("closed.html", 200 if status_code == 200 else status_code)
        values = state.values
        if not values.get("edition") and len(editions) == 1:
            values = MultiDict([*values.multi_items(), ("edition", editions[0].slug)])
        token, fresh = self.csrf.issue(request)
        chosen = next((e for e in editions if e.slug == values.get("edition")), None)
        municipality, _ = self.municipalities.resolve(values.get("municipality", ""))
        response = page(
            "form.html", status_code, values=values, errors=state.errors, summary=state.summary, csrf=token,
            editions=editions, municipalities=self.municipalities,
            chosen=self.municipality_facts(municipality, chosen) if municipality and chosen else None,
        )
        return self.csrf.attach(response, fresh)

    @staticmethod
    def municipality_facts(m: Municipality, edition: Edition) -> dict[str, Any]:
        fee = fee_for(edition, m.size_class)
        return {"name": m.name, "province": m.province, "size_class": m.size_class, "fee_cents": fee.amount_cents,
                "priority": has_priority(edition, m.size_class)}

    async def submit(self, request: Request) -> Response:
        try:
            form = await read_form(request)
        except BadForm as bad:
            return bad.response
        state = FormState(form)
        if not self.csrf.valid(request, form.get("csrf", "")):
            state.add("", "Het formulier was verlopen of je browser stuurde het zonder cookie. Je gegevens "
                          "staan er nog: controleer ze en verstuur het formulier opnieuw.")
            return await self.render_form(request, state, 403)
        message_id = self.form_message_id(form.get("form_key", ""))
        if message_id is None:
            state.values = self.with_new_key(form)
            state.add("", "Dit formulier kunnen we niet verwerken. Controleer de gegevens en verstuur het opnieuw.")
            return await self.render_form(request, state, 400)
        typed = form.get("municipality", "")
        municipality, candidates = self.municipalities.resolve(typed)
        body = trio_command(form, municipality.code if municipality else UNRESOLVED_MUNICIPALITY)
        reply = await entrypoints.register_trio(self.store, self.register,
                                                command_message(RegisterTrio.routing_key, body, message_id))
        if reply.status == "accepted":
            return await self.registered(reply)
        # The refused command's outcome is kept under its message id: a corrected form needs a new one.
        state.values = self.with_new_key(form)
        form_errors(state, reply.errors, None if municipality else municipality_problem(typed, candidates))
        return await self.render_form(request, state, 422)

    def form_message_id(self, form_key: str) -> str | None:
        # Signed, so a posted form can only ever repeat its own command, never claim another one's outcome.
        try:
            return unsign(self.secret, "registration-form", form_key[:200])
        except (LinkInvalid, LinkExpired):
            return None

    def with_new_key(self, form: MultiDict) -> MultiDict:
        items = [(k, v) for k, v in form.multi_items() if k != "form_key"]
        return MultiDict([*items, ("form_key", sign(self.secret, "registration-form", str(uuid.uuid4())))])

    async def registered(self, reply: Reply) -> Response:
        registration_id = str(reply.ids.get("registration_id", ""))
        view = await self.view(registration_id)
        if view is None:
            return not_found()
        async with self.store.db.sessions() as session:
            edition = await SqlEditions(session).get(view.edition)
        return page("registered.html", view=view, edition=edition, allocation_at=allocation_moment(edition),
                    now=utcnow(), status_link=status_path(self.secret, registration_id))

    async def view(self, registration_id: str) -> RegistrationView | None:
        async with self.store.db.sessions() as session:
            return await SqlRegistrations(session).view(registration_id[:36])

    # Status and cancellation

    def status_token_valid(self, registration_id: str, token: str) -> bool:
        try:
            value = unsign(self.secret, "status", token[:MAX_TOKEN_LENGTH])
        except (LinkInvalid, LinkExpired):
            return False
        return hmac.compare_digest(value.encode(), registration_id.encode())

    async def viewable(self, registration_id: str, token: str) -> RegistrationView | None:
        if not self.status_token_valid(registration_id, token):
            return None
        view = await self.view(registration_id)
        return view if view is not None and not view.erased else None

    async def status(self, request: Request) -> Response:
        registration_id = request.path_params["registration_id"]
        token = request.query_params.get("token", "")
        view = await self.viewable(registration_id, token)
        if view is None:
            return not_found()
        return page("status.html", view=view, token=token, can_cancel=view.status in ACTIVE_FOR_CANCEL,
                    allocation_at=allocation_moment(await self.edition(view.edition)),
                    invoice=await invoice_links_of(self.store, registration_id))

    async def confirm_cancel(self, request: Request) -> Response:
        registration_id = request.path_params["registration_id"]
        token = request.query_params.get("token", "")
        view = await self.viewable(registration_id, token)
        if view is None:
            return not_found()
        if view.status not in ACTIVE_FOR_CANCEL:
            return back_to_status(registration_id, token)
        csrf, fresh = self.csrf.issue(request)
        return self.csrf.attach(page("cancel.html", view=view, token=token, csrf=csrf, error=None,
                                     form_key=sign(self.secret, "cancel-form", str(uuid.uuid4()))), fresh)

    async def cancel(self, request: Request) -> Response:
        registration_id = request.path_params["registration_id"]
        try:
            form = await read_form(request)
        except BadForm as bad:
            return bad.response
        token = form.get("token", "")
        view = await self.viewable(registration_id, token)
        if view is None:
            return not_found()
        if not self.csrf.valid(request, form.get("csrf", "")):
            csrf, fresh = self.csrf.issue(request)
            return self.csrf.attach(page(
                "cancel.html", 403, view=view, token=token, csrf=csrf, form_key=form.get("form_key", ""),
                error="Het formulier was verlopen. Bevestig de annulering opnieuw."), fresh)
        message_id = self.cancel_message_id(form.get("form_key", ""))
        body: dict[str, Any] = {"registration_id": registration_id}
        if form.get("reason", "").strip():
            body["reason"] = form.get("reason", "").strip()[:2000]
        reply = await entrypoints.cancel_registration(
            self.store, command_message(CancelRegistration.routing_key, body, message_id))
        if reply.status == "rejected" and not {e.code for e in reply.errors} & ALREADY_ENDED:
            csrf, fresh = self.csrf.issue(request)
            return self.csrf.attach(page(
                "cancel.html", 422, view=view, token=token, csrf=csrf,
                form_key=sign(self.secret, "cancel-form", str(uuid.uuid4())),
                error=" ".join(e.message for e in reply.errors)), fresh)
        return back_to_status(registration_id, token)

    def cancel_message_id(self, form_key: str) -> str:
        try:
            return unsign(self.secret, "cancel-form", form_key[:200])
        except (LinkInvalid, LinkExpired):
            return str(uuid.uuid4())  # cancelling twice is refused by the core as `already_cancelled`

    # Approval

    def approval_registration(self, token: str) -> str | None:
        """The registration a genuine approval token is for. Its age is not checked here: an expired link
        still leads to the expired page of its registration (and `decide` checks the age itself)."""
        if len(token) > MAX_TOKEN_LENGTH:
            return None
        try:
            return unsign(self.secret, APPROVE_PURPOSE, token)
        except LinkInvalid:
            return None

    async def approval_page(self, request: Request) -> Response:
        token = request.path_params["token"]
        registration_id = self.approval_registration(token)
        view = await self.view(registration_id) if registration_id else None
        if view is None or view.erased:
            return page("approval_result.html", 404, outcome="invalid", view=None)
        if view.status != "awaiting_approval":
            return page("approval_result.html", 409, outcome="already_decided", view=view)
        if view.approval_expires_at is not None and view.approval_expires_at <= utcnow():
            return page("approval_result.html", 410, outcome="token_expired", view=view)
        return page("approve.html", view=view, errors={}, reason="")

    async def approval_decision(self, request: Request) -> Response:
        # No CSRF token here, by design: the credential is the signed token in the URL, not a cookie, so a
        # forged request from another site cannot succeed, and mail clients or tools may post the decision.
        token = request.path_params["token"]
        try:
            form = await read_form(request)
        except BadForm as bad:
            return bad.response
        registration_id = self.approval_registration(token)
        view = await self.view(registration_id) if registration_id else None
        if registration_id is None or view is None or view.erased:
            return page("approval_result.html", 404, outcome="invalid", view=None)
        decision = form.get("decision", "")
        reason = form.get("reason", "").strip()
        if decision not in ("approve", "decline"):
            return page("approve.html", 422, view=view, reason=reason,
                        errors={"decision": ["Kies of je de deelname goedkeurt of afwijst."]})
        body: dict[str, Any] = {"registration_id": registration_id, "token": token}
        if decision == "decline" and reason:
            body["reason"] = reason
        model = ApproveRegistration if decision == "approve" else DeclineRegistration
        # One message id per link and decision: a double click or a client's retry repeats the first answer.
        digest = hashlib.sha256(f"{token}\n{decision}".encode()).hexdigest()[:40]
        reply = await entrypoints.decide(self.store, command_message(model.routing_key, body, f"approval-{digest}"),
                                         decision == "approve")
        return await self.decision_page(reply, decision, registration_id, reason)

    async def decision_page(self, reply: Reply, decision: str, registration_id: str, reason: str) -> Response:
        view = await self.view(registration_id)
        if reply.status == "accepted":
            return page("approval_result.html", outcome="approved" if decision == "approve" else "declined",
                        view=view)
        codes = [e.code for e in reply.errors]
        if "already_decided" in codes:
            return page("approval_result.html", 409, outcome="already_decided", view=view)
        if "token_expired" in codes:
            return page("approval_result.html", 410, outcome="token_expired", view=view)
        if any(e.field == "reason" for e in reply.errors) and view is not None:
            return page("approve.html", 422, view=view, reason=reason,
                        errors={"reason": [e.message for e in reply.errors if e.field == "reason"]})
        return page("approval_result.html", 404, outcome="invalid", view=None)


def web_routes(store: RegistrationStore, municipalities: MunicipalityRegister, settings: Settings) -> list[Route]:
    return Web(store, municipalities, settings).routes()
