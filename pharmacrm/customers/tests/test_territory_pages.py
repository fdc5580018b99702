"""The territory history on the institution page, and the page that records a move."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from pharmacrm.core.models import Role
from pharmacrm.core.testing import BLIND, SEES, Personas, signed_in
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.core.tests.query_counts import assert_flat_query_count
from pharmacrm.customers.models import Institution, InstitutionTerritoryPeriod
from pharmacrm.customers.tests.factories import InstitutionFactory
from pharmacrm.customers.tests.test_territory_history import Unchanged, timeline

pytestmark = pytest.mark.django_db


TODAY = timezone.localdate()


@pytest.fixture
def hospital(personas: Personas) -> Institution:
    return InstitutionFactory(name="北京协和医院", territory=personas.own_territory)


@pytest.fixture
def moved(personas: Personas, hospital: Institution) -> Institution:
    """Moved from the colleague's territory to the owner's on 1 March 2025, with a reason."""
    InstitutionTerritoryPeriod.objects.filter(institution=hospital).update(
        territory=personas.colleague_territory, valid_to=dt.date(2025, 2, 28)
    )
    InstitutionTerritoryPeriod.objects.create(
        institution=hospital,
        territory=personas.own_territory,
        valid_from=dt.date(2025, 3, 1),
        recorded_by=personas.admin,
        reason="区域调整",
    )
    return hospital


@pytest.mark.parametrize("persona", [*SEES, *BLIND])
def test_who_may_see_the_institution_sees_its_territory_history(
    personas: Personas, moved: Institution, persona: str
) -> None:
    response = signed_in(personas[persona]).get(reverse("customers:institution_detail", args=[moved.pk]))
    if persona in BLIND:
        assert response.status_code == 404
        return
    assert response.status_code == 200
    rows = [(p.territory.code, p.valid_from, p.valid_to) for p in response.context["territory_periods"]]
    assert rows == [("OWN", dt.date(2025, 3, 1), None), ("COL", None, dt.date(2025, 2, 28))]
    html = response.content.decode()
    for text in ("辖区归属历史", "2025-03-01", "2025-02-28", "最初", "至今", "管理员", "区域调整"):
        assert text in html, text


def test_the_institution_page_query_count_does_not_grow_with_the_history(
    personas: Personas, hospital: Institution, django_assert_max_num_queries: Any
) -> None:
    owner = signed_in(personas.owner)
    url = reverse("customers:institution_detail", args=[hospital.pk])
    state = {"rows": 1}

    def add_rows(n: int) -> None:
        # The history rebuilt with `rows` periods: one-day periods alternating between two other
        # territories, then the owner's since the day after (still visible to the owner).
        state["rows"] += n
        InstitutionTerritoryPeriod.objects.filter(institution=hospital).delete()
        first = dt.date(2000, 1, 1)
        for i in range(state["rows"] - 1):
            day = first + dt.timedelta(days=i)
            territory = personas.colleague_territory if i % 2 else personas.outside_territory
            InstitutionTerritoryPeriod.objects.create(
                institution=hospital, territory=territory, valid_from=day, valid_to=day, reason=f"第{i}次"
            )
        InstitutionTerritoryPeriod.objects.create(
            institution=hospital,
            territory=personas.own_territory,
            valid_from=first + dt.timedelta(days=state["rows"] - 1),
            recorded_by=personas.admin,
        )

    # 1 session, 2 user, 3 user's roles, 4 user's current territories (the scope), 5 the institution,
    # 6 departments, 7 professionals, 8 plans, 9 count of professionals, 10 listings, 11 visits,
    # 12 commitments, 13 callbacks (the other apps' panels), 14 the territory periods with their
    # territory and recorder (one joined query, at most 50 rows), 15 user's org unit (header menu).
    _small, large = assert_flat_query_count(
        django_assert_max_num_queries, fetch=lambda: owner.get(url), add_rows=add_rows, pinned=15
    )
    assert len(large.context["territory_periods"]) == 31  # 1 + 30 more


def test_the_move_page_records_a_move_for_a_manager(personas: Personas, hospital: Institution) -> None:
    client = signed_in(personas.district_manager)
    url = reverse("customers:institution_move", args=[hospital.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "effective" not in page.context["form"].fields  # only an admin may backdate

    response = client.post(
        url, {"territory": personas.colleague_territory.pk, "reason": "新医院分配"}, follow=True
    )

    assert response.redirect_chain[-1][0] == hospital.get_absolute_url()
    assert timeline(hospital) == [("OWN", None, TODAY - dt.timedelta(days=1)), ("COL", TODAY, None)]
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        f"已记录辖区调整：北京协和医院 自 {TODAY.isoformat()} 起归属 同事辖区。该日起的销售已排队在后台重新归属。"
    ]


def test_an_admin_backdates_on_the_move_page(personas: Personas, hospital: Institution) -> None:
    client = signed_in(personas.admin)
    url = reverse("customers:institution_move", args=[hospital.pk])
    day = TODAY - dt.timedelta(days=20)
    unchanged = Unchanged()

    refused = client.post(url, {"territory": personas.colleague_territory.pk, "effective": day.isoformat()})

    assert refused.status_code == 200
    assert refused.context["form"].errors == {"reason": ["生效日期早于今天（追溯调整）时须填写原因。"]}
    unchanged.check()
    client.post(
        url, {"territory": personas.colleague_territory.pk, "effective": day.isoformat(), "reason": "补录"}
    )
    assert timeline(hospital) == [("OWN", None, day - dt.timedelta(days=1)), ("COL", day, None)]


def test_a_rep_cannot_move_an_institution_to_a_territory_they_do_not_cover(
    personas: Personas, hospital: Institution
) -> None:
    client = signed_in(personas.owner)
    unchanged = Unchanged()

    response = client.post(
        reverse("customers:institution_move", args=[hospital.pk]),
        {"territory": personas.outside_territory.pk},
    )

    assert response.status_code == 200
    assert "territory" in response.context["form"].errors  # not among the choices
    unchanged.check()


@pytest.mark.parametrize(("persona", "status"), [("outsider", 404), ("colleague", 404), ("reader", 403)])
def test_who_may_not_move_it_gets_a_404_or_a_403_and_nothing_changes(
    personas: Personas, hospital: Institution, persona: str, status: int
) -> None:
    user = UserFactory(username="svc", roles=[Role.SERVICE]) if persona == "reader" else personas[persona]
    client = signed_in(user)
    unchanged = Unchanged()
    url = reverse("customers:institution_move", args=[hospital.pk])

    assert client.get(url).status_code == status
    assert client.post(url, {"territory": personas.colleague_territory.pk}).status_code == status
    unchanged.check()


@pytest.mark.usefixtures("restore_language")
def test_the_history_and_the_move_page_speak_english(personas: Personas, moved: Institution) -> None:
    personas.admin.language = "en"
    personas.admin.save()
    client = signed_in(personas.admin)
    html = client.get(reverse("customers:institution_detail", args=[moved.pk])).content.decode()
    for text in ("Territory history", "Recorded by / reason", "the beginning", "Move to another territory"):
        assert text in html, text
    form = client.get(reverse("customers:institution_move", args=[moved.pk])).content.decode()
    assert "Move to another territory: 北京协和医院" in form
    assert "A date before today backdates the move" in form
    refused = client.post(
        reverse("customers:institution_move", args=[moved.pk]),
        {"territory": personas.colleague_territory.pk, "effective": "2025-01-01"},
    )
    assert "A reason is required when the effective date is before today (a backdated move)." in (
        refused.content.decode()
    )
