"""Coverage on the territory page: who sees the history, admins assign and correct, refusals change nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from pharmacrm.core.models import Division, Role, TerritoryAssignment, TerritoryRule
from pharmacrm.core.testing import BLIND, SEES, Personas, signed_in
from pharmacrm.core.tests.factories import AssignmentFactory, UserFactory
from pharmacrm.core.tests.query_counts import assert_flat_query_count

pytestmark = pytest.mark.django_db


TAKEOVER = dt.date(2026, 1, 15)


class Unchanged:
    """Coverage rows and their history rows as they were."""

    def __init__(self) -> None:
        self.before = self.snapshot()

    @staticmethod
    def snapshot() -> tuple[Any, ...]:
        return (
            sorted(
                TerritoryAssignment.objects.values_list("pk", "user_id", "kind", "valid_from", "valid_to")
            ),
            TerritoryAssignment.history.count(),  # type: ignore[attr-defined]
        )

    def check(self) -> None:
        assert self.snapshot() == self.before


@pytest.fixture
def newcomer(personas: Personas) -> Any:
    """Takes OWN over from the owner on 15 January 2026 (the owner's period ends on the 14th)."""
    user = UserFactory(
        username="newcomer", display_name="钱代表", org_unit=personas.team_n1a, roles=[Role.REP]
    )
    owner_row = TerritoryAssignment.objects.get(user=personas.owner, territory=personas.own_territory)
    owner_row.valid_to = TAKEOVER - dt.timedelta(days=1)
    owner_row.save()
    AssignmentFactory(territory=personas.own_territory, user=user, valid_from=TAKEOVER)
    return user


def page(personas: Personas) -> str:
    return reverse("web:territory_detail", args=[personas.own_territory.pk])


@pytest.mark.parametrize("persona", [*SEES, *BLIND, "admin"])
def test_who_sees_the_territory_sees_its_coverage_history_and_only_admins_get_the_forms(
    personas: Personas, persona: str
) -> None:
    helper = UserFactory(
        username="helper", display_name="钱代表", org_unit=personas.team_n1a, roles=[Role.REP]
    )
    AssignmentFactory(
        territory=personas.own_territory,
        user=helper,
        kind=TerritoryAssignment.Kind.SHARED,
        valid_from=TAKEOVER,
    )
    response = signed_in(personas[persona]).get(page(personas))
    if persona in BLIND:
        assert response.status_code == 404
        return
    assert response.status_code == 200
    rows = [
        (a.user.username, a.kind, a.valid_from, a.valid_to)
        for a, _form in response.context["assignment_rows"]
    ]
    assert rows == [("helper", "shared", TAKEOVER, None), ("owner", "primary", dt.date(2020, 1, 1), None)]
    html = response.content.decode()
    assert ("指定负责人" in html) is (persona == "admin")
    assert ("更正日期" in html) is (persona == "admin")


def test_a_rep_who_no_longer_covers_the_territory_no_longer_sees_it(
    personas: Personas, newcomer: Any
) -> None:
    assert signed_in(personas.owner).get(page(personas)).status_code == 404
    response = signed_in(newcomer).get(page(personas))
    assert [a.user.username for a, _form in response.context["assignment_rows"]] == ["newcomer", "owner"]


@pytest.mark.parametrize(("persona", "pinned"), [("district_manager", 7), ("admin", 10)])
def test_the_territory_page_query_count_does_not_grow_with_coverage_history_or_rules(
    personas: Personas, django_assert_max_num_queries: Any, persona: str, pinned: int
) -> None:
    client = signed_in(personas[persona])

    provinces = iter(Division.objects.filter(level=Division.Level.PROVINCE).order_by("code"))

    def add_rows(n: int) -> None:
        for _ in range(n):
            AssignmentFactory(
                territory=personas.own_territory,
                user=UserFactory(roles=[Role.REP]),
                kind=TerritoryAssignment.Kind.SHARED,
            )
            TerritoryRule.objects.create(territory=personas.own_territory, province=next(provinces))

    # 1 session, 2 user, 3 user's roles, then for the manager 4 user's org unit (the scope's
    # subtree; the header menu reuses it), 5 the territory, 6 its coverage periods with their
    # holders, 7 its rules with their areas; for the admin 4 the territory, 5 its coverage periods
    # with their holders, 6 its rules with their areas, 7 user's org unit (header menu), 8 the people
    # who may hold a territory (the assign form's choices; the per-period correct forms and the
    # per-rule remove forms need no query), 9 provinces and 10 cities (the rule form's choices).
    _small, large = assert_flat_query_count(
        django_assert_max_num_queries,
        fetch=lambda: client.get(page(personas)),
        add_rows=add_rows,
        pinned=pinned,
    )
    assert len(large.context["assignment_rows"]) == 31
    assert len(large.context["rule_rows"]) == 30


# --- Assigning -----------------------------------------------------------------------------------------


def test_an_admin_assigns_a_new_primary_holder_and_reattribution_is_queued(
    personas: Personas, django_capture_on_commit_callbacks: Any
) -> None:
    newcomer = UserFactory(username="newcomer", display_name="钱代表", roles=[Role.REP])
    client = signed_in(personas.admin)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            reverse("web:territory_assign", args=[personas.own_territory.pk]),
            {"assign-user": newcomer.pk, "assign-kind": "primary", "assign-valid_from": "2026-03-01"},
            follow=True,
        )
    assert response.redirect_chain[-1][0] == page(personas)
    assert len(callbacks) == 1  # the flow listener queues reattribute_flow after commit
    rows = TerritoryAssignment.objects.filter(territory=personas.own_territory).order_by("valid_from")
    assert [(r.user.username, r.valid_from, r.valid_to) for r in rows] == [
        ("owner", dt.date(2020, 1, 1), dt.date(2026, 2, 28)),
        ("newcomer", dt.date(2026, 3, 1), None),
    ]
    assert [str(m) for m in response.context["messages"]] == [
        "已指定 钱代表 为 本辖区 的主负责，自 2026-03-01 起。",
        "受影响日期以来的销售已排队在后台重新归属到负责人。",
    ]


