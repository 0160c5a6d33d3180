"""The JSON API the form's autocomplete uses: municipalities by (part of) their name or code, and one
municipality's facts with the fee and priority it has in an edition."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.municipalities import MunicipalityIndex

from ..domain import fee_for, has_priority
from .reads import Reads
from .rendering import api_error, api_json


@dataclass(frozen=True)
class MunicipalitySearch:
    municipalities: MunicipalityIndex
    reads: Reads

    def routes(self) -> list[Route]:
        return [
            Route("/api/municipalities", self.search, methods=["GET"]),
            Route("/api/municipalities/{code}", self.municipality, methods=["GET"]),
        ]

    async def search(self, request: Request) -> JSONResponse:
        found = self.municipalities.search(request.query_params.get("q", ""))
        return api_json({"municipalities": [{"code": m.code, "name": m.name, "province": m.province} for m in found]})

    async def municipality(self, request: Request) -> JSONResponse:
        m = self.municipalities.get(request.path_params["code"][:10])
        if m is None:
            return api_error("code", "unknown_municipality", "Deze gemeentecode kennen we niet.", 404)
        slug = request.query_params.get("edition")
        edition = await self.reads.edition(slug) if slug else await self.reads.only_open_edition()
        if slug and edition is None:
            return api_error("edition", "unknown_edition", "Deze editie bestaat niet.", 404)
        fee = fee_for(edition, m.size_class) if edition else None
        return api_json(
            {
                "code": m.code,
                "name": m.name,
                "province": m.province,
                "inhabitants": m.inhabitants,
                "size_class": m.size_class,
                "m50_member": m.m50_member,
                "edition": edition.slug if edition else None,
                "fee_cents": fee.amount_cents if fee else None,
                "fee_waived": fee.waived if fee else None,
                "priority": has_priority(edition, m.size_class) if edition else None,
            }
        )
