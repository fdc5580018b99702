"""Write a demo plan to the database in batches, find existing demo data, and remove it again."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import models, transaction
from django.db.models import Q

from pharmacrm.commercial.models import Product, TherapeuticArea
from pharmacrm.compliance.models import Consent, RepRegistration
from pharmacrm.core.audit import Source, audit_context
from pharmacrm.core.models import OrgUnit, Role, Territory, TerritoryAssignment, TerritoryRule, User, UserRole
from pharmacrm.customers import search
from pharmacrm.customers.models import (
    Affiliation,
    Department,
    Institution,
    InstitutionTerritoryPeriod,
    KeyDate,
    Need,
    Professional,
    Segment,
)
from pharmacrm.ops.demo import channels as demo_channels
from pharmacrm.ops.demo import commercial as demo_commercial
from pharmacrm.ops.demo import compliance, engagement, portfolio, profiles
from pharmacrm.ops.demo import flow as demo_flow
from pharmacrm.ops.demo import professionals as staff
from pharmacrm.ops.demo.geography import load_geography
from pharmacrm.ops.demo.institutions import DEMO_PREFIX, InstitutionSpec, build_institutions
from pharmacrm.ops.demo.names import name_keys
from pharmacrm.ops.demo.organisation import (
    COMPANY_CODE,
    COMPANY_NAME,
    EMPLOYEE_PREFIX,
    FIXED_LOGINS,
    FIXED_USERNAMES,
    Plan,
    TerritoryPlan,
    plan_organisation,
)
from pharmacrm.ops.demo.scales import Scale
from pharmacrm.ops.demo.writer import Writer, history_model

DEMO_PASSWORD = "pharmacrm-demo"  # noqa: S105 (the documented demo password, loopback only)


class DemoConflict(Exception):
    """The database holds rows the demo would collide with (a non-demo HQ unit or login)."""


@dataclass
class Summary:
    scale: str
    seed: int
    seconds: float = 0.0
    history: bool = True
    counts: dict[str, int] = field(default_factory=dict)
    logins: list[tuple[str, str, str, str]] = field(default_factory=list)  # username, name, roles, unit


def demo_counts() -> dict[str, int]:
    """What demo data is there now (all zero when there is none)."""
    institutions = Institution.objects.filter(external_id__startswith=DEMO_PREFIX)
    return {
        "org_units": OrgUnit.objects.filter(path__startswith=f"/{COMPANY_CODE}/").count(),
        "users": User.objects.filter(employee_no__startswith=EMPLOYEE_PREFIX).count(),
        "institutions": institutions.count(),
        "professionals": Professional.objects.filter(institution__in=institutions).count(),
    }


def check_conflicts() -> None:
    """Refuse when the demo's fixed codes or logins exist but are not demo rows."""
    company = OrgUnit.objects.filter(code=COMPANY_CODE).first()
    if company is not None and company.name != COMPANY_NAME:
        raise DemoConflict(
            f"org unit code {COMPANY_CODE} belongs to '{company.name}', which is not demo data; refusing to touch it"
        )
    foreign = (
        User.objects.filter(username__in=FIXED_USERNAMES)
        .exclude(employee_no__startswith=EMPLOYEE_PREFIX)
        .values_list("username", flat=True)
    )
    if foreign:
        raise DemoConflict(
            f"users {', '.join(sorted(foreign))} exist and are not demo users; refusing to touch them"
        )


