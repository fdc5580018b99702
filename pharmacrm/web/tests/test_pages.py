"""Territory and people pages: list query counts, HTMX fragments, filter choices, history tab, 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from pharmacrm.core.models import Role
from pharmacrm.core.testing import Personas
from pharmacrm.core.tests.factories import AssignmentFactory, TerritoryFactory, UserFactory
from pharmacrm.core.tests.query_counts import assert_flat_query_count

pytestmark = pytest.mark.django_db


def signed_in(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


class TestTerritoryList:
    url = reverse("web:territory_list")

    def test_query_count_does_not_grow_with_rows(
        self, client: Client, personas: Personas, django_assert_max_num_queries: Any
    ) -> None:
        owner = signed_in(client, personas.owner)

        def add_rows(n: int) -> None:
            for _ in range(n):
                territory = TerritoryFactory(org_unit=personas.team_n1a)
                AssignmentFactory(territory=territory, user=personas.owner)

        # 1 session, 2 user, 3 user's roles, 4 user's current territories (the scope),
        # 5 count of visible territories, 6 user's org unit (header menu),
        # 7 the page of territories with team and current-holder count.
        # (The team filter's choices are empty for a rep: no query.)
        _small, large = assert_flat_query_count(
            django_assert_max_num_queries, fetch=lambda: owner.get(self.url), add_rows=add_rows, pinned=7
        )

        html = large.content.decode()
        assert "共 31 条" in html  # the persona's own territory and 30 more
        assert personas.outside_territory.name not in html
        assert personas.colleague_territory.name not in html

    def test_query_count_for_a_manager(
        self, client: Client, personas: Personas, django_assert_max_num_queries: Any
    ) -> None:
        manager = signed_in(client, personas.regional_manager)

        # 1 session, 2 user, 3 user's roles, 4 user's org unit (the scope's subtree; the header
        # menu reuses it), 5 count of visible territories, 6 teams in the subtree (filter choices),
        # 7 the page of territories with team and current-holder count.
        assert_flat_query_count(
            django_assert_max_num_queries,
            fetch=lambda: manager.get(self.url),
            add_rows=lambda n: TerritoryFactory.create_batch(n, org_unit=personas.team_n1a),
            pinned=7,
        )

    def test_the_team_filter_offers_only_visible_teams(self, client: Client, personas: Personas) -> None:
        manager = signed_in(client, personas.regional_manager)

        choices = list(manager.get(self.url).context["filter"].form.fields["org_unit"].queryset)

        assert choices == [personas.team_n1a]

    def test_an_htmx_request_gets_only_the_results_fragment(self, client: Client, personas: Personas) -> None:
        manager = signed_in(client, personas.regional_manager)

        response = manager.get(self.url, {"q": "同事"}, headers={"HX-Request": "true"})

        html = response.content.decode()
        assert "<html" not in html
        assert 'id="list-results"' in html
        assert "共 1 条" in html
        assert personas.colleague_territory.name in html
        assert personas.own_territory.name not in html


class TestPeopleList:
    url = reverse("web:user_list")

    def test_query_count_does_not_grow_with_rows(
        self, client: Client, personas: Personas, django_assert_max_num_queries: Any
    ) -> None:
        manager = signed_in(client, personas.regional_manager)

        def add_rows(n: int) -> None:
            for _ in range(n):
                UserFactory(org_unit=personas.team_n1a, roles=[Role.REP, Role.COMMERCIAL])

        # 1 session, 2 user, 3 user's roles, 4 user's org unit (the scope's subtree),
        # 5 count of visible people, 6 the page of people with their org unit,
        # 7 their roles (one prefetch for the page).
        _small, large = assert_flat_query_count(
            django_assert_max_num_queries, fetch=lambda: manager.get(self.url), add_rows=add_rows, pinned=7
        )

        html = large.content.decode()
        assert "商务/KA经理 · 医药代表" in html
        assert personas.outsider.username not in html

    def test_an_htmx_request_gets_only_the_results_fragment(self, client: Client, personas: Personas) -> None:
        manager = signed_in(client, personas.regional_manager)

        response = manager.get(self.url, {"role": Role.DISTRICT_MANAGER}, headers={"HX-Request": "true"})

        html = response.content.decode()
        assert "<html" not in html
        assert "共 1 条" in html
        assert "孙经理" in html


class TestUserHistory:
    def test_the_history_tab_shows_who_what_and_before_after(
        self, client: Client, personas: Personas
    ) -> None:
        owner = signed_in(client, personas.owner)
        owner.post(reverse("web:language"), {"language": "en"})
        admin = signed_in(Client(), personas.admin)

        response = admin.get(reverse("web:user_history", args=[personas.owner.pk]))

        assert response.status_code == 200
        latest = response.context["history"][0]
        assert latest.record.history_user == personas.owner
        assert latest.record.history_source == "ui"
        assert [(c.field, c.old, c.new) for c in latest.changes] == [("language", "zh-hans", "en")]
        html = response.content.decode()
        for text in ("王代表", "网页", "修改", "界面语言", "zh-hans", "en"):
            assert text in html


@pytest.mark.parametrize(
    "url_name", ["web:user_detail", "web:user_history", "web:territory_detail", "web:territory_history"]
)
def test_a_hidden_object_is_the_custom_404_page_not_a_403(
    client: Client, personas: Personas, url_name: str
) -> None:
    target = personas.owner if url_name.startswith("web:user") else personas.own_territory
    colleague = signed_in(client, personas.colleague)

    response = colleague.get(reverse(url_name, args=[target.pk]))

    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    assert "页面不存在" in response.content.decode()
