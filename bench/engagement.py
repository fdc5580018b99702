"""The rep's today page and plan generation with 10M visits vs 10^4 visits in the table (goal: ≤ 1.5×).

Two SQLite databases under var/bench/ hold the same company: 2,500 reps, each covering one
territory of 10 hospitals and 400 professionals (1M professionals in all), with needs, key dates,
commitments, consents and reception rules. They differ only in the visits table: the bench rep's
own customers have the same year of history in both (about 3,700 visits, a few planned today),
and other reps' visits fill the table up to 10^4 in one and 10^7 in the other. So the ratio
measures what the size of the visits table costs the rep's pages — the indexes at work — not a
different amount of work.

The data is written with raw executemany statements (no ORM, no history rows), indexes dropped
during the load and rebuilt after; the files are reused on the next run (`-o rebuild=1` builds
them again). If the large table cannot be filled within the time budget (`-o budget=SECONDS`,
default 600), the load stops where it is and the scale actually used is printed.

Measured in-process through Django's full handler (django.test.Client, logged in as the rep):
GET /today/, and generate_plan for next month as a dry run (all reads and placement, no writes;
one real run is timed too, inside a transaction rolled back).

    pharmacrm bench engagement --requests 40 --rounds 3 --warmup 5
    pharmacrm bench engagement -o visits=2000000 -o budget=300
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections, models, transaction
from django.test import Client, override_settings
from django.utils import timezone

from pharmacrm.compliance.models import Consent
from pharmacrm.core.models import OrgUnit, Territory, TerritoryAssignment, User, UserRole
from pharmacrm.customers.models import Institution, KeyDate, Need, Professional
from pharmacrm.engagement import planning
from pharmacrm.engagement.models import Callback, Commitment, ReceptionRule, Visit

REPS = 2_500
INSTITUTIONS_PER_TERRITORY = 10
PER_INSTITUTION = 40  # 400 professionals a rep, 1M in all
SMALL_VISITS = 10_000
BENCH_REP = "rep00001"
SEED = 7
BASE_NAME = "engagement-base.sqlite3"
HISTORY_DAYS = 365


# --- Raw writes ----------------------------------------------------------------------------------


def raw_conn() -> Any:
    connection.ensure_connection()
    return connection.connection


class RawInsert:
    """INSERT of `columns` for `model`, every other column at its default, through sqlite3's executemany."""

    def __init__(self, model: type[models.Model], columns: tuple[str, ...]):
        now = timezone.now()
        fields = {f.column: f for f in model._meta.concrete_fields}
        rest = []
        for column, f in fields.items():
            if column in columns or f.primary_key:
                continue
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                value = now
            else:
                value = f.get_default()
            rest.append((column, f.get_db_prep_save(value, connection)))
        names = [*columns, *(c for c, _v in rest)]
        self.constants = tuple(v for _c, v in rest)
        quoted = ", ".join(f'"{n}"' for n in names)
        placeholders = ", ".join("?" * len(names))
        self.sql = f'INSERT INTO "{model._meta.db_table}" ({quoted}) VALUES ({placeholders})'

    def run(
        self, rows: Iterable[tuple[Any, ...]], *, batch: int = 50_000, deadline: float | None = None
    ) -> int:
        cursor = raw_conn().cursor()
        count = 0
        iterator = iter(rows)
        constants = self.constants
        while True:
            chunk = [row + constants for row in islice(iterator, batch)]
            if not chunk:
                break
            cursor.executemany(self.sql, chunk)
            count += len(chunk)
            if deadline is not None and time.monotonic() > deadline:
                break
        return count


def fast_load_pragmas() -> None:
    raw_conn().executescript(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1000000; PRAGMA temp_store=MEMORY;"
    )


def normal_pragmas() -> None:
    raw_conn().executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")