def write_organisation(*, plan: Plan, writer: Writer) -> None:
    """Org units, users and roles, territories with their rules and coverage history."""
    for depth in range(4):
        # Parents are written one level before their children, so parent.pk is known.
        level = [u for u in plan.units if _depth(plan, u) == depth]
        objs = []
        for unit in level:
            parent = plan.units[unit.parent] if unit.parent is not None else None
            parent_path = _path(plan, parent) if parent else "/"
            objs.append(
                OrgUnit(
                    name=unit.name,
                    code=unit.code,
                    kind=unit.kind,
                    parent_id=parent.pk if parent else None,
                    path=f"{parent_path}{unit.code}/",
                )
            )
        for unit, obj in zip(level, writer.create(OrgUnit, objs), strict=True):
            unit.pk = obj.pk

    # One hash for everyone who may log in: argon2 is slow on purpose, and all demo users share
    # the documented password. Departed reps cannot log in.
    usable = make_password(DEMO_PASSWORD)
    users = [
        User(
            username=u.username,
            display_name=u.display_name,
            employee_no=u.employee_no,
            org_unit_id=plan.units[u.unit].pk if u.unit is not None else None,
            is_active=u.is_active,
            is_superuser=u.is_superuser,
            is_staff=u.is_superuser,
            phone=u.phone,
            password=usable if u.is_active else make_password(None),
        )
        for u in plan.users
    ]
    for user, saved_user in zip(plan.users, writer.create(User, users), strict=True):
        user.pk = saved_user.pk
    writer.create(UserRole, [UserRole(user_id=u.pk, role=r) for u in plan.users for r in u.roles])

    territories = [
        Territory(name=t.name, code=t.code, org_unit_id=plan.units[t.unit].pk) for t in plan.territories
    ]
    for territory, saved_territory in zip(
        plan.territories, writer.create(Territory, territories), strict=True
    ):
        territory.pk = saved_territory.pk
    writer.create(
        TerritoryRule,
        [
            TerritoryRule(territory_id=t.pk, province_id=t.city.province, city_id=t.city.code)
            for t in plan.territories
            if t.city is not None
        ],
    )
    # Coverage history written directly (core.services.assign_territory does one row at a time):
    # the predecessor's row ends the day before the takeover, so periods never overlap.
    assignments = []
    for t in plan.territories:
        assert t.holder is not None
        holder = plan.users[t.holder]
        if t.previous is not None and t.takeover is not None:
            assignments.append(
                TerritoryAssignment(
                    territory_id=t.pk,
                    user_id=plan.users[t.previous].pk,
                    valid_from=plan.coverage_start,
                    valid_to=t.takeover - dt.timedelta(days=1),
                )
            )
        assignments.append(
            TerritoryAssignment(
                territory_id=t.pk, user_id=holder.pk, valid_from=t.takeover or plan.coverage_start
            )
        )
    writer.create(TerritoryAssignment, assignments)


def _depth(plan: Plan, unit: Any) -> int:
    depth = 0
    while unit.parent is not None:
        unit = plan.units[unit.parent]
        depth += 1
    return depth


def _path(plan: Plan, unit: Any) -> str:
    codes = []
    while unit is not None:
        codes.append(unit.code)
        unit = plan.units[unit.parent] if unit.parent is not None else None
    return "/" + "/".join(reversed(codes)) + "/"


def write_customers(
    *,
    rng: random.Random,
    plan: Plan,
    specs: list[InstitutionSpec],
    writer: Writer,
    chunk: int,
    today: dt.date,
    progress: Callable[[str], None],
) -> None:
    """Institutions, then departments and professionals chunk by chunk, so memory stays bounded.

    With each professional come their shared key dates, needs and consents to be contacted.
    """
    total = len(specs)
    maker = profiles.ProfileMaker(today=today)
    for start in range(0, total, chunk):
        part = specs[start : start + chunk]
        with transaction.atomic():
            _write_chunk(rng=rng, plan=plan, specs=part, writer=writer, today=today, maker=maker)
        done = min(start + chunk, total)
        progress(f"  institutions {done}/{total}, professionals {writer.counts['professional']}")


INSTITUTION_COLUMNS = (
    "external_id", "name", "kind", "grade", "ownership", "beds", "outpatient_volume", "province_id",
    "city_id", "county_id", "address", "territory_id", "search_pinyin", "search_initials",
)  # fmt: skip
DEPARTMENT_COLUMNS = ("institution_id", "name", "specialty", "headcount")
PROFESSIONAL_COLUMNS = ("institution_id", "department_id", *staff.PERSON_FIELDS)
PERIOD_COLUMNS = ("institution_id", "territory_id")
AFFILIATION_COLUMNS = (
    "professional_id",
    "institution_id",
    "department_id",
    "position",
    "is_primary",
    "valid_from",
)


