"""API lists: pinned query counts, cursor pagination over exactly the visible rows, the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from pharmacrm.api.tests.support import bearer_client
from pharmacrm.core.testing import Personas
from pharmacrm.core.tests.factories import AssignmentFactory, TerritoryFactory
from pharmacrm.core.tests.query_counts import assert_flat_query_count
from pharmacrm.customers.tests.factories import DepartmentFactory, InstitutionFactory, ProfessionalFactory

pytestmark = pytest.mark.django_db

# Every list below, for a rep with a bearer token (after the token's once-a-minute touch):
# 1 the token with its user, 2 the user's roles, 3 the user's current territories (the scope),
# 4 one page of rows with the relations the schema reads. Cursor pagination does no COUNT.
PINNED_API_LIST = 4


def add_institutions(personas: Personas) -> Any:
    return lambda n: InstitutionFactory.create_batch(n, territory=personas.own_territory)


def add_professionals(personas: Personas) -> Any:
    def add(n: int) -> None:
        for _ in range(n):
            hospital = InstitutionFactory(territory=personas.own_territory)
            ProfessionalFactory(institution=hospital, department=DepartmentFactory(institution=hospital))

    return add


def add_territories(personas: Personas) -> Any:
    def add(n: int) -> None:
        for _ in range(n):
            AssignmentFactory(territory=TerritoryFactory(org_unit=personas.team_n1a), user=personas.owner)

    return add


@pytest.mark.parametrize(
    ("path", "add_rows", "total"),
    [
        ("/api/v1/institutions", add_institutions, 30),
        ("/api/v1/professionals", add_professionals, 30),
        ("/api/v1/territories", add_territories, 31),  # the persona's own territory and 30 more
    ],
)
def test_list_query_count_does_not_grow_with_rows(
    personas: Personas, django_assert_max_num_queries: Any, path: str, add_rows: Any, total: int
) -> None:
    client = bearer_client(personas.owner)

    _small, large = assert_flat_query_count(
        django_assert_max_num_queries,
        fetch=lambda: client.get(path),
        add_rows=add_rows(personas),
        pinned=PINNED_API_LIST,
    )

    assert len(large.json()["results"]) == total


class TestCursorPagination:
    def test_walking_the_pages_returns_every_visible_row_once_and_no_hidden_row(
        self, personas: Personas
    ) -> None:
        visible = {i.pk for i in InstitutionFactory.create_batch(7, territory=personas.own_territory)}
        hidden = {
            InstitutionFactory(territory=personas.colleague_territory).pk,
            InstitutionFactory(territory=personas.outside_territory).pk,
            InstitutionFactory(territory=None).pk,
        }
        client = bearer_client(personas.owner)

        seen: list[int] = []
        url: str | None = "/api/v1/institutions?page_size=2"
        pages = 0
        while url:
            response = client.get(url)
            assert response.status_code == 200
            body = response.json()
            assert len(body["results"]) <= 2
            seen.extend(row["id"] for row in body["results"])
            url = body["next"]
            pages += 1
            assert pages <= 10, "the cursor does not end"

        assert pages == 4
        assert len(seen) == len(set(seen)), "a row came twice"
        assert set(seen) == visible
        assert not set(seen) & hidden
        assert seen == sorted(seen)

    def test_a_filter_is_kept_across_pages(self, personas: Personas) -> None:
        pharmacies = {
            i.pk
            for i in InstitutionFactory.create_batch(
                3, kind="pharmacy", grade="none", territory=personas.own_territory
            )
        }
        InstitutionFactory.create_batch(3, territory=personas.own_territory)
        client = bearer_client(personas.owner)

        seen: list[int] = []
        url: str | None = "/api/v1/institutions?kind=pharmacy&page_size=2"
        while url:
            body = client.get(url).json()
            seen.extend(row["id"] for row in body["results"])
            url = body["next"]

        assert set(seen) == pharmacies
        assert len(seen) == 3

    def test_a_manager_walks_the_whole_subtree(self, personas: Personas) -> None:
        own = InstitutionFactory.create_batch(2, territory=personas.own_territory)
        colleague = InstitutionFactory.create_batch(2, territory=personas.colleague_territory)
        InstitutionFactory.create_batch(2, territory=personas.outside_territory)
        client = bearer_client(personas.district_manager)

        seen: list[int] = []
        url: str | None = "/api/v1/institutions?page_size=3"
        while url:
            body = client.get(url).json()
            seen.extend(row["id"] for row in body["results"])
            url = body["next"]

        assert sorted(seen) == sorted(i.pk for i in own + colleague)

    def test_an_oversized_page_size_is_capped_not_refused(self, personas: Personas) -> None:
        InstitutionFactory.create_batch(3, territory=personas.own_territory)

        response = bearer_client(personas.owner).get("/api/v1/institutions", {"page_size": 100000})

        assert response.status_code == 200
        assert len(response.json()["results"]) == 3


class TestOpenApi:
    def test_the_document_lists_the_paths(self, client: Client) -> None:
        response = client.get("/api/v1/openapi.json")

        assert response.status_code == 200
        paths = response.json()["paths"]
        for path in (
            "/api/v1/auth/token",
            "/api/v1/me",
            "/api/v1/institutions",
            "/api/v1/institutions/{institution_id}",
            "/api/v1/professionals",
            "/api/v1/professionals/{professional_id}",
            "/api/v1/territories",
            "/api/v1/territories/{territory_id}",
        ):
            assert path in paths, path
        assert "post" in paths["/api/v1/auth/token"]
        assert "get" in paths["/api/v1/institutions"]

    def test_the_document_describes_the_error_shape(self, client: Client) -> None:
        schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]

        assert set(schemas["ErrorDetail"]["properties"]) == {"code", "message", "fields"}
