"""GET /api/v1/search: each kind of query, visible only, the error shape for a bad q, a pinned query count."""

from __future__ import annotations

import pytest
from django.test import Client

from pharmacrm.core.testing import Personas
from pharmacrm.customers import search
from pharmacrm.customers.tests.factories import DepartmentFactory, InstitutionFactory, ProfessionalFactory

URL = "/api/v1/search"


@pytest.fixture
def world(personas: Personas):
    xiehe = InstitutionFactory(name="北京协和医院", territory=personas.own_territory)
    neighbour = InstitutionFactory(name="北京朝阳医院", territory=personas.colleague_territory)
    search.index_institutions([xiehe, neighbour])
    department = DepartmentFactory(institution=xiehe, name="心血管内科")
    zhang = ProfessionalFactory(name="张伟", institution=xiehe, department=department, mobile="13800135678")
    hidden = ProfessionalFactory(name="张伟", institution=neighbour, wechat_id="zhangwei_99")
    search.index_professionals([zhang, hidden])
    return {"xiehe": xiehe, "neighbour": neighbour, "zhang": zhang, "hidden": hidden}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
class TestSearchApi:
    @pytest.mark.parametrize("q", ["张伟", "zhangwei", "zhangw", "zw", "138001", "5678"])
    def test_professional_queries(self, world, personas, q):
        body = client_for(personas.owner).get(URL, {"q": q}).json()
        assert [hit["id"] for hit in body["professionals"]] == [world["zhang"].pk]

    def test_hit_shape(self, world, personas):
        body = client_for(personas.owner).get(URL, {"q": "张伟", "kind": "professional"}).json()
        assert body == {
            "query": "张伟",
            "professionals": [
                {
                    "type": "professional",
                    "id": world["zhang"].pk,
                    "title": "张伟",
                    "subtitle": "北京协和医院 · 心血管内科",
                    "url": world["zhang"].get_absolute_url(),
                    "match": "exact",
                    "via": "n",
                }
            ],
            "institutions": [],
        }

    def test_institution_substring_and_kind(self, world, personas):
        body = client_for(personas.owner).get(URL, {"q": "协和", "kind": "institution"}).json()
        assert [hit["title"] for hit in body["institutions"]] == ["北京协和医院"]
        assert body["institutions"][0]["match"] == "substring"
        assert body["professionals"] == []

    @pytest.mark.parametrize(
        ("persona", "sees"), [("owner", False), ("colleague", True), ("outsider", False), ("director", True)]
    )
    def test_visible_only(self, world, personas, persona, sees):
        body = client_for(personas[persona]).get(URL, {"q": "zhangwei"}).json()
        assert (world["hidden"].pk in [hit["id"] for hit in body["professionals"]]) is sees
        body = client_for(personas[persona]).get(URL, {"q": "朝阳"}).json()
        assert bool(body["institutions"]) is sees

    @pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}, {"q": "x" * 65}])
    def test_empty_or_too_long_q_is_a_field_error(self, personas, params):
        response = client_for(personas.director).get(URL, params)
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert list(error["fields"]) == ["q"]
        assert error["message"]

    def test_unknown_kind_is_refused(self, personas):
        response = client_for(personas.director).get(URL, {"q": "zw", "kind": "visit"})
        assert response.status_code == 422
        assert "kind" in response.json()["error"]["fields"]

    def test_login_required(self, world):
        assert Client().get(URL, {"q": "zw"}).status_code == 401

    def test_query_count_does_not_grow(self, personas, django_assert_max_num_queries):
        hospital = InstitutionFactory(name="协和医院", territory=personas.own_territory)
        search.index_institutions([hospital])
        client = client_for(personas.owner)
        search.index_professionals([ProfessionalFactory(name="张一", institution=hospital)])
        # session, user, roles, assignments, the scope's size, then ≤ 3 per kind (keys, inside keys, rows)
        with django_assert_max_num_queries(12):
            assert len(client.get(URL, {"q": "张"}).json()["professionals"]) == 1
        search.index_professionals(
            [ProfessionalFactory(name=f"张{i}", institution=hospital) for i in range(30)]
        )
        with django_assert_max_num_queries(12):
            assert len(client.get(URL, {"q": "张"}).json()["professionals"]) == 20
