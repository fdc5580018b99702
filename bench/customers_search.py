"""Customer search latency: p50 at 10^4 and at 10^6 professionals, and their ratio (goal ≤ 1.5×, < 150 ms at 10^6).

    pharmacrm bench customers_search                 # both sizes, SQLite
    pharmacrm bench customers_search -o sizes=10000  # one size
    PHARMACRM_BENCH_DATABASE_URL=postgres://…/bench pharmacrm bench customers_search   # PostgreSQL

Each size has its own database, built once with the demo generator and reused afterwards:
SQLite files var/bench/customers_search/<size>.sqlite3, or PostgreSQL databases <name>_search_<size>.
10^6 is the `large` demo scale; 10^4 is the `small` scale trimmed to 10,000 professionals (same
country-wide spread of institutions, territories and reps). The search index is rebuilt when it is
missing (the demo generator writes rows in bulk).

What is timed: `customers.search.search(user=…, query=…, limit=20)`, the function behind the
search page, every autocomplete and the API — both kinds (professionals and institutions), the
scope computed afresh for each query as in a request. The users: the director (sees everything),
the first regional manager (a region), `manager1` (a district) and `rep1` (a rep's territories). The queries, drawn from the data with a
fixed seed so they hit: Chinese surnames and full names, substrings of institution names, full
pinyin, pinyin prefixes, initials, mobile prefixes and tails, WeChat id prefixes.
"""

from __future__ import annotations

import dataclasses
import json
import random
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from pharmacrm.core.models import Role, User
from pharmacrm.core.visibility import forget_scope
from pharmacrm.customers import search
from pharmacrm.customers.models import Institution, Professional, ProfessionalSearchKey
from pharmacrm.ops import benchmarks
from pharmacrm.ops.demo.loader import demo_counts, load_demo
from pharmacrm.ops.demo.scales import SCALES

SIZES = (10_000, 1_000_000)
# The director sees all; the first regional manager a region; manager1 a district; rep1 a few territories.
PERSONAS = ("director", "regional", "manager1", "rep1")
QUERIES_PER_KIND = 12
GOAL_MS, GOAL_RATIO = 150.0, 1.5


def scale_for(size: int) -> Any:
    if size >= 1_000_000:
        return SCALES["large"]
    return dataclasses.replace(SCALES["small"], name=f"search-{size}", professionals=size)


def use_database(size: int, out: Any) -> None:
    """Point the default connection at this size's own database (created on first use)."""
    connection.close()
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        folder = Path(settings.VAR_DIR) / "customers_search"
        folder.mkdir(parents=True, exist_ok=True)
        params["NAME"] = str(folder / f"{size}.sqlite3")
    else:
        base = params.setdefault("_BENCH_BASE_NAME", params["NAME"])
        name = f"{base}_search_{size}"
        benchmarks.create_database_if_missing(name=name, out=out)
        connection.close()
        params["NAME"] = name
    call_command("migrate", verbosity=0, interactive=False)
    counts = demo_counts()
    if not counts["professionals"]:
        out(f"  {size:,}: loading the demo into {params['NAME']} …")
        summary = load_demo(scale=scale_for(size), seed=42, today=timezone.localdate())
        out(
            f"  {size:,}: loaded {summary.counts['professionals']:,} professionals in {summary.seconds:.0f} s"
        )
    last = Professional.objects.order_by("-pk").values_list("pk", flat=True).first()
    # The rebuild goes in pk order: keys for the last professional mean the index is complete.
    if not ProfessionalSearchKey.objects.filter(professional_id=last).exists():
        started = time.perf_counter()
        counts = search.rebuild_search_index()
        out(
            f"  {size:,}: built the search index for {counts['professionals']:,} professionals in {time.perf_counter() - started:.0f} s"
        )
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA optimize")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def draw_queries(rng: random.Random) -> list[tuple[str, str]]:
    """(kind of query, query) drawn from the data so that they find something."""
    top = Professional.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    people: list[tuple[str, str, str]] = []
    while len(people) < QUERIES_PER_KIND * 2:
        row = (
            Professional.objects.filter(pk__gte=rng.randint(1, top))
            .order_by("pk")
            .values_list("name", "mobile", "wechat_id")
            .first()
        )
        if row:
            people.append(row)
    institutions = list(
        Institution.objects.filter(
            pk__in=[rng.randint(1, Institution.objects.count()) for _ in range(QUERIES_PER_KIND * 3)]
        ).values_list("name", flat=True)[:QUERIES_PER_KIND]
    )
    queries: list[tuple[str, str]] = []
    for name, mobile, wechat in people[:QUERIES_PER_KIND]:
        syllables = search.pinyin.person_readings(name)[0]
        queries += [
            ("surname", name[0]),
            ("full name", name),
            ("pinyin", "".join(syllables)),
            ("pinyin prefix", syllables[0] + (syllables[1][:1] if len(syllables) > 1 else "")),
            ("initials", search.pinyin.initials(syllables)),
        ]
        digits = search.mobile_digits(mobile)
        if digits:
            queries += [("mobile prefix", digits[: rng.randint(4, 7)]), ("mobile tail", digits[-4:])]
        if wechat:
            queries.append(("wechat prefix", wechat[: rng.randint(4, 8)]))
    for name in institutions:
        start = rng.randint(0, max(0, len(name) - 3))
        queries.append(("institution substring", name[start : start + 2]))
    return queries


