"""Customer pages: list query counts, the HTMX results fragment, the history tab, 404 for hidden rows."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from pharmacrm.core.audit import audit_context
from pharmacrm.core.testing import Personas
from pharmacrm.core.tests.query_counts import assert_flat_query_count
from pharmacrm.customers.models import Institution
from pharmacrm.customers.tests.factories import DepartmentFactory, InstitutionFactory, ProfessionalFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client: Client, personas: Personas) -> Client:
    client.force_login(personas.owner)
    return client


class TestInstitutionList:
    url = reverse("customers:institution_list")

    def test_query_count_does_not_grow_with_rows(
        self, owner_client: Client, personas: Personas, django_assert_max_num_queries: Any
    ) -> None:
        hidden = InstitutionFactory(name="外区医院", territory=personas.outside_territory)

        # 1 session, 2 user, 3 user's roles, 4 user's current territories (the scope),
        # 5 count of visible institutions, 6 user's org unit (header menu),
        # 7 provinces (filter choices), 8 the page of institutions with province, city, territory.
        _small, large = assert_flat_query_count(
            django_assert_max_num_queries,
            fetch=lambda: owner_client.get(self.url),
            add_rows=lambda n: InstitutionFactory.create_batch(n, territory=personas.own_territory),
            pinned=8,
        )

        html = large.content.decode()
        assert "共 30 条" in html
        assert len(re.findall(r'href="/customers/institutions/\d+/"', html)) == 25  # one page
        assert "?page=2" in html
        assert hidden.name not in html

    def test_an_htmx_request_gets_only_the_results_fragment(
        self, owner_client: Client, personas: Personas
    ) -> None:
        InstitutionFactory(name="协和医院", territory=personas.own_territory)
        InstitutionFactory(
            name="同仁药房", kind=Institution.Kind.PHARMACY, grade="none", territory=personas.own_territory
        )

        response = owner_client.get(self.url, {"kind": "pharmacy"}, headers={"HX-Request": "true"})

        html = response.content.decode()
        assert response.status_code == 200
        assert "<html" not in html
        assert 'id="list-results"' in html
        assert "共 1 条" in html
        assert "同仁药房" in html
        assert "协和医院" not in html

    def test_a_boosted_htmx_request_gets_the_whole_page(self, owner_client: Client) -> None:
        response = owner_client.get(self.url, headers={"HX-Request": "true", "HX-Boosted": "true"})

        assert "<html" in response.content.decode()

    def test_pinyin_initials_find_an_institution(self, owner_client: Client, personas: Personas) -> None:
        InstitutionFactory(name="北京协和医院", territory=personas.own_territory)
        InstitutionFactory(name="上海瑞金医院", territory=personas.own_territory)

        html = owner_client.get(self.url, {"q": "bjxh"}, headers={"HX-Request": "true"}).content.decode()

        assert "北京协和医院" in html
        assert "上海瑞金医院" not in html


class TestProfessionalList:
    url = reverse("customers:professional_list")

    def test_query_count_does_not_grow_with_rows(
        self, owner_client: Client, personas: Personas, django_assert_max_num_queries: Any
    ) -> None:
        hospital = InstitutionFactory(territory=personas.own_territory)
        hidden = ProfessionalFactory(
            name="外区医生", institution=InstitutionFactory(territory=personas.outside_territory)
        )

        def add_rows(n: int) -> None:
            for _ in range(n):
                ProfessionalFactory(institution=hospital, department=DepartmentFactory(institution=hospital))

        # 1 session, 2 user, 3 user's roles, 4 user's current territories (the scope),
        # 5 count of visible professionals, 6 user's org unit (header menu),
        # 7 the page of professionals with institution and department.
        _small, large = assert_flat_query_count(
            django_assert_max_num_queries,
            fetch=lambda: owner_client.get(self.url),
            add_rows=add_rows,
            pinned=7,
        )

        html = large.content.decode()
        assert "共 30 条" in html
        assert hidden.name not in html

    def test_an_htmx_request_gets_only_the_results_fragment(
        self, owner_client: Client, personas: Personas
    ) -> None:
        ProfessionalFactory(name="张伟", institution=InstitutionFactory(territory=personas.own_territory))

        response = owner_client.get(self.url, headers={"HX-Request": "true"})

        html = response.content.decode()
        assert "<html" not in html
        assert 'id="list-results"' in html
        assert "张伟" in html


class TestInstitutionHistory:
    def test_the_history_tab_shows_who_what_and_before_after(
        self, owner_client: Client, personas: Personas
    ) -> None:
        with audit_context(source="import", actor=personas.admin):
            institution = InstitutionFactory(name="第一人民医院", territory=personas.own_territory)
        with audit_context(source="api", actor=personas.owner):
            institution.name = "市第一人民医院"
            institution.grade = Institution.Grade.G3B
            institution.save()

        response = owner_client.get(reverse("customers:institution_history", args=[institution.pk]))

        assert response.status_code == 200
        entries = response.context["history"]
        assert [e.record.history_type for e in entries] == ["~", "+"]
        change, creation = entries
        assert (change.record.history_user, change.record.history_source) == (personas.owner, "api")
        assert (creation.record.history_user, creation.record.history_source) == (personas.admin, "import")
        assert {(c.field, c.old, c.new) for c in change.changes} == {
            ("name", "第一人民医院", "市第一人民医院"),
            ("grade", "3a", "3b"),
        }
        html = response.content.decode()
        for text in (
            "王代表",
            "接口",
            "修改",
            "管理员",
            "导入",
            "创建",
            "名称",
            "第一人民医院",
            "市第一人民医院",
        ):
            assert text in html

    def test_a_hidden_institutions_history_is_a_404(self, client: Client, personas: Personas) -> None:
        institution = InstitutionFactory(territory=personas.own_territory)
        client.force_login(personas.colleague)

        response = client.get(reverse("customers:institution_history", args=[institution.pk]))

        assert response.status_code == 404


@pytest.mark.parametrize("url_name", ["customers:institution_detail", "customers:institution_history"])
def test_a_hidden_institution_is_the_custom_404_page_not_a_403(
    client: Client, personas: Personas, url_name: str
) -> None:
    institution = InstitutionFactory(territory=personas.own_territory)
    client.force_login(personas.outsider)

    response = client.get(reverse(url_name, args=[institution.pk]))

    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    html = response.content.decode()
    assert "页面不存在" in html
    assert institution.name not in html
    # Same page as for a row that does not exist at all.
    missing = client.get(reverse(url_name, args=[999999]))
    assert missing.status_code == 404
    assert "页面不存在" in missing.content.decode()
