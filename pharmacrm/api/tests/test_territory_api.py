"""Institution moves and coverage through the API: visibility, refusals in the one error shape, nothing changed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from pharmacrm.api.tests.support import assert_error, bearer_client
from pharmacrm.core.models import Role, TerritoryAssignment
from pharmacrm.core.testing import BLIND, SEES, Personas
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.core.tests.query_counts import assert_flat_query_count
from pharmacrm.customers.models import Institution, InstitutionTerritoryPeriod
from pharmacrm.customers.tests.factories import InstitutionFactory
from pharmacrm.customers.tests.test_territory_history import Unchanged as PeriodsUnchanged
from pharmacrm.customers.tests.test_territory_history import timeline
from pharmacrm.web.tests.test_coverage_pages import Unchanged as CoverageUnchanged

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture
def hospital(personas: Personas) -> Institution:
    return InstitutionFactory(name="北京协和医院", territory=personas.own_territory)


def periods_url(institution: Institution) -> str:
    return f"/api/v1/institutions/{institution.pk}/territory-periods"


def moves_url(institution: Institution) -> str:
    return f"/api/v1/institutions/{institution.pk}/moves"


# --- Territory periods ------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", [*SEES, *BLIND])
def test_who_may_see_the_institution_may_list_its_territory_periods(
    personas: Personas, hospital: Institution, persona: str
) -> None:
    response = bearer_client(personas[persona]).get(periods_url(hospital))
    if persona in BLIND:
        assert_error(response, 404, "not_found")
        return
    assert response.status_code == 200
    (period,) = response.json()["results"]
    assert {k: period[k] for k in ("territory_id", "territory_name", "valid_from", "valid_to")} == {
        "territory_id": personas.own_territory.pk,
        "territory_name": "本辖区",
        "valid_from": None,
        "valid_to": None,
    }


def test_the_periods_list_query_count_does_not_grow(
    personas: Personas, hospital: Institution, django_assert_max_num_queries: Any
) -> None:
    client = bearer_client(personas.owner)
    state = {"rows": 1}

    def add_rows(n: int) -> None:
        state["rows"] += n
        InstitutionTerritoryPeriod.objects.filter(institution=hospital).delete()
        first = dt.date(2000, 1, 1)
        for i in range(state["rows"] - 1):
            day = first + dt.timedelta(days=i)
            InstitutionTerritoryPeriod.objects.create(
                institution=hospital, territory=personas.colleague_territory, valid_from=day, valid_to=day
            )
        InstitutionTerritoryPeriod.objects.create(
            institution=hospital,
            territory=personas.own_territory,
            valid_from=first + dt.timedelta(days=state["rows"] - 1),
            recorded_by=personas.admin,
        )

    # 1 the token with its user, 2 the user's roles, 3 the user's current territories (the scope),
    # 4 the institution (404 when hidden), 5 one page of periods with territory and recorder.
    _small, large = assert_flat_query_count(
        django_assert_max_num_queries,
        fetch=lambda: client.get(periods_url(hospital)),
        add_rows=add_rows,
        pinned=5,
    )
    assert len(large.json()["results"]) == 31


# --- Moves ------------------------------------------------------------------------------------------------


def test_an_admin_records_a_backdated_move_and_the_same_move_again_changes_nothing(
    personas: Personas, hospital: Institution, django_capture_on_commit_callbacks: Any
) -> None:
    client = bearer_client(personas.admin)
    day = TODAY - dt.timedelta(days=30)
    body = {
        "territory_id": personas.colleague_territory.pk,
        "effective": day.isoformat(),
        "reason": "区域调整",
    }
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(moves_url(hospital), body, content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["moved"], data["since"], data["institution"]["territory_id"]) == (
        True,
        day.isoformat(),
        personas.colleague_territory.pk,
    )
    assert [(p["territory_id"], p["valid_from"], p["valid_to"]) for p in data["territory_periods"]] == [
        (personas.own_territory.pk, None, (day - dt.timedelta(days=1)).isoformat()),
        (personas.colleague_territory.pk, day.isoformat(), None),
    ]
    assert data["territory_periods"][1]["reason"] == "区域调整"
    assert len(callbacks) == 1  # reattribute_flow for this institution, after commit
    unchanged = PeriodsUnchanged()
    again = client.post(moves_url(hospital), body, content_type="application/json")
    assert (again.status_code, again.json()["moved"]) == (200, False)
    unchanged.check()


def test_a_rep_moves_between_their_own_territories_from_today(
    personas: Personas, hospital: Institution
) -> None:
    second = personas.colleague_territory
    TerritoryAssignment.objects.create(territory=second, user=personas.owner, valid_from=dt.date(2020, 1, 1))
    response = bearer_client(personas.owner).post(
        moves_url(hospital), {"territory_id": second.pk}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert timeline(hospital) == [("OWN", None, TODAY - dt.timedelta(days=1)), ("COL", TODAY, None)]


@pytest.mark.parametrize(
    ("persona", "body", "status", "code", "message"),
    [
        (
            "owner",
            {"territory_id": "OWN", "effective": "-3", "reason": "补录"},
            403,
            "forbidden",
            "只有系统管理员可以把辖区调整的生效日期定在今天以前。",
        ),
        (
            "admin",
            {"territory_id": "COL", "effective": "-3"},
            400,
            "invalid",
            "生效日期早于今天（追溯调整）时须填写原因。",
        ),
        ("admin", {"territory_id": "COL", "effective": "+1"}, 400, "invalid", None),
        ("admin", {"territory_id": "COL", "effective": "2026-13-01"}, 422, "validation_error", None),
        ("admin", {"territory_id": "COL", "when": "today"}, 422, "validation_error", None),
        ("owner", {"territory_id": "OUT"}, 400, "invalid", None),
        ("admin", {"territory_id": 999999}, 400, "invalid", "辖区不存在或无权查看：999999"),
    ],
)
def test_bad_moves_are_refused_in_the_one_error_shape_and_change_nothing(
    personas: Personas,
    hospital: Institution,
    persona: str,
    body: dict[str, Any],
    status: int,
    code: str,
    message: Any,
) -> None:
    codes = {
        "OWN": personas.own_territory.pk,
        "COL": personas.colleague_territory.pk,
        "OUT": personas.outside_territory.pk,
    }
    payload = dict(body)
    if isinstance(payload["territory_id"], str):
        payload["territory_id"] = codes[payload["territory_id"]]
    if payload.get("effective") in ("-3", "+1"):
        payload["effective"] = (TODAY + dt.timedelta(days=int(payload["effective"]))).isoformat()
    unchanged = PeriodsUnchanged()
    response = bearer_client(personas[persona]).post(
        moves_url(hospital), payload, content_type="application/json"
    )
    error = assert_error(response, status, code, message)
    if code == "invalid":
        assert error["fields"]  # names the field
    unchanged.check()


@pytest.mark.parametrize("persona", BLIND)
def test_moving_an_institution_one_cannot_see_is_a_404(
    personas: Personas, hospital: Institution, persona: str
) -> None:
    unchanged = PeriodsUnchanged()
    response = bearer_client(personas[persona]).post(
        moves_url(hospital), {"territory_id": personas.outside_territory.pk}, content_type="application/json"
    )
    assert_error(response, 404, "not_found")
    unchanged.check()


# --- Coverage -------------------------------------------------------------------------------------------


@pytest.fixture
def newcomer(personas: Personas) -> Any:
    return UserFactory(
        username="newcomer", display_name="钱代表", org_unit=personas.team_n1a, roles=[Role.REP]
    )


def test_an_admin_assigns_and_corrects_coverage(
    personas: Personas, newcomer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = bearer_client(personas.admin)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = client.post(
            f"/api/v1/territories/{personas.own_territory.pk}/assignments",
            {"user_id": newcomer.pk, "valid_from": "2026-01-15"},
            content_type="application/json",
        )
        assert created.status_code == 201, created.content
        assignment = created.json()
        assert (
            assignment["user_name"],
            assignment["kind"],
            assignment["valid_from"],
            assignment["valid_to"],
        ) == (
            "钱代表",
            "primary",
            "2026-01-15",
            None,
        )
        corrected = client.patch(
            f"/api/v1/assignments/{assignment['id']}",
            {"valid_from": "2026-01-20"},
            content_type="application/json",
        )
    assert corrected.status_code == 200, corrected.json()
    assert corrected.json()["valid_from"] == "2026-01-20"
    assert len(callbacks) == 2  # each change queues re-attribution after commit
    # The owner's period still ends the day before the takeover as first recorded.
    owner_row = TerritoryAssignment.objects.get(user=personas.owner, territory=personas.own_territory)
    assert owner_row.valid_to == dt.date(2026, 1, 14)


def test_coverage_refusals_name_the_clash_and_change_nothing(personas: Personas, newcomer: Any) -> None:
    client = bearer_client(personas.admin)
    client.post(
        f"/api/v1/territories/{personas.own_territory.pk}/assignments",
        {"user_id": newcomer.pk, "valid_from": "2026-01-15"},
        content_type="application/json",
    )
    owner_row = TerritoryAssignment.objects.get(user=personas.owner, territory=personas.own_territory)
    unchanged = CoverageUnchanged()
    overlap = client.patch(
        f"/api/v1/assignments/{owner_row.pk}",
        {"valid_from": "2020-01-01", "valid_to": "2026-02-01"},
        content_type="application/json",
    )
    assert_error(overlap, 409, "conflict", "与 钱代表 的分配（2026-01-15–…）重叠。")
    backwards = client.patch(
        f"/api/v1/assignments/{owner_row.pk}",
        {"valid_from": "2026-01-10", "valid_to": "2026-01-09"},
        content_type="application/json",
    )
    assert_error(backwards, 400, "invalid", "结束日期不能早于开始日期。")
    earlier = client.post(
        f"/api/v1/territories/{personas.own_territory.pk}/assignments",
        {"user_id": personas.colleague.pk, "valid_from": "2026-01-01"},
        content_type="application/json",
    )
    assert_error(earlier, 409, "conflict", "本辖区 从 2026-01-15 起已有主负责人 钱代表。")
    unknown_kind = client.post(
        f"/api/v1/territories/{personas.own_territory.pk}/assignments",
        {"user_id": personas.colleague.pk, "valid_from": "2026-03-01", "kind": "boss"},
        content_type="application/json",
    )
    assert_error(unknown_kind, 422, "validation_error")
    unchanged.check()


@pytest.mark.parametrize("persona", ["owner", "colleague", "outsider", "district_manager", "director"])
def test_only_admins_change_coverage_through_the_api(personas: Personas, newcomer: Any, persona: str) -> None:
    client = bearer_client(personas[persona])
    owner_row = TerritoryAssignment.objects.get(user=personas.owner, territory=personas.own_territory)
    unchanged = CoverageUnchanged()
    assign = client.post(
        f"/api/v1/territories/{personas.own_territory.pk}/assignments",
        {"user_id": newcomer.pk, "valid_from": "2026-01-15"},
        content_type="application/json",
    )
    correct = client.patch(
        f"/api/v1/assignments/{owner_row.pk}", {"valid_from": "2021-01-01"}, content_type="application/json"
    )
    assert_error(assign, 403, "forbidden", "只有系统管理员可以执行此操作。")
    assert_error(correct, 403, "forbidden", "只有系统管理员可以执行此操作。")
    unchanged.check()
