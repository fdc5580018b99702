"""Territory rules on the territory page: who sees them, admins add and remove, refusals change nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pharmacrm.core.models import TerritoryRule
from pharmacrm.core.testing import BLIND, SEES, Personas, signed_in
from pharmacrm.customers import territory_history
from pharmacrm.customers.models import Institution
from pharmacrm.customers.tests.factories import InstitutionFactory
from pharmacrm.customers.tests.test_territory_history import Unchanged as PeriodsUnchanged
from pharmacrm.customers.tests.test_territory_history import timeline

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
YESTERDAY = TODAY - dt.timedelta(days=1)


class Unchanged:
    """Rules, institution territory periods and their history rows as they were."""

    def __init__(self) -> None:
        self.periods = PeriodsUnchanged()
        self.before = self.snapshot()

    @staticmethod
    def snapshot() -> tuple[Any, ...]:
        return (
            sorted(TerritoryRule.objects.values_list("pk", "territory_id", "province_id", "city_id")),
            TerritoryRule.history.count(),  # type: ignore[attr-defined]
        )

    def check(self) -> None:
        assert self.snapshot() == self.before
        self.periods.check()


@pytest.fixture
def clinic() -> Institution:
    """In Beijing (11 / 1101), with no territory of its own: a rule places it."""
    return InstitutionFactory(name="社区诊所", kind="clinic", grade="none")


def page(personas: Personas) -> str:
    return reverse("web:territory_detail", args=[personas.own_territory.pk])


def add(client: Client, personas: Personas, **fields: str) -> Any:
    data = {f"rule-{k}": v for k, v in fields.items()}
    return client.post(reverse("web:territory_rule_add", args=[personas.own_territory.pk]), data, follow=True)


def remove(client: Client, rule: TerritoryRule, **fields: str) -> Any:
    data = {f"r{rule.pk}-{k}": v for k, v in fields.items()}
    return client.post(reverse("web:territory_rule_remove", args=[rule.pk]), data, follow=True)


def beijing_rule(personas: Personas) -> TerritoryRule:
    return territory_history.set_territory_rule(
        actor=personas.admin, territory=personas.own_territory, province="11", city="1101"
    ).rule


@pytest.mark.parametrize("persona", [*SEES, *BLIND, "admin"])
def test_who_sees_the_territory_sees_its_rules_and_only_admins_get_the_forms(
    personas: Personas, persona: str
) -> None:
    beijing_rule(personas)
    response = signed_in(personas[persona]).get(page(personas))
    if persona in BLIND:
        assert response.status_code == 404
        return
    assert response.status_code == 200
    assert [(r.province.name, r.city.name) for r, _form in response.context["rule_rows"]] == [
        ("北京市", "北京市")
    ]
    html = response.content.decode()
    assert 'data-testid="territory-rules"' in html
    assert ("添加辖区规则" in html) is (persona == "admin")
    assert ("删除规则" in html) is (persona == "admin")


def test_an_admin_gives_a_city_to_the_territory_and_its_institutions_move(
    personas: Personas, clinic: Institution, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = add(signed_in(personas.admin), personas, province="11", city="1101")
    assert response.redirect_chain[-1][0] == page(personas)
    assert [str(m) for m in response.context["messages"]] == [
        "北京市 · 北京市 已归 本辖区。",
        "受影响日期以来的销售已排队在后台重新归属到负责人。",
    ]
    assert callbacks  # re-attribution of the moved institution's sales, after commit
    rule = TerritoryRule.objects.get()
    assert (rule.territory_id, rule.province_id, rule.city_id) == (personas.own_territory.pk, "11", "1101")
    assert timeline(clinic) == [("OWN", None, None)]
    assert rule.history.latest().history_user == personas.admin  # type: ignore[attr-defined]


def test_a_rule_for_an_area_another_territory_holds_changes_hands_and_says_so(
    personas: Personas, clinic: Institution
) -> None:
    territory_history.set_territory_rule(
        actor=personas.admin, territory=personas.colleague_territory, province="11", city="1101"
    )
    assert timeline(clinic) == [("COL", None, None)]
    day = TODAY - dt.timedelta(days=10)
    response = add(
        signed_in(personas.admin),
        personas,
        province="11",
        city="1101",
        effective=day.isoformat(),
        reason="区域调整",
    )
    assert [str(m) for m in response.context["messages"]] == [
        "北京市 · 北京市 已从 同事辖区 改归 本辖区。",
        "受影响日期以来的销售已排队在后台重新归属到负责人。",
    ]
    assert TerritoryRule.objects.get().territory_id == personas.own_territory.pk
    assert timeline(clinic) == [("COL", None, day - dt.timedelta(days=1)), ("OWN", day, None)]


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"province": "11", "city": "3101"}, {"city": ["城市“3101”不属于“北京市”。"]}),
        ({"province": "99"}, {"province": ["选择一个有效的选项： 该选择不在可用的选项中。"]}),
        ({"province": "11", "effective": "+1"}, None),
        (
            {"province": "11", "effective": "-3"},
            {"reason": ["生效日期早于今天（追溯调整）时须填写原因。"]},
        ),
        (
            {"province": "11", "reason": "长" * 201},
            {"reason": ["确保该变量包含不超过 200 字符 (目前字符数 201)。"]},
        ),
    ],
)
def test_bad_rules_are_refused_on_the_form_and_change_nothing(
    personas: Personas, clinic: Institution, fields: dict[str, str], errors: Any
) -> None:
    if fields.get("effective") in ("+1", "-3"):
        fields = {**fields, "effective": (TODAY + dt.timedelta(days=int(fields["effective"]))).isoformat()}
    unchanged = Unchanged()
    response = add(signed_in(personas.admin), personas, **fields)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors
    if errors is not None:
        assert {k: v for k, v in form.errors.items() if k != "__all__"} == errors
    else:
        assert "effective" in form.errors
    unchanged.check()


def test_an_admin_removes_a_rule_and_the_area_no_longer_belongs_to_the_territory(
    personas: Personas, clinic: Institution
) -> None:
    rule = beijing_rule(personas)
    response = remove(signed_in(personas.admin), rule)
    assert response.redirect_chain[-1][0] == page(personas)
    assert [str(m) for m in response.context["messages"]] == [
        "已删除辖区规则：北京市 · 北京市 不再归 本辖区。",
        "受影响日期以来的销售已排队在后台重新归属到负责人。",
    ]
    assert not TerritoryRule.objects.exists()
    assert timeline(clinic) == [("OWN", None, YESTERDAY)]


def test_a_backdated_removal_needs_a_reason_and_changes_nothing_without_one(
    personas: Personas, clinic: Institution
) -> None:
    rule = beijing_rule(personas)
    unchanged = Unchanged()
    response = remove(signed_in(personas.admin), rule, effective=(TODAY - dt.timedelta(days=3)).isoformat())
    assert response.context["form"].errors["reason"] == ["生效日期早于今天（追溯调整）时须填写原因。"]
    unchanged.check()


@pytest.mark.parametrize("persona", ["owner", "colleague", "outsider", "district_manager", "director"])
def test_only_admins_change_rules(personas: Personas, clinic: Institution, persona: str) -> None:
    rule = beijing_rule(personas)
    client = signed_in(personas[persona])
    unchanged = Unchanged()
    added = client.post(
        reverse("web:territory_rule_add", args=[personas.own_territory.pk]), {"rule-province": "12"}
    )
    removed = client.post(reverse("web:territory_rule_remove", args=[rule.pk]), {})
    assert (added.status_code, removed.status_code) == (403, 403)
    assert client.get(reverse("web:territory_rule_add", args=[personas.own_territory.pk])).status_code == 403
    unchanged.check()


def test_removing_an_unknown_rule_is_a_404(personas: Personas) -> None:
    response = signed_in(personas.admin).post(reverse("web:territory_rule_remove", args=[999999]), {})
    assert response.status_code == 404


@pytest.mark.usefixtures("restore_language")
def test_the_rule_forms_speak_english(personas: Personas) -> None:
    beijing_rule(personas)
    personas.admin.language = "en"
    personas.admin.save()
    html = signed_in(personas.admin).get(page(personas)).content.decode()
    for text in ("Territory rules", "Add a territory rule", "Remove rule", "Blank: the whole province."):
        assert text in html, text
