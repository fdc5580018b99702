"""The demo generator at tiny scale: deterministic, the fixed logins, visibility, idempotence, reset."""

from __future__ import annotations

import dataclasses
import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db.models import F, Q
from django.utils import timezone

from pharmacrm.core.models import Division, OrgUnit, Role, Territory, TerritoryAssignment, TerritoryRule, User
from pharmacrm.core.visibility import forget_scope, visible
from pharmacrm.customers.models import Department, Institution, InstitutionTerritoryPeriod, Professional
from pharmacrm.customers.territory_history import resolve_territories
from pharmacrm.flow.models import FlowRecord
from pharmacrm.ops.demo.loader import DEMO_PASSWORD, load_demo, reset_demo
from pharmacrm.ops.demo.scales import SCALES

pytestmark = pytest.mark.django_db


def demo(*args: str) -> str:
    out = StringIO()
    call_command("demo", "--scale", "tiny", *args, stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, Any]:
    """What the generator decided, independent of primary keys."""
    return {
        "institutions": list(
            Institution.objects.order_by("external_id").values_list(
                "external_id", "name", "kind", "grade", "ownership", "beds", "territory__code"
            )
        ),
        "professionals": list(
            Professional.objects.order_by("institution__external_id", "name", "role", "mobile").values_list(
                "name",
                "gender",
                "title",
                "role",
                "tier",
                "institution__external_id",
                "department__name",
                "mobile",
            )
        ),
        "users": list(
            User.objects.order_by("username").values_list("username", "display_name", "org_unit__code")
        ),
        "territories": list(Territory.objects.order_by("code").values_list("code", "name", "org_unit__code")),
        "assignments": list(
            TerritoryAssignment.objects.order_by("territory__code", "valid_from").values_list(
                "territory__code", "user__username", "valid_from", "valid_to"
            )
        ),
    }


def table_counts() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count() for m in apps.get_models() if m._meta.managed}


def test_same_seed_gives_the_same_data() -> None:
    demo("--seed", "7")
    first = snapshot()
    assert 25 <= len(first["institutions"]) <= 45
    assert 150 <= len(first["professionals"]) <= 260
    demo("--seed", "7", "--reset")
    assert snapshot() == first
    demo("--seed", "8", "--reset")
    assert snapshot()["professionals"] != first["professionals"]


def test_the_fast_writer_of_the_big_scales_writes_the_same_rows() -> None:
    """medium/large skip history and write raw multi-row INSERTs; the data must not differ."""
    today = timezone.localdate()
    load_demo(scale=SCALES["tiny"], seed=7, today=today)
    with_history = snapshot()
    reset_demo()
    load_demo(scale=dataclasses.replace(SCALES["tiny"], history=False, batch_size=7), seed=7, today=today)
    assert snapshot() == with_history
    assert not Professional.history.exists()
    professional = Professional.objects.filter(department__isnull=False).first()
    assert professional is not None and professional.created_at is not None
    assert professional.affiliations.get().valid_from.year < today.year


def test_fixed_logins_have_their_roles() -> None:
    demo()
    expected = {
        "admin": {Role.ADMIN},
        "director": {Role.DIRECTOR},
        "manager1": {Role.DISTRICT_MANAGER},
        "rep1": {Role.REP},
        "rep2": {Role.REP},
        "service1": {Role.SERVICE},
        "compliance1": {Role.COMPLIANCE},
        "ka1": {Role.COMMERCIAL},
    }
    for username, roles in expected.items():
        user = User.objects.get(username=username)
        assert set(user.role_rows.values_list("role", flat=True)) == roles, username
        assert user.check_password(DEMO_PASSWORD), username
        assert user.display_name and not user.display_name.isascii(), username
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    rep1, rep2, manager1 = (User.objects.get(username=u) for u in ("rep1", "rep2", "manager1"))
    assert rep1.org_unit == rep2.org_unit and rep1.org_unit.kind == OrgUnit.Kind.TEAM
    assert manager1.org_unit == rep1.org_unit.parent and manager1.org_unit.kind == OrgUnit.Kind.DISTRICT
    mine = set(TerritoryAssignment.objects.current().filter(user=rep1).values_list("territory", flat=True))
    theirs = set(TerritoryAssignment.objects.current().filter(user=rep2).values_list("territory", flat=True))
    assert mine and theirs and not mine & theirs