def persona(name: str) -> User:
    if name == "regional":
        return User.objects.filter(role_rows__role=Role.REGIONAL_MANAGER).order_by("username").first()  # type: ignore[return-value]
    return User.objects.get(username=name)


def measure(size: int, rounds: int, out: Any) -> dict[str, Any]:
    use_database(size, out)
    rng = random.Random(f"search:{size}")
    queries = draw_queries(rng)
    figures: dict[str, Any] = {
        "size": Professional.objects.count(),
        "keys": ProfessionalSearchKey.objects.count(),
    }
    for username in PERSONAS:
        user = persona(username)
        for _kind, query in queries[:5]:  # warm the caches
            forget_scope(user)
            search.search(user=user, query=query)
        timings: list[float] = []
        cpu: list[float] = []
        by_kind: dict[str, list[float]] = defaultdict(list)
        hits = 0
        for _ in range(rounds):
            for kind, query in queries:
                forget_scope(user)
                started, cpu_started = time.perf_counter(), time.process_time()
                found = search.search(user=user, query=query, limit=20)
                elapsed = (time.perf_counter() - started) * 1000
                cpu.append((time.process_time() - cpu_started) * 1000)
                timings.append(elapsed)
                by_kind[kind].append(elapsed)
                hits += bool(len(found))
        figures[username] = {
            # CPU time too: SQLite runs in-process, so on a shared box it is the part that is ours.
            "cpu_p50": statistics.median(cpu),
            "p50": statistics.median(timings),
            "p95": statistics.quantiles(timings, n=20)[-1],
            "max": max(timings),
            "hit_rate": hits / len(timings),
            "by_kind": {k: statistics.median(v) for k, v in by_kind.items()},
        }
    return figures


def run(*, ctx: Any) -> None:
    sizes = [int(s) for s in ctx.options.get("sizes", ",".join(map(str, SIZES))).split(",")]
    rounds = int(ctx.options.get("rounds", ctx.rounds))
    results = {}
    for size in sizes:
        ctx.out(f"Search at {size:,} professionals:")
        figures = measure(size, rounds, ctx.out)
        results[size] = figures
        ctx.out(f"  {figures['size']:,} professionals, {figures['keys']:,} search keys")
        for username in PERSONAS:
            f = figures[username]
            ctx.out(
                f"  {username:<9} p50 {f['p50']:6.2f} ms (CPU {f['cpu_p50']:5.2f})   p95 {f['p95']:6.2f} ms   max {f['max']:6.1f} ms"
                f"   found something for {f['hit_rate']:.0%} of queries"
            )
            slowest = sorted(f["by_kind"].items(), key=lambda kv: -kv[1])[:3]
            ctx.out("            slowest kinds (p50): " + ", ".join(f"{k} {v:.2f} ms" for k, v in slowest))
    if len(sizes) == 2:
        small, large = (results[s] for s in sorted(sizes))
        ctx.out(
            f"Ratio p50({max(sizes):,}) / p50({min(sizes):,}), goal ≤ {GOAL_RATIO}; p50 at {max(sizes):,} goal < {GOAL_MS:.0f} ms:"
        )
        for username in PERSONAS:
            ratio = large[username]["p50"] / small[username]["p50"]
            cpu_ratio = large[username]["cpu_p50"] / small[username]["cpu_p50"]
            verdict = "ok" if ratio <= GOAL_RATIO and large[username]["p50"] < GOAL_MS else "MISSED"
            ctx.out(
                f"  {username:<9} {ratio:4.2f}×  ({small[username]['p50']:.2f} → {large[username]['p50']:.2f} ms)  {verdict}"
                f"   CPU {cpu_ratio:4.2f}× ({small[username]['cpu_p50']:.2f} → {large[username]['cpu_p50']:.2f} ms)"
            )
    ctx.out("JSON " + json.dumps({str(k): v for k, v in results.items()}, ensure_ascii=False))
