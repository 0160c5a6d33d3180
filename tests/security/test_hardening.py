"""The hardening every service's app runs behind (shared/http.py): per-client rate limit on the public
registration, approval and status endpoints, a request size limit, and security headers on every response."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from shared.http import ForwardedClient, RateLimit, SecurityHeaders, TokenBucket, forwarded_client, hardening
from shared.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({"received": len(body)})


async def plain_page(_: Request) -> Response:
    return HTMLResponse("<!doctype html><title>x</title><p>hallo</p>")


async def own_policy_page(_: Request) -> Response:
    return HTMLResponse(
        "<p>eigen</p>", headers={"Content-Security-Policy": "default-src 'self'", "Referrer-Policy": "same-origin"}
    )


ROUTES = [
    Route(path, echo, methods=["GET", "POST"])
    for path in (
        "/",
        "/api/registrations",
        "/approve/{token}",
        "/registrations/{rid}",
        "/registrations/{rid}/cancel",
        "/dashboard/login",
        "/reports",
        "/api/editions",
    )
] + [Route("/page", plain_page), Route("/own", own_policy_page)]


def app(clock: Clock | None = None, **settings: int | str) -> Starlette:
    middleware = hardening(
        Settings(
            **{
                "werkplaatsen_rate_limit_per_minute": 6,
                "werkplaatsen_rate_limit_burst": 3,
                **{f"werkplaatsen_{k}": v for k, v in settings.items()},
            }
        )
    )
    if clock is not None:  # the same stack, on a clock the test moves
        middleware = [
            m if m.cls is not RateLimit else type(m)(RateLimit, bucket=TokenBucket(6, 3, clock=clock))
            for m in middleware
        ]
    return Starlette(routes=ROUTES, middleware=middleware)


def client(asgi: Any, address: str = "203.0.113.7") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi, client=(address, 40000)), base_url="http://testserver"
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/"),
        ("POST", "/api/registrations"),
        ("GET", "/approve/abc"),
        ("POST", "/approve/abc"),
        ("GET", "/registrations/r1"),
        ("POST", "/registrations/r1/cancel"),
        ("POST", "/dashboard/login"),
    ],
)
async def test_a_client_past_its_burst_on_a_public_endpoint_gets_429_with_retry_after_in_dutch(
    method: str, path: str
) -> None:
    async with client(app()) as http:
        answers = [await http.request(method, path) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.headers["retry-after"] == "10"  # 6 a minute: one every 10 s
    (error,) = refused.json()["errors"]
    assert error["code"] == "rate_limited" and "Probeer het over 10 seconden opnieuw" in error["message"]


async def test_a_browser_is_told_in_a_dutch_page_when_to_try_again() -> None:
    async with client(app()) as http:
        for _ in range(3):
            await http.post("/")
        refused = await http.post("/", headers={"Accept": "text/html"})
    assert refused.status_code == 429 and "Even geduld" in refused.text
    assert "frame-ancestors 'none'" in refused.headers["content-security-policy"]


async def test_the_budget_refills_with_time_and_is_kept_per_client() -> None:
    clock = Clock()
    asgi = app(clock)
    async with client(asgi) as first, client(asgi, "198.51.100.2") as second:
        assert [(await first.post("/api/registrations")).status_code for _ in range(4)] == [200, 200, 200, 429]
        assert (await second.post("/api/registrations")).status_code == 200  # another address: its own budget
        clock.now += 10  # one request's worth
        assert [(await first.post("/api/registrations")).status_code for _ in range(2)] == [200, 429]


async def test_reading_pages_and_the_public_api_is_not_limited() -> None:
    async with client(app()) as http:
        answers = [await http.get(path) for path in ("/", "/reports", "/api/editions") for _ in range(5)]
    assert {a.status_code for a in answers} == {200}


async def test_a_rate_limit_of_zero_turns_it_off() -> None:
    async with client(app(rate_limit_per_minute=0)) as http:
        assert {(await http.post("/api/registrations")).status_code for _ in range(10)} == {200}


def test_the_limiter_forgets_the_least_recent_clients_beyond_its_bound() -> None:
    bucket = TokenBucket(per_minute=60, burst=1, max_clients=100)
    for n in range(10_000):  # a flood from made-up addresses
        bucket.take(f"10.0.{n // 256}.{n % 256}")
    assert len(bucket._buckets) == 100


async def test_a_body_over_the_limit_is_refused_with_413_whether_announced_or_streamed() -> None:
    asgi = app(max_body_bytes=4096)

    async def chunks():  # noqa: ANN202 - no Content-Length: the size shows only while reading
        for _ in range(10):
            yield b"x" * 1024

    async with client(asgi) as http:
        announced = await http.post("/reports", content=b"x" * 5000)
        streamed = await http.post("/reports", content=chunks())
        fine = await http.post("/reports", content=b"x" * 4096)
    assert announced.status_code == streamed.status_code == 413
    assert announced.json()["errors"][0]["code"] == "body_too_large"
    assert "te groot" in streamed.json()["errors"][0]["message"]
    assert fine.json() == {"received": 4096}


async def test_html_without_a_policy_of_its_own_gets_a_strict_one_and_every_answer_nosniff() -> None:
    async with client(app()) as http:
        page = await http.get("/page")
        own = await http.get("/own")
        data = await http.get("/reports")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "script-src" not in policy
    assert page.headers["x-frame-options"] == "DENY" and page.headers["referrer-policy"] == "no-referrer"
    assert own.headers["content-security-policy"] == "default-src 'self'"  # a page's own policy stands
    assert own.headers["referrer-policy"] == "same-origin"
    assert data.headers["x-content-type-options"] == "nosniff" and "content-security-policy" not in data.headers


def test_hardening_puts_the_headers_outermost_so_refusals_carry_them_too() -> None:
    stack = hardening(Settings())
    # The forwarded client is settled first (it answers nothing itself); the headers wrap every refusal.
    assert [m.cls for m in stack[:2]] == [ForwardedClient, SecurityHeaders]
    assert RateLimit in [m.cls for m in stack]


GATEWAY = "10.0.0.5"


async def test_forged_forwarded_for_does_not_escape_the_rate_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.cli import server_config

    # The app as `werkplaatsen run` serves it, under the setting the deployments used to ship: uvicorn must not
    # read the header itself. The gateway appends the real peer (198.51.100.9) to whatever the client sent: only
    # that hop counts.
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    config = server_config(app(trusted_proxies=GATEWAY), "127.0.0.1", 0)
    config.load()
    async with client(config.loaded_app, GATEWAY) as http:
        answers = [
            await http.post("/api/registrations", headers={"X-Forwarded-For": f"192.0.2.{n}, 198.51.100.9"})
            for n in range(4)
        ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]


async def test_forwarded_for_from_an_untrusted_peer_is_ignored() -> None:
    # No proxies configured (the default): the socket peer is the client, whatever header it sends.
    async with client(app(), "203.0.113.50") as http:
        answers = [await http.post("/", headers={"X-Forwarded-For": f"192.0.2.{n}"}) for n in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]


async def test_visitors_behind_a_trusted_gateway_each_have_their_own_budget() -> None:
    asgi = app(trusted_proxies="10.0.0.0/24")
    async with client(asgi, GATEWAY) as http:
        first = [(await http.post("/", headers={"X-Forwarded-For": "198.51.100.1"})).status_code for _ in range(4)]
        other = await http.post("/", headers={"X-Forwarded-For": "198.51.100.2"})
    assert first == [200, 200, 200, 429] and other.status_code == 200


@pytest.mark.parametrize(
    ("peer", "header", "client_address"),
    [
        ("10.0.0.5", ["192.0.2.1, 198.51.100.9"], "198.51.100.9"),  # the right-most untrusted hop
        ("10.0.0.5", ["198.51.100.9, 10.0.0.7"], "198.51.100.9"),  # past a second trusted proxy
        ("10.0.0.5", ["192.0.2.1", "198.51.100.9"], "198.51.100.9"),  # a header sent twice: one list
        ("10.0.0.5", [], "10.0.0.5"),  # a trusted proxy that sent nothing is the client
        ("10.0.0.5", ["10.0.0.8"], "10.0.0.8"),  # trusted all the way: the left-most
        ("203.0.113.7", ["198.51.100.9"], "203.0.113.7"),  # not from a proxy: the peer
    ],
)
def test_the_client_is_the_right_most_hop_no_trusted_proxy_wrote(
    peer: str, header: list[str], client_address: str
) -> None:
    proxies = Settings(werkplaatsen_trusted_proxies="10.0.0.0/24").trusted_proxies
    assert forwarded_client(peer, header, proxies) == client_address


async def test_hsts_is_sent_over_https_and_never_on_plain_http_development() -> None:
    dev = app(rate_limit_per_minute=0)
    https_base = app(rate_limit_per_minute=0, public_url="https://werkplaatsen.example.org")
    behind_gateway = app(rate_limit_per_minute=0, trusted_proxies=GATEWAY)
    async with client(dev) as plain, client(https_base) as public:
        assert "strict-transport-security" not in (await plain.get("/reports")).headers
        # Only a trusted proxy can say the request came over https.
        forged = await plain.get("/reports", headers={"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" not in forged.headers
        assert (await public.get("/reports")).headers["strict-transport-security"] == "max-age=31536000"
    async with client(behind_gateway, GATEWAY) as proxied:
        over_https = await proxied.get("/reports", headers={"X-Forwarded-Proto": "https"})
        over_http = await proxied.get("/reports", headers={"X-Forwarded-Proto": "http"})
    assert over_https.headers["strict-transport-security"].startswith("max-age=")
    assert "strict-transport-security" not in over_http.headers


def test_a_trusted_proxy_that_is_not_an_address_stops_the_service_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.settings import SettingsError, load_settings

    monkeypatch.setenv("WERKPLAATSEN_TRUSTED_PROXIES", "10.0.0.5, gateway")
    with pytest.raises(SettingsError, match=r"^WERKPLAATSEN_TRUSTED_PROXIES: .*'gateway'"):
        load_settings()


@pytest.mark.parametrize(
    "url", ["/reports?edition=%00", "/approve/a%00b", "/registrations/%00", "/api/editions?x=a%00"]
)
async def test_a_nul_character_in_the_url_is_refused_before_any_handler_sees_it(url: str) -> None:
    async with client(app(rate_limit_per_minute=0)) as http:
        answer = await http.get(url)
    assert answer.status_code == 400 and answer.json()["errors"][0]["code"] == "invalid_character"