def test_reps_see_only_their_territories_and_the_manager_sees_both() -> None:
    demo()
    rep1, rep2, manager1 = (User.objects.get(username=u) for u in ("rep1", "rep2", "manager1"))
    own = Institution.objects.filter(
        territory__assignments__in=TerritoryAssignment.objects.current().filter(user=rep1)
    )
    other = Institution.objects.filter(
        territory__assignments__in=TerritoryAssignment.objects.current().filter(user=rep2)
    )
    assert own.filter(external_id__startswith="DEMO-H").exists(), "rep1 covers real hospitals"
    assert other.filter(external_id__startswith="DEMO-H").exists(), "rep2 covers real hospitals"

    seen = set(visible(Institution, user=rep1).values_list("pk", flat=True))
    assert seen == set(own.values_list("pk", flat=True))
    assert not seen & set(other.values_list("pk", flat=True))
    people = visible(Professional, user=rep1)
    assert people.exists()
    assert not people.exclude(institution__in=own).exists()

    managed = set(visible(Institution, user=manager1).values_list("pk", flat=True))
    assert seen <= managed and set(other.values_list("pk", flat=True)) <= managed
    assert len(managed) < Institution.objects.count(), "the manager does not see the other region"


def test_rep2_took_over_mid_year() -> None:
    demo()
    rep2 = User.objects.get(username="rep2")
    territory = TerritoryAssignment.objects.get(user=rep2).territory
    rows = list(territory.assignments.order_by("valid_from"))
    assert len(rows) == 2
    before, after = rows
    assert before.user != rep2 and not before.user.is_active
    assert before.valid_to is not None and before.valid_to < after.valid_from
    assert after.user == rep2 and after.valid_to is None
    forget_scope(before.user)
    assert not visible(Institution, user=before.user).exists(), "a rep who left sees nothing"


def test_rows_are_consistent_and_audited() -> None:
    demo()
    assert not Institution.objects.exclude(kind=Institution.Kind.HOSPITAL).exclude(grade="none").exists()
    assert not Institution.objects.filter(territory__isnull=True).exists()
    assert not Professional.objects.filter(search_pinyin="").exists()
    assert (
        not Professional.objects.exclude(department__isnull=True)
        .exclude(department__institution=F("institution"))
        .exists()
    )
    # Each rep territory with a rule owns its city, and the city is where its institutions are.
    for rule in TerritoryRule.objects.select_related("territory"):
        assert rule.territory.institutions.filter(city=rule.city).exists()
    assert (
        Professional.history.filter(history_source="system", history_type="+").count()
        == Professional.objects.count()
    )
    # The fast history writer copies every tracked field, defaults included.
    professional = Professional.objects.filter(department__isnull=False).first()
    assert professional is not None
    record = professional.history.get()
    for name in (
        "name",
        "institution_id",
        "department_id",
        "tier",
        "status",
        "created_at",
        "confirmed_fields",
    ):
        assert getattr(record, name) == getattr(professional, name), name
    assert record.history_user is None
    # One '+' row each, and one '~' row for each customer the flow demo moved to another territory.
    moved = InstitutionTerritoryPeriod.objects.filter(valid_from__isnull=False).count()
    assert Institution.history.count() == Institution.objects.count() + moved
    assert Department.objects.filter(institution__kind=Institution.Kind.HOSPITAL, name="药剂科").exists()


def test_a_few_customers_moved_mid_way_and_their_sales_follow_the_history() -> None:
    demo()
    moved = list(
        InstitutionTerritoryPeriod.objects.filter(valid_from__isnull=False).select_related("institution")
    )
    assert len(moved) == 3
    for period in moved:
        assert period.institution.territory_id == period.territory_id
        assert period.reason
        earlier = InstitutionTerritoryPeriod.objects.get(
            institution=period.institution, valid_from__isnull=True
        )
        assert earlier.valid_to == period.valid_from - dt.timedelta(days=1)
        sales = FlowRecord.objects.filter(institution=period.institution)
        assert set(sales.filter(sale_date__lt=period.valid_from).values_list("territory_id", flat=True)) == {
            earlier.territory_id
        }
        assert set(sales.filter(sale_date__gte=period.valid_from).values_list("territory_id", flat=True)) == {
            period.territory_id
        }
    # Every institution's current period names its territory as resolved today.
    current = dict(
        InstitutionTerritoryPeriod.objects.filter(valid_to__isnull=True).values_list(
            "institution_id", "territory_id"
        )
    )
    resolved = resolve_territories(Institution.objects.values_list("pk", flat=True))
    assert current == {pk: t for pk, t in resolved.items() if t is not None}


def test_second_run_without_reset_changes_nothing() -> None:
    demo()
    before = table_counts()
    out = demo()
    assert "already loaded" in out
    assert table_counts() == before


def test_reset_removes_demo_rows_and_keeps_divisions() -> None:
    divisions = Division.objects.count()
    baseline = table_counts()
    demo()
    call_command("demo", "--scale", "tiny", "--reset", stdout=StringIO())
    assert OrgUnit.objects.filter(Q(code="HQ") | Q(path__startswith="/HQ/")).count() == 7
    reset_demo()
    assert Division.objects.count() == divisions
    after = table_counts()
    changed = {label: n for label, n in after.items() if n != baseline[label]}
    assert changed == {}, changed
