"""API list throughput: /api/v1/professionals against a bare Django JSON view on the same rows (goal ≥ 0.5×).

Both are called in-process through Django's full handler and middleware (django.test.Client), as
the same user with the same bearer token, walking the list 50 rows a page by cursor. The bare
view does only what the list needs: authenticate the token, take the visible queryset, fetch a
page and return JsonResponse with the same fields. The ratio is what django-ninja, its schema
validation and pagination cost on top.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import include, path

from pharmacrm.core.models import User
from pharmacrm.core.services import authenticate_token, create_api_token
from pharmacrm.customers.selectors import visible_professionals

PAGE = 50
API_URL = f"/api/v1/professionals?page_size={PAGE}"
BARE_URL = "/bench/professionals"
VALUES_URL = "/bench/professionals-values"
# The fields of api.routers.customers.ProfessionalOut, as model attribute names.
FIELDS = (
    "id", "external_id", "name", "gender", "title", "role", "institution_id", "department_id", "tier",
    "prescribing_potential", "engagement_stage", "influence_decision", "influence_prescribing",
    "influence_academic", "status",
)  # fmt: skip


def bare_professionals(request: HttpRequest) -> JsonResponse:
    """The hand-written baseline: token → visible queryset → one page → JsonResponse."""
    header = request.headers.get("Authorization", "")
    user = authenticate_token(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
    if user is None:
        return JsonResponse({"error": "not_authenticated"}, status=401)
    after = int(request.GET.get("after", "0"))
    rows = list(visible_professionals(user=user).filter(id__gt=after).order_by("id")[: PAGE + 1])
    page = rows[:PAGE]
    results = [{field: getattr(p, field) for field in FIELDS} for p in page]
    following = f"{BARE_URL}?after={page[-1].id}" if len(rows) > PAGE else None
    return JsonResponse({"next": following, "results": results}, json_dumps_params={"ensure_ascii": False})


def bare_values(request: HttpRequest) -> JsonResponse:
    """For reference: the same rows read with .values(), skipping model instances (and the joins)."""
    header = request.headers.get("Authorization", "")
    user = authenticate_token(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
    if user is None:
        return JsonResponse({"error": "not_authenticated"}, status=401)
    after = int(request.GET.get("after", "0"))
    qs = visible_professionals(user=user).filter(id__gt=after).order_by("id").values(*FIELDS)
    rows = list(qs[: PAGE + 1])
    page = rows[:PAGE]
    following = f"{VALUES_URL}?after={page[-1]['id']}" if len(rows) > PAGE else None
    return JsonResponse({"next": following, "results": page}, json_dumps_params={"ensure_ascii": False})


urlpatterns = [
    path(BARE_URL.lstrip("/"), bare_professionals),
    path(VALUES_URL.lstrip("/"), bare_values),
    path("", include("pharmacrm.urls")),
]


@dataclass
class Figures:
    rps: float
    p50_ms: float
    queries: int


class Walker:
    """Requests one page after another, back to the first page at the end of the list."""

    def __init__(self, *, client: Client, first: str):
        self.client = client
        self.first = first
        self.url = first

    def step(self) -> float:
        started = time.perf_counter()
        response = self.client.get(self.url)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"{self.url} → {response.status_code}: {response.content[:200]!r}")
        body = response.json()
        following = body.get("next")
        self.url = self._path(following) if following else self.first
        return elapsed

    @staticmethod
    def _path(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.path}?{parts.query}" if parts.query else parts.path


def count_queries(walker: Walker) -> int:
    with CaptureQueriesContext(connection) as captured:
        walker.step()
    # Read now: the next request's request_started signal empties the connection's query log.
    return len(captured.captured_queries)


def one_round(*, walkers: dict[str, Walker], requests: int) -> dict[str, Figures]:
    """`requests` timed requests per variant, interleaved one by one so that other load on the
    machine hits every variant alike; rates count time inside the handler only."""
    queries = {label: count_queries(walker) for label, walker in walkers.items()}
    latencies: dict[str, list[float]] = {label: [] for label in walkers}
    for _ in range(requests):
        for label, walker in walkers.items():
            latencies[label].append(walker.step())
    return {
        label: Figures(
            rps=requests / sum(spent),
            p50_ms=statistics.median(spent) * 1000,
            queries=queries[label],
        )
        for label, spent in latencies.items()
    }


def compare(*, username: str, ctx: Any) -> dict[str, Figures]:
    user = User.objects.get(username=username)
    _token, raw = create_api_token(actor=user, name="bench", days=1)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    walkers = {
        "api": Walker(client=client, first=API_URL),
        "bare": Walker(client=client, first=BARE_URL),
        "bare .values()": Walker(client=client, first=VALUES_URL),
    }
    for _ in range(ctx.warmup):
        for walker in walkers.values():
            walker.step()
    rounds: dict[str, list[Figures]] = {label: [] for label in walkers}
    for _ in range(ctx.rounds):
        for label, figures in one_round(walkers=walkers, requests=ctx.requests).items():
            rounds[label].append(figures)
    return {label: _median(figures) for label, figures in rounds.items()}


def _median(rounds: list[Figures]) -> Figures:
    return Figures(
        rps=statistics.median(r.rps for r in rounds),
        p50_ms=statistics.median(r.p50_ms for r in rounds),
        queries=max(r.queries for r in rounds),
    )


def run(*, ctx: Any) -> None:
    out: Callable[[str], None] = ctx.out
    users = ctx.options.get("users", "rep1,director").split(",")
    out(
        f"API list vs bare Django view: GET {API_URL} vs {BARE_URL}, page {PAGE}, "
        f"{ctx.rounds} rounds × {ctx.requests} requests after {ctx.warmup} warm-up (medians)"
    )
    with override_settings(ROOT_URLCONF=__name__):
        for username in users:
            visible = visible_professionals(user=User.objects.get(username=username)).count()
            figures = compare(username=username, ctx=ctx)
            api, bare = figures["api"], figures["bare"]
            ratio = api.rps / bare.rps
            verdict = "meets" if ratio >= 0.5 else "BELOW"
            out(f"\n{username}: {visible:,} visible professionals")
            out(f"  {'':<15} {'req/s':>7} {'p50 ms':>7} {'queries/req':>12}")
            for label, f in figures.items():
                out(f"  {label:<15} {f.rps:>7.0f} {f.p50_ms:>7.2f} {f.queries:>12}")
            out(f"  ratio api/bare = {ratio:.2f}× ({verdict} the 0.5× goal)")