def test_assigning_before_a_later_primary_holder_is_refused_naming_them(
    personas: Personas, newcomer: Any
) -> None:
    other = UserFactory(username="other", roles=[Role.REP])
    unchanged = Unchanged()
    response = signed_in(personas.admin).post(
        reverse("web:territory_assign", args=[personas.own_territory.pk]),
        {"assign-user": other.pk, "assign-kind": "primary", "assign-valid_from": "2026-01-01"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "valid_from": ["与现有分配重叠。"],
        "__all__": ["本辖区 从 2026-01-15 起已有主负责人 钱代表。"],
    }
    unchanged.check()


def test_an_htmx_refusal_returns_the_form_in_place_and_a_success_redirects(
    personas: Personas, newcomer: Any
) -> None:
    client = signed_in(personas.admin)
    url = reverse("web:territory_assign", args=[personas.own_territory.pk])
    other = UserFactory(username="other", roles=[Role.REP])
    refused = client.post(
        url,
        {"assign-user": other.pk, "assign-kind": "primary", "assign-valid_from": "2026-01-01"},
        headers={"HX-Request": "true"},
    )
    html = refused.content.decode()
    assert "<html" not in html and 'data-testid="service-form"' in html
    assert "本辖区 从 2026-01-15 起已有主负责人 钱代表。" in html
    done = client.post(
        url,
        {"assign-user": other.pk, "assign-kind": "shared", "assign-valid_from": "2026-03-01"},
        headers={"HX-Request": "true"},
    )
    assert done["HX-Redirect"] == page(personas)


# --- Correcting ----------------------------------------------------------------------------------------


def correct(client: Client, assignment: TerritoryAssignment, start: str, end: str = "") -> Any:
    prefix = f"a{assignment.pk}"
    return client.post(
        reverse("web:assignment_correct", args=[assignment.pk]),
        {f"{prefix}-valid_from": start, f"{prefix}-valid_to": end},
        follow=True,
    )


def test_an_admin_corrects_a_takeover_date(
    personas: Personas, newcomer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = signed_in(personas.admin)
    owner_row = TerritoryAssignment.objects.get(user=personas.owner, territory=personas.own_territory)
    newcomer_row = TerritoryAssignment.objects.get(user=newcomer)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = correct(client, newcomer_row, "2026-01-20")
        second = correct(client, owner_row, "2020-01-01", "2026-01-19")
    assert len(callbacks) == 2
    owner_row.refresh_from_db()
    newcomer_row.refresh_from_db()
    assert (owner_row.valid_to, newcomer_row.valid_from) == (dt.date(2026, 1, 19), dt.date(2026, 1, 20))
    assert [str(m) for m in first.context["messages"]] == [
        "已更正 钱代表 负责 本辖区 的日期：2026-01-20 至 至今。",
        "受影响日期以来的销售已排队在后台重新归属到负责人。",
    ]
    assert [str(m) for m in second.context["messages"]] == [
        "已更正 王代表 负责 本辖区 的日期：2020-01-01 至 2026-01-19。",
        "受影响日期以来的销售已排队在后台重新归属到负责人。",
    ]


def test_an_overlapping_correction_names_the_clashing_holder_and_changes_nothing(
    personas: Personas, newcomer: Any
) -> None:
    newcomer_row = TerritoryAssignment.objects.get(user=newcomer)
    unchanged = Unchanged()
    response = correct(signed_in(personas.admin), newcomer_row, "2026-01-01")
    assert response.context["form"].errors == {
        "valid_from": ["与现有分配重叠。"],
        "__all__": ["与 王代表 的分配（2020-01-01–2026-01-14）重叠。"],
    }
    unchanged.check()


def test_an_end_before_the_start_is_refused_and_changes_nothing(personas: Personas, newcomer: Any) -> None:
    newcomer_row = TerritoryAssignment.objects.get(user=newcomer)
    unchanged = Unchanged()
    response = correct(signed_in(personas.admin), newcomer_row, "2026-02-01", "2026-01-31")
    assert response.context["form"].errors == {
        "valid_to": ["早于开始日期。"],
        "__all__": ["结束日期不能早于开始日期。"],
    }
    unchanged.check()


@pytest.mark.parametrize("persona", ["owner", "colleague", "outsider", "district_manager", "director"])
def test_only_admins_change_coverage(personas: Personas, newcomer: Any, persona: str) -> None:
    client = signed_in(personas[persona])
    newcomer_row = TerritoryAssignment.objects.get(user=newcomer)
    unchanged = Unchanged()
    assign = client.post(
        reverse("web:territory_assign", args=[personas.own_territory.pk]),
        {"assign-user": personas.colleague.pk, "assign-kind": "shared", "assign-valid_from": "2026-03-01"},
    )
    corrected = client.post(
        reverse("web:assignment_correct", args=[newcomer_row.pk]),
        {f"a{newcomer_row.pk}-valid_from": "2026-01-20"},
    )
    assert (assign.status_code, corrected.status_code) == (403, 403)
    assert client.get(reverse("web:assignment_correct", args=[newcomer_row.pk])).status_code == 403
    unchanged.check()


@pytest.mark.usefixtures("restore_language")
def test_the_coverage_forms_speak_english(personas: Personas, newcomer: Any) -> None:
    personas.admin.language = "en"
    personas.admin.save()
    client = signed_in(personas.admin)
    html = client.get(page(personas)).content.decode()
    for text in (
        "Assign a holder",
        "Correct dates",
        "the previous primary holder's period ends the day before",
    ):
        assert text in html, text
    newcomer_row = TerritoryAssignment.objects.get(user=newcomer)
    response = correct(client, newcomer_row, "2026-01-01")
    assert "Overlaps the assignment of 王代表 (2020-01-01–2026-01-14)." in response.content.decode()
