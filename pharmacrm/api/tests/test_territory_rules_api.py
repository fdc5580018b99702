"""Territory rules through the API: who sees them, admins set and remove, refusals in the one error shape."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from pharmacrm.api.tests.support import assert_error, bearer_client
from pharmacrm.core.models import Division, TerritoryRule
from pharmacrm.core.testing import BLIND, SEES, Personas
from pharmacrm.core.tests.query_counts import assert_flat_query_count
from pharmacrm.customers import territory_history
from pharmacrm.customers.models import Institution
from pharmacrm.customers.tests.factories import InstitutionFactory
from pharmacrm.customers.tests.test_territory_history import timeline
from pharmacrm.web.tests.test_territory_rule_pages import Unchanged

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture
def clinic() -> Institution:
    return InstitutionFactory(name="社区诊所", kind="clinic", grade="none")


def rules_url(personas: Personas) -> str:
    return f"/api/v1/territories/{personas.own_territory.pk}/rules"


def beijing_rule(personas: Personas) -> TerritoryRule:
    return territory_history.set_territory_rule(
        actor=personas.admin, territory=personas.own_territory, province="11", city="1101"
    ).rule


@pytest.mark.parametrize("persona", [*SEES, *BLIND])
def test_who_may_see_the_territory_may_list_its_rules(personas: Personas, persona: str) -> None:
    rule = beijing_rule(personas)
    response = bearer_client(personas[persona]).get(rules_url(personas))
    if persona in BLIND:
        assert_error(response, 404, "not_found")
        return
    assert response.status_code == 200
    assert response.json() == [
        {
            "id": rule.pk,
            "territory_id": personas.own_territory.pk,
            "province_code": "11",
            "province_name": "北京市",
            "city_code": "1101",
            "city_name": "北京市",
        }
    ]


def test_an_admin_sets_a_rule_and_removes_it_and_the_area_moves_each_time(
    personas: Personas, clinic: Institution, django_capture_on_commit_callbacks: Any
) -> None:
    client = bearer_client(personas.admin)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = client.post(
            rules_url(personas), {"province": "11", "city": "1101"}, content_type="application/json"
        )
    assert created.status_code == 201, created.content
    assert created.json()["city_name"] == "北京市"
    assert callbacks
    assert timeline(clinic) == [("OWN", None, None)]
    day = TODAY - dt.timedelta(days=5)
    removed = client.delete(
        f"/api/v1/territory-rules/{created.json()['id']}?effective={day.isoformat()}&reason=撤销"
    )
    assert removed.status_code == 204, removed.content
    assert not TerritoryRule.objects.exists()
    assert timeline(clinic) == [("OWN", None, day - dt.timedelta(days=1))]


@pytest.mark.parametrize(
    ("persona", "body", "status", "code", "message"),
    [
        ("director", {"province": "11"}, 403, "forbidden", "只有系统管理员可以执行此操作。"),
        ("owner", {"province": "11"}, 403, "forbidden", None),
        ("admin", {"province": "99"}, 400, "invalid", "未知省份代码：“99”。"),
        ("admin", {"province": "11", "city": "3101"}, 400, "invalid", "城市“3101”不属于“北京市”。"),
        ("admin", {"province": "11", "effective": "-3"}, 400, "invalid", None),
        ("admin", {"province": "11", "effective": "+1"}, 400, "invalid", None),
        ("admin", {"city": "1101"}, 422, "validation_error", None),
        ("admin", {"province": "11", "area": "x"}, 422, "validation_error", None),
    ],
)
def test_bad_rules_are_refused_in_the_one_error_shape_and_change_nothing(
    personas: Personas,
    clinic: Institution,
    persona: str,
    body: dict[str, Any],
    status: int,
    code: str,
    message: Any,
) -> None:
    payload = dict(body)
    if payload.get("effective") in ("-3", "+1"):
        payload["effective"] = (TODAY + dt.timedelta(days=int(payload["effective"]))).isoformat()
    unchanged = Unchanged()
    response = bearer_client(personas[persona]).post(
        rules_url(personas), payload, content_type="application/json"
    )
    error = assert_error(response, status, code, message)
    if code == "invalid":
        assert error["fields"]  # names the field
    unchanged.check()


@pytest.mark.parametrize("persona", ["owner", "district_manager", "director"])
def test_only_admins_remove_rules(personas: Personas, clinic: Institution, persona: str) -> None:
    rule = beijing_rule(personas)
    unchanged = Unchanged()
    response = bearer_client(personas[persona]).delete(f"/api/v1/territory-rules/{rule.pk}")
    assert_error(response, 403, "forbidden")
    unchanged.check()


def test_removing_an_unknown_rule_is_a_404(personas: Personas) -> None:
    assert_error(bearer_client(personas.admin).delete("/api/v1/territory-rules/999999"), 404, "not_found")


def test_the_rules_list_query_count_does_not_grow(
    personas: Personas, django_assert_max_num_queries: Any
) -> None:
    client = bearer_client(personas.owner)
    provinces = iter(Division.objects.filter(level=Division.Level.PROVINCE).order_by("code"))

    def add_rows(n: int) -> None:
        for _ in range(n):
            TerritoryRule.objects.create(territory=personas.own_territory, province=next(provinces))

    # 1 the token with its user, 2 the user's roles, 3 the user's current territories (the scope),
    # 4 the territory (404 when hidden), 5 its rules with their areas.
    _small, large = assert_flat_query_count(
        django_assert_max_num_queries,
        fetch=lambda: client.get(rules_url(personas)),
        add_rows=add_rows,
        pinned=5,
    )
    assert len(large.json()) == 30