def _write_chunk(
    *,
    rng: random.Random,
    plan: Plan,
    specs: list[InstitutionSpec],
    writer: Writer,
    today: dt.date,
    maker: profiles.ProfileMaker,
) -> None:
    rows = []
    for spec in specs:
        pinyin, initials = name_keys(spec.name)
        territory = plan.territories[spec.territory].pk if spec.territory is not None else None
        rows.append(
            (
                spec.external_id,
                spec.name,
                spec.kind,
                spec.grade,
                spec.ownership,
                spec.beds,
                spec.outpatient_volume,
                spec.province,
                spec.city.code,
                spec.county,
                spec.address,
                territory,
                pinyin[:400],
                initials[:100],
            )
        )
    for spec, pk in zip(specs, writer.insert(Institution, INSTITUTION_COLUMNS, rows), strict=True):
        spec.pk = pk
    # Territory history (attribution reads it): each institution's resolved territory since the
    # beginning, as the migration's backfill and create_institution write it. The demo's rules are
    # per city; the moves come later (ops/demo/flow.py moves a few customers mid-way).
    by_city = {t.city.code: t.pk for t in plan.territories if t.city is not None}
    periods = []
    for spec in specs:
        own = plan.territories[spec.territory].pk if spec.territory is not None else None
        resolved = own or by_city.get(spec.city.code)
        if resolved is not None:
            periods.append((spec.pk, resolved))
    writer.insert(InstitutionTerritoryPeriod, PERIOD_COLUMNS, periods)

    plans = [(spec, staff.plan_departments(rng=rng, spec=spec)) for spec in specs]
    departments = [(spec.pk, d.name, d.specialty, d.headcount) for spec, rows_ in plans for d in rows_]
    saved = iter(writer.insert(Department, DEPARTMENT_COLUMNS, departments))
    people: list[tuple[Any, ...]] = []
    positions: list[str] = []
    extras: list[profiles.Extras] = []
    territories: list[TerritoryPlan | None] = []
    for spec, dept_rows in plans:
        dept_pks = [next(saved) for _ in dept_rows]
        covering = plan.territories[spec.territory] if spec.territory is not None else None
        for role, dept in staff.plan_roles(rng=rng, spec=spec, departments=dept_rows):
            values, extra = staff.person(
                rng=rng,
                spec=spec,
                role=role,
                department=dept_rows[dept] if dept is not None else None,
                maker=maker,
            )
            people.append((spec.pk, dept_pks[dept] if dept is not None else None, *values))
            positions.append(staff.position(spec=spec, role=role))
            extras.append(extra)
            territories.append(covering)
    person_ids = writer.insert(Professional, PROFESSIONAL_COLUMNS, people)
    owners = [
        plan.users[t.holder].pk if t is not None and t.holder is not None else None for t in territories
    ]
    writer.insert(KeyDate, profiles.KEY_DATE_COLUMNS, profiles.key_date_rows(person_ids, extras))
    writer.insert(Need, profiles.NEED_COLUMNS, profiles.need_rows(person_ids, extras, owners))
    writer.insert(
        Consent,
        compliance.CONSENT_COLUMNS,
        compliance.consent_rows(
            rng=rng, person_ids=person_ids, territories=territories, plan=plan, today=today
        ),
    )
    writer.insert(
        Affiliation,
        AFFILIATION_COLUMNS,
        [
            (pk, row[0], row[1], title, True, dt.date(today.year - rng.randint(1, 25), rng.randint(1, 12), 1))
            for pk, row, title in zip(person_ids, people, positions, strict=True)
        ],
    )