def drop_indexes(tables: list[str]) -> list[str]:
    cursor = raw_conn().cursor()
    rows = cursor.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL AND tbl_name IN ({','.join('?' * len(tables))})",
        tables,
    ).fetchall()
    for name, _sql in rows:
        cursor.execute(f'DROP INDEX "{name}"')
    return [sql for _name, sql in rows]


def create_indexes(statements: list[str]) -> None:
    cursor = raw_conn().cursor()
    for sql in statements:
        cursor.execute(sql)


def utc_text(value: dt.datetime) -> str:
    """How Django's SQLite backend stores an aware datetime (UTC, no offset)."""
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")


# --- Switching databases ----------------------------------------------------------------------------


def use_database(path: Path) -> None:
    connections.close_all()
    connections["default"].settings_dict["NAME"] = str(path)


# --- The company -------------------------------------------------------------------------------------


@dataclass
class Layout:
    rep_ids: list[int]  # by territory index
    professional_ids: list[int]  # in territory order: territory t owns [t*400, (t+1)*400)
    professional_tiers: list[str]
    professional_institutions: list[int]


def build_base(ctx: Any, path: Path) -> None:
    started = time.monotonic()
    use_database(path)
    call_command("migrate", verbosity=0, interactive=False)
    fast_load_pragmas()
    rng = random.Random(SEED)
    today = timezone.localdate()
    with transaction.atomic():
        company = OrgUnit.objects.create(code="BHQ", name="基准公司", kind=OrgUnit.Kind.COMPANY)
        teams = []
        for r in range(5):
            region = OrgUnit.objects.create(
                code=f"BR{r}", name=f"大区{r}", kind=OrgUnit.Kind.REGION, parent=company
            )
            for d in range(5):
                district = OrgUnit.objects.create(
                    code=f"BR{r}D{d}", name=f"地区{r}-{d}", kind=OrgUnit.Kind.DISTRICT, parent=region
                )
                for t in range(10):
                    teams.append(
                        OrgUnit.objects.create(
                            code=f"BR{r}D{d}T{t}",
                            name=f"团队{r}-{d}-{t}",
                            kind=OrgUnit.Kind.TEAM,
                            parent=district,
                        )
                    )
        now = utc_text(timezone.now())
        RawInsert(User, ("id", "username", "display_name", "password", "org_unit_id", "date_joined")).run(
            (i + 1, f"rep{i + 1:05d}", f"代表{i + 1}", "!", teams[i // 10].pk, now) for i in range(REPS)
        )
        RawInsert(UserRole, ("user_id", "role")).run((i + 1, "rep") for i in range(REPS))
        RawInsert(Territory, ("id", "code", "name", "org_unit_id")).run(
            (i + 1, f"BT{i + 1:05d}", f"辖区{i + 1}", teams[i // 10].pk) for i in range(REPS)
        )
        RawInsert(TerritoryAssignment, ("territory_id", "user_id", "valid_from")).run(
            (i + 1, i + 1, "2020-01-01") for i in range(REPS)
        )
        institutions = REPS * INSTITUTIONS_PER_TERRITORY
        RawInsert(Institution, ("id", "name", "kind", "grade", "province_id", "territory_id")).run(
            (i + 1, f"第{i + 1}人民医院", "hospital", "3a", "11", i // INSTITUTIONS_PER_TERRITORY + 1)
            for i in range(institutions)
        )
        # A third of the hospitals receive reps on set days and hours (接待制度).
        RawInsert(ReceptionRule, ("institution_id", "weekdays", "start_time", "end_time")).run(
            (i + 1, "2,4", "14:00:00", "17:00:00") for i in range(0, institutions, 3)
        )
        tiers = ["key"] * 10 + ["potential"] * 30 + ["general"] * 60
        roles = ["physician"] * 70 + ["department_head"] * 10 + ["head_nurse"] * 8 + ["pharmacy_director"] * 4
        roles += ["vice_president"] * 2 + ["medical_affairs_director"] * 2 + ["procurement"] * 4
        stages = ["stable"] * 50 + ["growth"] * 20 + ["new"] * 20 + ["reactivation"] * 10
        total = institutions * PER_INSTITUTION

        def professionals() -> Iterator[tuple[Any, ...]]:
            for i in range(total):
                yield (
                    i + 1,
                    f"医生{i + 1}",
                    rng.choice(roles),
                    i // PER_INSTITUTION + 1,
                    rng.choice(tiers),
                    rng.choice(stages),
                    "心血管;内分泌" if i % 3 == 0 else "呼吸",
                    f"139{i:08d}",
                )

        RawInsert(
            Professional,
            (
                "id",
                "name",
                "role",
                "institution_id",
                "tier",
                "engagement_stage",
                "therapeutic_areas",
                "mobile",
            ),
        ).run(professionals())
        found = today.isoformat()
        RawInsert(Need, ("professional_id", "kind", "description", "found_on")).run(
            (i + 1, "academic", "希望获得最新指南解读", found) for i in range(0, total, 10)
        )
        RawInsert(KeyDate, ("professional_id", "kind", "month", "day", "shared_by_customer")).run(
            (
                i + 1,
                "birthday",
                (today + dt.timedelta(days=i % 365)).month,
                (today + dt.timedelta(days=i % 365)).day,
                True,
            )
            for i in range(0, total, 20)
        )
        RawInsert(Commitment, ("professional_id", "owner_id", "description", "due_on")).run(
            (i + 1, i // 400 + 1, "寄送会议资料", (today + dt.timedelta(days=(i % 9) - 4)).isoformat())
            for i in range(0, total, 16)
        )
        RawInsert(Callback, ("professional_id", "owner_id", "reason", "due_on")).run(
            (i + 1, i // 400 + 1, "after_visit", (today - dt.timedelta(days=i % 5)).isoformat())
            for i in range(0, total, 40)
        )
        RawInsert(
            Consent, ("professional_id", "purpose", "channel", "source", "given_on", "recorded_by_id")
        ).run((i + 1, "contact", "phone", "paper", "2025-01-01", i // 400 + 1) for i in range(0, total, 2))
    raw_conn().execute("ANALYZE")
    normal_pragmas()
    ctx.out(
        f"  built {path.name}: {REPS:,} reps, {REPS * INSTITUTIONS_PER_TERRITORY:,} hospitals, "
        f"{REPS * INSTITUTIONS_PER_TERRITORY * PER_INSTITUTION:,} professionals in {time.monotonic() - started:.0f} s"
    )


# --- Visits ---------------------------------------------------------------------------------------------


def visit_rows(
    *, target: int, today: dt.date, rng: random.Random
) -> Iterator[tuple[tuple[Any, ...], tuple[int, int]]]:
    """(visit row, (visit id, professional)) pairs over the past year: the bench rep's customers first
    with the same history in every size (key 22, potential 12, general 6 a year, ± 2, a few planned
    for today and the coming days), then every other professional at the rate that fills `target`."""
    tz = timezone.get_default_timezone()
    slots = [
        utc_text(
            timezone.make_aware(
                dt.datetime.combine(today - dt.timedelta(days=d), dt.time(9 + s // 2, 30 * (s % 2))), tz
            )
        )
        for d in range(1, HISTORY_DAYS + 1)
        for s in range(16)
    ]
    per_tier = {"key": 22, "potential": 12, "general": 6}
    mean = 0.1 * 22 + 0.3 * 12 + 0.6 * 6  # the tier mix of build_base
    own = INSTITUTIONS_PER_TERRITORY * PER_INSTITUTION
    others = REPS * own - own
    factor = max(0.0, (target - own * mean) / (others * mean))
    conn = raw_conn()
    rows = conn.execute('SELECT id, tier, institution_id FROM "customers_professional" ORDER BY id')
    visit_id = 0
    for pid, tier, institution in rows:
        owner = (pid - 1) // own + 1
        base = per_tier[tier] + rng.randint(-2, 2)
        count = base if owner == 1 else int(base * factor + rng.random())
        for _ in range(count):
            visit_id += 1
            when = slots[rng.randrange(len(slots))]
            yield (
                (visit_id, owner, institution, "completed", rng.random() < 0.8, when, when, "in_person"),
                (visit_id, pid),
            )
            if visit_id >= target:
                return
        if owner == 1 and pid % 60 == 0:
            visit_id += 1
            day = today + dt.timedelta(days=pid % 3)
            when = utc_text(timezone.make_aware(dt.datetime.combine(day, dt.time(9 + pid % 8)), tz))
            yield (visit_id, owner, institution, "planned", True, when, None, "in_person"), (visit_id, pid)


def fill_visits(ctx: Any, path: Path, *, target: int, budget: float) -> int:
    started = time.monotonic()
    use_database(path)
    fast_load_pragmas()
    tables = [Visit._meta.db_table, Visit.professionals.through._meta.db_table]
    indexes = drop_indexes(tables)
    visits = RawInsert(
        Visit,
        ("id", "owner_id", "institution_id", "status", "was_planned", "starts_at", "completed_at", "channel"),
    )
    links = Visit.professionals.through
    link_sql = f'INSERT INTO "{links._meta.db_table}" ("visit_id", "professional_id") VALUES (?, ?)'
    rng = random.Random(SEED)
    stream = visit_rows(target=target, today=timezone.localdate(), rng=rng)
    deadline = started + budget
    written = 0
    cursor = raw_conn().cursor()
    with transaction.atomic():
        while True:
            chunk = list(islice(stream, 200_000))
            if not chunk:
                break
            visits.run((row for row, _link in chunk), batch=200_000)
            cursor.executemany(link_sql, [link for _row, link in chunk])
            written += len(chunk)
            if written % 2_000_000 < 200_000 and written >= 2_000_000:
                ctx.out(f"    {written:,} visits, {time.monotonic() - started:.0f} s")
            if time.monotonic() > deadline:
                ctx.out(f"    time budget of {budget:.0f} s reached at {written:,} visits; stopping there")
                break
    load = time.monotonic() - started
    create_indexes(indexes)
    raw_conn().execute("ANALYZE")
    normal_pragmas()
    ctx.out(
        f"  filled {path.name}: {written:,} visits in {load:.0f} s, indexes rebuilt in "
        f"{time.monotonic() - started - load:.0f} s"
    )
    return written


def visit_count() -> int:
    return int(raw_conn().execute(f'SELECT COUNT(*) FROM "{Visit._meta.db_table}"').fetchone()[0])


def prepare(ctx: Any, *, size: int, budget: float, rebuild: bool) -> tuple[Path, int]:
    folder = Path(settings.VAR_DIR)
    base = folder / BASE_NAME
    target = folder / f"engagement-{size}.sqlite3"
    if rebuild:
        for p in (base, target):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{p}{suffix}").unlink(missing_ok=True)
    if target.exists():
        use_database(target)
        count = visit_count()
        ctx.out(f"  reusing {target.name}: {count:,} visits")
        return target, count
    if not base.exists():
        build_base(ctx, base)
    connections.close_all()
    shutil.copyfile(base, target)
    return target, fill_visits(ctx, target, target=size, budget=budget)


# --- Measuring --------------------------------------------------------------------------------------


@dataclass
class Figures:
    visits: int
    today_p50_ms: float
    plan_p50_ms: float
    plan_write_ms: float
    queries: int
    suggestions: int
    planned: int


def p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def measure(ctx: Any, *, visits: int) -> Figures:
    rep = User.objects.get(username=BENCH_REP)
    client = Client()
    client.force_login(rep)
    today = timezone.localdate()
    period = planning.Period.month(today.year + (today.month == 12), today.month % 12 + 1)

    def page() -> None:
        response = client.get("/today/")
        if response.status_code != 200:
            raise RuntimeError(f"/today/ → {response.status_code}")

    def plan() -> planning.PlanResult:
        return planning.generate_plan(actor=rep, rep=rep, period=period, dry_run=True)

    timed(page, ctx.warmup)
    timed(plan, max(1, ctx.warmup // 5))
    # Counted with an execute wrapper: the request resets the connection's query log and reconnects.
    statements: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        body = client.get("/today/").content.decode()
    today_samples: list[float] = []
    plan_samples: list[float] = []
    plan_runs = max(3, ctx.requests // 10)
    for _ in range(ctx.rounds):
        today_samples += timed(page, ctx.requests)
        plan_samples += timed(plan, plan_runs)
    result = plan()
    started = time.perf_counter()
    with transaction.atomic():
        planning.generate_plan(actor=rep, rep=rep, period=period)
        transaction.set_rollback(True)
    write_ms = (time.perf_counter() - started) * 1000
    return Figures(
        visits=visits,
        today_p50_ms=p50(today_samples),
        plan_p50_ms=p50(plan_samples),
        plan_write_ms=write_ms,
        queries=len(statements),
        suggestions=body.count('data-testid="suggestion"'),
        planned=len(result.planned),
    )


def run(*, ctx: Any) -> None:
    if connection.vendor != "sqlite":
        ctx.out(
            "This benchmark builds SQLite files under var/bench/; run it without PHARMACRM_BENCH_DATABASE_URL."
        )
        return
    large = int(ctx.options.get("visits", 10_000_000))
    budget = float(ctx.options.get("budget", 600))
    rebuild = ctx.options.get("rebuild") == "1"
    ctx.out(
        f"Engagement: /today/ and plan generation for {BENCH_REP} (400 customers) among "
        f"{REPS * INSTITUTIONS_PER_TERRITORY * PER_INSTITUTION:,} professionals, "
        f"{SMALL_VISITS:,} vs {large:,} visits; {ctx.rounds} rounds × {ctx.requests} page requests, "
        f"plan generation {max(3, ctx.requests // 10)} × a round (medians)"
    )
    original = connections["default"].settings_dict["NAME"]
    try:
        small_path, small_count = prepare(ctx, size=SMALL_VISITS, budget=budget, rebuild=rebuild)
        large_path, large_count = prepare(ctx, size=large, budget=budget, rebuild=False)
        if large_count < large:
            ctx.out(
                f"  NOTE: the large database holds {large_count:,} visits, not {large:,} (time budget reached)"
            )
        figures = []
        # Pages render without a collectstatic manifest (the bench never runs collectstatic).
        storages = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        with override_settings(STORAGES=storages):
            for path, count in ((small_path, small_count), (large_path, large_count)):
                use_database(path)
                figures.append(measure(ctx, visits=count))
    finally:
        use_database(Path(original))
    small, big = figures
    ctx.out(
        f"\n  {'visits':>12} {'today p50 ms':>13} {'plan p50 ms':>12} {'plan+write ms':>14} {'queries':>8} {'suggested':>10} {'planned':>8}"
    )
    for f in figures:
        ctx.out(
            f"  {f.visits:>12,} {f.today_p50_ms:>13.1f} {f.plan_p50_ms:>12.1f} {f.plan_write_ms:>14.1f} "
            f"{f.queries:>8} {f.suggestions:>10} {f.planned:>8}"
        )
    today_ratio = big.today_p50_ms / small.today_p50_ms
    plan_ratio = big.plan_p50_ms / small.plan_p50_ms
    verdict = "meets" if max(today_ratio, plan_ratio) <= 1.5 else "MISSES"
    ctx.out(
        f"  ratio {big.visits:,} / {small.visits:,} visits: today {today_ratio:.2f}×, plan {plan_ratio:.2f}× "
        f"({verdict} the 1.5× goal); today page {big.queries} queries"
    )
