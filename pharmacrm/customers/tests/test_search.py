"""Search: each kind of query, ranking, visibility, keys kept in step, autocomplete, the search page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from pharmacrm.core.models import Division
from pharmacrm.core.testing import Personas
from pharmacrm.core.visibility import visible
from pharmacrm.customers import search, services
from pharmacrm.customers.models import Institution, InstitutionSearchKey, Professional, ProfessionalSearchKey
from pharmacrm.customers.tests.factories import DepartmentFactory, InstitutionFactory, ProfessionalFactory


def indexed_institution(**kwargs):
    institution = InstitutionFactory(**kwargs)
    search.index_institutions([institution])
    return institution


def indexed_professional(**kwargs):
    professional = ProfessionalFactory(**kwargs)
    search.index_professionals([professional])
    return professional


def names(results: search.SearchResults) -> list[str]:
    return [hit.title for hit in results.hits]


@pytest.fixture
def world(personas: Personas):
    """北京协和医院 in the owner's territory with 张伟 and others; a colleague's 张伟 next door."""
    xiehe = indexed_institution(name="北京协和医院", aliases="协和;PUMCH", territory=personas.own_territory)
    cardio = DepartmentFactory(institution=xiehe, name="心血管内科")
    zhang = indexed_professional(
        name="张伟", institution=xiehe, department=cardio, mobile="138-0013-5678", wechat_id="ZhangWei_88"
    )
    neighbour = indexed_institution(name="北京朝阳医院", territory=personas.colleague_territory)
    hidden = indexed_professional(name="张伟", institution=neighbour, mobile="13900139999")
    return {"xiehe": xiehe, "zhang": zhang, "neighbour": neighbour, "hidden": hidden, "cardio": cardio}


class TestKeys:
    def test_a_name_yields_suffixes_pinyin_and_initials(self):
        keys = {(k, f, s) for k, f, s in search.professional_keys(name="张小伟", mobile="+86 138 0013 5678")}
        assert ("张小伟", "n", True) in keys
        assert ("小伟", "n", False) in keys
        assert ("zhangxiaowei", "p", True) in keys
        assert ("xiaowei", "p", False) in keys
        assert ("zxw", "i", True) in keys
        assert ("13800135678", "m", True) in keys
        assert ("~87653100831", "m", False) in keys

    def test_polyphonic_surnames_read_as_surnames(self):
        keys = {k for k, _f, _s in search.professional_keys(name="曾小贤")}
        assert "zengxiaoxian" in keys
        assert "cengxiaoxian" not in keys
        both = {k for k, _f, _s in search.professional_keys(name="乐嘉")}
        assert {"yuejia", "lejia"} <= both

    def test_aliases_are_keys_too(self):
        keys = {
            (k, f) for k, f, s in search.institution_keys(name="北京协和医院", aliases="协和；PUMCH") if s
        }
        assert ("协和", "a") in keys
        assert ("pumch", "a") in keys


@pytest.mark.django_db
class TestQueries:
    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("协和", "北京协和医院"),  # Chinese substring
            ("北京协和医院", "北京协和医院"),  # exact
            ("xiehe", "北京协和医院"),  # pinyin from inside the name
            ("bjxh", "北京协和医院"),  # initials
            ("xhyy", "北京协和医院"),  # initials from inside
            ("pumch", "北京协和医院"),  # alias
            ("ＰＵＭＣＨ", "北京协和医院"),  # full-width input
        ],
    )
    def test_institution_queries(self, world, personas, query, expected):
        results = search.search(user=personas.owner, query=query)
        assert [hit.title for hit in results.institutions] == [expected]

    @pytest.mark.parametrize(
        "query",
        [
            "张伟",
            "伟",
            "zhangwei",
            "zhangw",
            "Zhang Wei",
            "zw",
            "张wei",
            "13800",
            "138-0013",
            "5678",
            "35678",
            "zhangwei_8",
        ],
    )
    def test_professional_queries(self, world, personas, query):
        results = search.search(user=personas.owner, query=query)
        assert [hit.id for hit in results.professionals] == [world["zhang"].pk], query

    def test_professional_subtitle_names_institution_and_department(self, world, personas):
        (hit,) = search.search(user=personas.owner, query="zw").professionals
        assert hit.subtitle == "北京协和医院 · 心血管内科"
        assert hit.text == "张伟 · 北京协和医院 · 心血管内科"
        assert hit.url == world["zhang"].get_absolute_url()

    def test_a_phone_match_does_not_show_the_number(self, world, personas):
        (hit,) = search.search(user=personas.owner, query="5678").professionals
        assert hit.via == "m"
        assert "5678" not in hit.title + hit.subtitle

    def test_no_match(self, world, personas):
        assert len(search.search(user=personas.owner, query="不存在的名字")) == 0

    @pytest.mark.parametrize("query", ["", "   ", "!!!", "x" * 65])
    def test_empty_or_too_long_is_refused_with_the_field(self, personas, query):
        with pytest.raises(search.InvalidSearch) as refused:
            search.search(user=personas.director, query=query)
        assert "q" in refused.value.fields

    def test_ranking_exact_then_prefix_then_substring(self, personas):
        hospital = InstitutionFactory(territory=personas.own_territory)
        for name in ("李张伟", "张伟华", "张伟"):
            indexed_professional(name=name, institution=hospital)
        results = search.search(user=personas.owner, query="张伟")
        assert names(results) == ["张伟", "张伟华", "李张伟"]
        assert [hit.match for hit in results.professionals] == ["exact", "prefix", "substring"]

    def test_highlight_cuts_the_title_around_the_match(self, world, personas):
        (inst,) = search.search(user=personas.owner, query="协和", kinds=[search.INSTITUTION]).institutions
        assert inst.parts == ("北京", "协和", "医院")
        (prof,) = search.search(
            user=personas.owner, query="zhangw", kinds=[search.PROFESSIONAL]
        ).professionals
        assert prof.parts == ("", "张伟", "")
        (prof,) = search.search(user=personas.owner, query="z", kinds=[search.PROFESSIONAL]).professionals
        assert prof.parts == ("", "张", "伟")

    @pytest.mark.parametrize(
        ("query", "count"), [("张伟", 2), ("zw", 2), ("伟", 2), ("5678", 1), ("协和", 0)]
    )
    def test_matching_q_for_list_filters(self, world, query, count):
        assert Professional.objects.filter(search.matching_q(Professional, query)).count() == count
        assert Institution.objects.filter(search.matching_q(Institution, "协和")).count() == 1

    def test_limit_per_kind(self, personas):
        hospital = InstitutionFactory(territory=personas.own_territory)
        search.index_professionals(
            [ProfessionalFactory(name=f"王{c}", institution=hospital) for c in "一二三四五六七八九十"]
        )
        assert len(search.search(user=personas.owner, query="王", limit=4).professionals) == 4


@pytest.mark.django_db
class TestVisibility:
    @pytest.mark.parametrize(
        ("persona", "sees_hidden"),
        [
            ("owner", False),
            ("colleague", True),
            ("outsider", False),
            ("district_manager", True),
            ("regional_manager", True),
            ("other_manager", False),
            ("director", True),
            ("no_role", False),
        ],
    )
    def test_a_colleagues_customer_never_appears(self, world, personas, persona, sees_hidden):
        found = {hit.id for hit in search.search(user=personas[persona], query="张伟").professionals}
        assert (world["hidden"].pk in found) is sees_hidden
        own_visible = persona in ("owner", "district_manager", "regional_manager", "director")
        assert (world["zhang"].pk in found) is own_visible
        institutions = {hit.id for hit in search.search(user=personas[persona], query="医院").institutions}
        assert (world["neighbour"].pk in institutions) is sees_hidden

    @pytest.mark.parametrize(
        "persona",
        ["owner", "colleague", "outsider", "district_manager", "other_manager", "director", "no_role"],
    )
    def test_the_key_scope_is_the_visible_institutions(self, world, personas, persona):
        # search walks the keys of the institutions of the visible territories; that must be
        # exactly visible(Institution), or results go missing.
        user = personas[persona]
        scope = search._institution_scope(user)
        expected = set(visible(Institution, user=user).values_list("pk", flat=True))
        if scope is None:
            assert expected == set(Institution.objects.values_list("pk", flat=True))
        else:
            assert set(scope.values_list("pk", flat=True)) == expected

    @pytest.mark.parametrize(
        ("persona", "sees_hidden"),
        [("owner", False), ("district_manager", True), ("regional_manager", True), ("other_manager", False)],
    )
    def test_a_wide_scope_walks_the_keys_and_keeps_only_its_own(
        self, world, personas, monkeypatch, persona, sees_hidden
    ):
        # Every limited scope walks the key index here (at 10^6 only a region's does), testing each
        # walked key's institution.
        monkeypatch.setattr(search, "WALK_FACTOR", 0)
        south = indexed_institution(name="广州南方医院", territory=personas.outside_territory)
        far = indexed_professional(name="张伟", institution=south)
        for i in range(30):  # keys ahead of the owner's in key order, in the colleague's territory
            indexed_professional(name=f"张伟{chr(0x4E00 + i)}", institution=world["neighbour"])
        user = personas[persona]
        assert search._scope(user).walk
        found = {hit.id for hit in search.search(user=user, query="张伟").professionals}
        assert (world["hidden"].pk in found) is sees_hidden
        assert (world["zhang"].pk in found) is (persona != "other_manager")
        assert (far.pk in found) is (persona == "other_manager")
        assert visible(Professional, user=user).filter(pk__in=found).count() == len(found)
        substring = {hit.id for hit in search.search(user=user, query="伟").professionals}
        assert (world["zhang"].pk in substring) is (persona != "other_manager")
        places = {hit.id for hit in search.search(user=user, query="医院").institutions}
        assert places == set(visible(Institution, user=user).values_list("pk", flat=True))

    def test_a_stale_key_never_shows_a_hidden_professional(self, world, personas):
        # The professional moved to the colleague's institution without reindexing.
        Professional.objects.filter(pk=world["zhang"].pk).update(institution=world["neighbour"])
        assert search.search(user=personas.owner, query="zhangwei_88").professionals == []

    def test_autocomplete_is_scoped(self, world, personas):
        client = Client()
        client.force_login(personas.owner)
        response = client.get(reverse("customers:autocomplete_professionals"), {"q": "张伟"})
        assert response.json() == {
            "results": [{"id": world["zhang"].pk, "text": "张伟 · 北京协和医院 · 心血管内科"}]
        }
        response = client.get(reverse("customers:autocomplete_institutions"), {"q": "朝阳"})
        assert response.json() == {"results": []}


@pytest.mark.django_db
class TestKeysInStep:
    def test_rename_through_the_service(self, world, personas):
        services.update_professional(
            actor=personas.owner, professional=world["zhang"], changes={"name": "张卫"}
        )
        found = search.search(user=personas.owner, query="张卫").professionals
        assert [hit.id for hit in found] == [world["zhang"].pk]
        assert search.search(user=personas.owner, query="zhangwei_8").professionals  # WeChat kept
        assert not search.search(user=personas.owner, query="张伟华").professionals
        assert all(
            hit.id != world["zhang"].pk
            for hit in search.search(user=personas.owner, query="张伟").professionals
        )

    def test_new_mobile_through_the_service(self, world, personas):
        services.update_professional(
            actor=personas.owner, professional=world["zhang"], changes={"mobile": "13700001111"}
        )
        assert search.search(user=personas.owner, query="1111").professionals
        assert not search.search(user=personas.owner, query="5678").professionals

    def test_created_through_the_service_is_found(self, world, personas):
        created = services.create_professional(
            actor=personas.owner,
            name="欧阳娜娜",
            role=Professional.Role.PHYSICIAN,
            institution=world["xiehe"],
        )
        assert [hit.id for hit in search.search(user=personas.owner, query="oyn").professionals] == [
            created.pk
        ]
        institution = services.create_institution(
            actor=personas.director,
            name="上海瑞金医院",
            kind="hospital",
            province=Division.objects.get(code="31"),
        )
        assert [hit.id for hit in search.search(user=personas.director, query="ruijin").institutions] == [
            institution.pk
        ]

    def test_institution_aliases_through_the_service(self, world, personas):
        services.update_institution(
            actor=personas.owner, institution=world["xiehe"], changes={"aliases": "协和总院"}
        )
        assert search.search(user=personas.owner, query="总院").institutions
        assert not search.search(user=personas.owner, query="pumch").institutions

    def test_rebuild_rewrites_every_key(self, world):
        before = sorted(
            ProfessionalSearchKey.objects.values_list("professional_id", "key", "field", "starts")
        )
        ProfessionalSearchKey.objects.all().delete()
        counts = search.rebuild_search_index(chunk=1)
        assert counts == {"institutions": 2, "professionals": 2}
        after = sorted(ProfessionalSearchKey.objects.values_list("professional_id", "key", "field", "starts"))
        assert after == before
        assert InstitutionSearchKey.objects.exists()

    def test_deleting_a_professional_drops_its_keys(self, world):
        world["hidden"].delete()
        assert not ProfessionalSearchKey.objects.filter(professional_id=world["hidden"].pk).exists()


@pytest.mark.django_db
class TestQueryCount:
    @pytest.mark.parametrize(("persona", "most"), [("director", 6), ("owner", 8), ("district_manager", 8)])
    def test_queries_do_not_grow_with_results(self, personas, persona, most, django_assert_max_num_queries):
        hospital = indexed_institution(name="协和医院", territory=personas.own_territory)
        department = DepartmentFactory(institution=hospital)
        user = personas[persona]
        # Warm the user's scope (roles, territories): computed once per request.
        search.search(user=user, query="warm")

        # At most, per kind: keys that begin a value, keys from inside one (only when too few), the
        # rows themselves — six in all, whether one professional matches or thirty; a limited scope
        # adds two (its size and the number of institutions, to pick the index).
        indexed_professional(name="张一", institution=hospital, department=department)
        with django_assert_max_num_queries(most):
            assert len(search.search(user=user, query="张").professionals) == 1
        search.index_professionals(
            [
                ProfessionalFactory(name=f"张{i}", institution=hospital, department=department)
                for i in range(30)
            ]
        )
        with django_assert_max_num_queries(most):
            assert len(search.search(user=user, query="张").professionals) == 20


@pytest.mark.django_db
class TestPages:
    def test_autocomplete_needs_login(self, client):
        response = client.get(reverse("customers:autocomplete_institutions"), {"q": "协和"})
        assert response.status_code == 302

    def test_autocomplete_caps_at_twenty(self, personas):
        hospital = InstitutionFactory(territory=personas.own_territory)
        search.index_professionals(
            [ProfessionalFactory(name=f"李{i}", institution=hospital) for i in range(25)]
        )
        client = Client()
        client.force_login(personas.director)
        results = client.get(reverse("customers:autocomplete_professionals"), {"q": "li"}).json()["results"]
        assert len(results) == 20

    def test_autocomplete_empty_query_is_no_results(self, personas):
        client = Client()
        client.force_login(personas.director)
        assert client.get(reverse("customers:autocomplete_professionals")).json() == {"results": []}

    def test_search_page_groups_and_highlights(self, world, personas):
        client = Client()
        client.force_login(personas.owner)
        response = client.get("/search/", {"q": "协和"})
        body = response.content.decode()
        assert response.status_code == 200
        assert "<mark>协和</mark>" in body
        assert "北京朝阳医院" not in body
        response = client.get("/search/", {"q": "zw"})
        body = response.content.decode()
        assert "<mark>张伟</mark>" in body
        assert "心血管内科" in body