def load_demo(
    *, scale: Scale, seed: int, today: dt.date, progress: Callable[[str], None] = lambda _m: None
) -> Summary:
    """Generate and save the demo for `scale`. Deterministic for (scale, seed, today)."""
    started = time.perf_counter()
    check_conflicts()
    # Separate streams per phase: a change in how professionals are made leaves the org tree alone.
    geo = load_geography()
    specs = build_institutions(rng=random.Random(f"{seed}:institutions"), geo=geo, scale=scale)
    plan = plan_organisation(rng=random.Random(f"{seed}:org"), geo=geo, scale=scale, specs=specs, today=today)
    progress(
        f"plan: {len(specs)} institutions, ~{sum(s.professionals for s in specs)} professionals,"
        f" {len(plan.users)} users"
    )
    writer = Writer(history=scale.history, batch_size=scale.batch_size)
    # Small scales are one all-or-nothing transaction; the big ones commit per chunk so the SQLite
    # WAL stays small (an interrupted run leaves partial data: run again with --reset).
    outer = transaction.atomic() if scale.history else contextlib.nullcontext()
    with audit_context(source=Source.SYSTEM), outer:
        with transaction.atomic():
            write_organisation(plan=plan, writer=writer)
        chunk = max(50, scale.batch_size // 10)
        write_customers(
            rng=random.Random(f"{seed}:people"),
            plan=plan,
            specs=specs,
            writer=writer,
            chunk=chunk,
            today=today,
            progress=progress,
        )
        # The rows above bypass the services that keep search keys in step: index them all at once.
        progress("search index …")
        search.rebuild_search_index()
        extra_counts = write_work(
            seed=seed, scale=scale, plan=plan, writer=writer, today=today, progress=progress
        )
    summary = Summary(scale=scale.name, seed=seed, history=scale.history)
    summary.seconds = time.perf_counter() - started
    summary.counts = {**_summary_counts(plan=plan, specs=specs, writer=writer), **extra_counts}
    summary.logins = _fixed_logins(plan)
    return summary


def write_work(
    *, seed: int, scale: Scale, plan: Plan, writer: Writer, today: dt.date, progress: Callable[[str], None]
) -> dict[str, int]:
    """Segments, products, filings and (small scales) a year of visits, on top of the customers."""
    progress("segments …")
    demo_people = Professional.objects.filter(institution__external_id__startswith=DEMO_PREFIX)
    with transaction.atomic():
        # With history (tiny, small) through segmentation.recompute_batch; the big scales write
        # the same segments without history rows, as they write everything else.
        changed = profiles.recompute_segments(
            professionals=demo_people,
            batch_size=max(500, scale.batch_size),
            progress=progress,
            writer=None if scale.history else writer,
        )
        products = portfolio.write_portfolio(writer=writer, today=today)
        commercial_counts = demo_commercial.write_commercial(seed=seed, writer=writer, today=today)
        rows, unfiled = compliance.plan_registrations(
            rng=random.Random(f"{seed}:registrations"), plan=plan, today=today
        )
        writer.insert(RepRegistration, compliance.REGISTRATION_COLUMNS, rows)
    counts = {
        "segments": Segment.objects.filter(professional__in=demo_people).count(),
        "tiers changed by the rules": changed,
        "key dates": writer.counts["keydate"],
        "needs": writer.counts["need"],
        "consents": writer.counts["consent"],
        "products": len(products.products),
        "key messages": writer.counts["keymessage"],
        **commercial_counts,
        "rep registrations": writer.counts["repregistration"],
        "reps not yet filed": len(unfiled),
        "filings expiring within 30 days": sum(
            1
            for row in rows
            if row[2] == RepRegistration.Status.FILED and row[4] <= today + dt.timedelta(days=30)
        ),
    }
    # Channel partners (with agreements over their province) before the flow data: the flow demo
    # uses them, and their agreements' regions flag 窜货 as the files load. Reviews need the flow
    # data: demo_channels.write_reviews(...) runs after it.
    progress("channels …")
    with transaction.atomic():
        counts |= demo_channels.write_channels(
            seed=seed, scale_name=scale.name, today=today, progress=progress
        )
    progress("flow data …")
    with transaction.atomic():
        counts |= demo_flow.write_flow(
            seed=seed, today=today, customers_per_distributor=scale.flow_customers, progress=progress
        )
        # Quarterly reviews read the flow metrics (timeliness, coverage, inventory days, 窜货).
        counts |= demo_channels.write_reviews(seed=seed, today=today, progress=progress)
    if not scale.visits:
        progress(f"visits: skipped at the {scale.name} scale (only tiny and small get a year of visits)")
        counts["visits"] = 0
        return counts
    progress("visits …")
    # Visits are written without history rows: tens of thousands of them, each with three relations.
    visit_writer = Writer(history=False, batch_size=scale.batch_size)
    with transaction.atomic():
        counts |= engagement.write_activity(
            seed=seed,
            plan=plan,
            portfolio=products,
            writer=writer,
            visit_writer=visit_writer,
            today=today,
            volume=scale.visit_volume,
            unfiled=unfiled,
            progress=progress,
        )
    counts |= {
        "visit participants": visit_writer.counts["visit_professionals"],
        "commitments": writer.counts["commitment"],
        "callbacks": writer.counts["callback"],
        "care reminders": writer.counts["carereminder"],
    }
    return counts


def _summary_counts(*, plan: Plan, specs: list[InstitutionSpec], writer: Writer) -> dict[str, int]:
    kinds = Counter(s.kind for s in specs)
    units = Counter(u.kind for u in plan.units)
    return {
        "regions (大区)": units[OrgUnit.Kind.REGION],
        "districts (地区)": units[OrgUnit.Kind.DISTRICT],
        "teams": units[OrgUnit.Kind.TEAM],
        "users": len(plan.users),
        "reps (active)": sum(1 for u in plan.users if "rep" in u.roles and u.is_active),
        "territories": len(plan.territories),
        "territory assignments": writer.counts["territoryassignment"],
        "territories taken over mid-way": sum(1 for t in plan.territories if t.takeover),
        "hospitals": kinds[Institution.Kind.HOSPITAL],
        "clinics": kinds[Institution.Kind.CLINIC],
        "pharmacies": kinds[Institution.Kind.PHARMACY],
        "retailers": kinds[Institution.Kind.RETAILER],
        "distributors": kinds[Institution.Kind.DISTRIBUTOR],
        "institutions": len(specs),
        "departments": writer.counts["department"],
        "professionals": writer.counts["professional"],
        "affiliations": writer.counts["affiliation"],
    }


def _fixed_logins(plan: Plan) -> list[tuple[str, str, str, str]]:
    by_name = {u.username: u for u in plan.users}
    out = []
    for username, _display, roles in FIXED_LOGINS:
        user = by_name[username]
        unit = plan.units[user.unit].name if user.unit is not None else ""
        out.append((username, user.display_name, ", ".join(str(Role(r).label) for r in roles), unit))
    return out


# --- reset ------------------------------------------------------------------------------


def _purge(
    model: type[models.Model], qs: models.QuerySet[Any], seen: tuple[type[models.Model], ...] = ()
) -> int:
    """Delete `qs` and what CASCADEs from it with plain SQL DELETEs.

    The ORM's delete() would load every row into memory and write a history row for each (a
    million of them at the large scale). Rows of other apps that PROTECT a demo row make the
    transaction fail at commit, which is what should happen.
    """
    for rel in model._meta.related_objects:
        related = rel.related_model
        if not isinstance(related, type) or related is model or related in seen or rel.many_to_many:
            continue
        on_delete = getattr(rel, "on_delete", None)
        refs = related._base_manager.filter(**{f"{rel.field.name}__in": qs.values("pk")})
        if on_delete is models.CASCADE:
            _purge(related, refs, (*seen, model))
        elif on_delete is models.SET_NULL:
            refs.update(**{rel.field.name: None})
    # Many-to-many rows, from either side (a visit's professionals, products, key messages).
    for m2m in model._meta.many_to_many:
        through = m2m.remote_field.through
        assert through is not None
        through._base_manager.filter(**{f"{m2m.m2m_field_name()}__in": qs.values("pk")})._raw_delete(qs.db)
    for rel in model._meta.related_objects:
        if rel.many_to_many and isinstance(rel.field, models.ManyToManyField):
            through = rel.field.remote_field.through
            assert through is not None
            refs = through._base_manager.filter(
                **{f"{rel.field.m2m_reverse_field_name()}__in": qs.values("pk")}
            )
            refs._raw_delete(qs.db)
    history = history_model(model)
    if history is not None:
        # Through _purge, so history tables hanging off the history (m2m history) go too.
        _purge(history, history._base_manager.filter(id__in=qs.values("pk")), (*seen, model))
    return int(qs._raw_delete(qs.db))


def reset_demo(*, progress: Callable[[str], None] = lambda _m: None) -> dict[str, int]:
    """Remove everything the generator made (Division reference data stays).

    Foreign keys are deferred to commit on SQLite and PostgreSQL, so the order below only has to
    leave a consistent database at the end; subqueries keep parameter lists short at any scale.
    """
    check_conflicts()
    institutions = Institution.objects.filter(external_id__startswith=DEMO_PREFIX)
    units = OrgUnit.objects.filter(Q(code=COMPANY_CODE) | Q(path__startswith=f"/{COMPANY_CODE}/"))
    territories = Territory.objects.filter(org_unit__in=units)
    people = Professional._base_manager.filter(institution__in=institutions)
    users = User._base_manager.filter(employee_no__startswith=EMPLOYEE_PREFIX)
    # The demo's work first: these rows PROTECT the professionals, institutions and users below.
    steps: list[tuple[str, type[models.Model], models.QuerySet[Any]]] = [
        *demo_commercial.commercial_rows_to_reset(),
        *demo_flow.flow_rows_to_reset(institutions=institutions, users=users),
        *(
            (label, model, model._base_manager.filter(query))
            for label, model, query in engagement.activity_of(
                institutions=institutions, people=people, users=users
            )
        ),
        # After the flow rows (they PROTECT the partners, which the flow steps find by institution).
        *demo_channels.channel_rows_to_reset(),
        ("rep registrations", RepRegistration, RepRegistration._base_manager.filter(user__in=users)),
        (
            "consents",
            Consent,
            Consent._base_manager.filter(Q(professional__in=people) | Q(recorded_by__in=users)),
        ),
        ("products", Product, Product._base_manager.filter(code__startswith=portfolio.PRODUCT_PREFIX)),
        (
            "therapeutic areas",
            TherapeuticArea,
            TherapeuticArea._base_manager.filter(
                code__startswith=portfolio.PRODUCT_PREFIX, products__isnull=True
            ),
        ),
        ("professionals", Professional, Professional._base_manager.filter(institution__in=institutions)),
        ("departments", Department, Department._base_manager.filter(institution__in=institutions)),
        ("institutions", Institution, Institution._base_manager.filter(external_id__startswith=DEMO_PREFIX)),
        (
            "territory assignments",
            TerritoryAssignment,
            TerritoryAssignment._base_manager.filter(territory__in=territories),
        ),
        ("territory rules", TerritoryRule, TerritoryRule._base_manager.filter(territory__in=territories)),
        ("territories", Territory, Territory._base_manager.filter(org_unit__in=units)),
        ("users", User, User._base_manager.filter(employee_no__startswith=EMPLOYEE_PREFIX)),
        (
            "org units",
            OrgUnit,
            OrgUnit._base_manager.filter(Q(code=COMPANY_CODE) | Q(path__startswith=f"/{COMPANY_CODE}/")),
        ),
    ]
    deleted: dict[str, int] = {}
    with transaction.atomic():
        for label, model, qs in steps:
            deleted[label] = _purge(model, qs)
            progress(f"  deleted {deleted[label]} {label}")
    return deleted
