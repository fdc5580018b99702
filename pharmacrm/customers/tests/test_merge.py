"""Duplicates and merge: found within visibility, every reference moved, history kept, refusals change nothing."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.models import Division
from pharmacrm.core.testing import Personas
from pharmacrm.customers import merge, search
from pharmacrm.customers.models import (
    Affiliation,
    Department,
    DevelopmentPlan,
    Institution,
    KeyDate,
    Need,
    Professional,
    ProfessionalSearchKey,
    Segment,
)
from pharmacrm.customers.tests.factories import DepartmentFactory, InstitutionFactory, ProfessionalFactory

TODAY = dt.date(2026, 3, 2)


def model(label: str):
    # Apps that build on customers, reached by name: customers must not import them.
    return apps.get_model(label)


def professional(**kwargs) -> Professional:
    p = ProfessionalFactory(**kwargs)
    search.index_professionals([p])
    Affiliation.objects.create(
        professional=p, institution=p.institution, department=p.department, is_primary=True, valid_from=TODAY
    )
    return p


def snapshot() -> dict[str, int]:
    """Row counts of everything a merge touches, history included."""
    labels = [
        "customers.Professional",
        "customers.Institution",
        "customers.Department",
        "customers.Affiliation",
        "customers.KeyDate",
        "customers.Need",
        "customers.Segment",
        "customers.DevelopmentPlan",
        "commercial.Listing",
        "engagement.Visit",
        "engagement.CareReminder",
    ]
    counts = {}
    for label in labels:
        m = model(label)
        counts[label] = m._base_manager.count()
        counts[label + " history"] = m.history.count()
    counts["search keys"] = ProfessionalSearchKey.objects.count()
    return counts


@pytest.fixture
def pair(personas: Personas):
    """Two records of one doctor at one hospital in the owner's territory, each with a profile of its own."""
    hospital = InstitutionFactory(name="北京协和医院", territory=personas.own_territory)
    search.index_institutions([hospital])
    cardio = DepartmentFactory(institution=hospital, name="心血管内科")
    kept = professional(name="张伟", institution=hospital, department=cardio, mobile="13800135678")
    gone = professional(
        name="张伟", institution=hospital, department=cardio, mobile="138 0013 5678", wechat_id="zw_doctor"
    )
    KeyDate.objects.create(professional=gone, kind="birthday", month=5, day=1, shared_by_customer=True)
    Need.objects.create(professional=gone, kind="academic", description="想参加心衰学术会议", found_on=TODAY)
    now = timezone.now()
    kept_tier = Segment.objects.create(
        professional=kept, dimension="tier", computed_value="key", computed_at=now
    )
    Segment.objects.create(professional=gone, dimension="tier", computed_value="general", computed_at=now)
    Segment.objects.create(
        professional=gone, dimension="engagement_stage", computed_value="new", computed_at=now
    )
    DevelopmentPlan.objects.create(title="推动参加学术会议", professional=gone, owner=personas.owner)
    Visit = model("engagement.Visit")
    starts = timezone.now() + dt.timedelta(days=1)
    visit_gone = Visit.objects.create(owner=personas.owner, institution=hospital, starts_at=starts)
    visit_gone.professionals.add(gone)
    visit_both = Visit.objects.create(owner=personas.owner, institution=hospital, starts_at=starts)
    visit_both.professionals.add(kept, gone)
    model("engagement.Dismissal").objects.create(
        user=personas.owner, professional=gone, reason="外出开会", until=TODAY + dt.timedelta(days=7)
    )
    return {
        "hospital": hospital,
        "kept": kept,
        "gone": gone,
        "cardio": cardio,
        "visits": (visit_gone, visit_both),
        "kept_tier": kept_tier,
    }


def references_to(obj) -> dict[str, int]:
    """How many rows of each model point at `obj`, through every relation merge moves."""
    found = {}
    for rel in merge._reverse_relations(type(obj)):
        count = rel.related_model._base_manager.filter(**{rel.field.name: obj.pk}).count()
        if count:
            found[f"{rel.related_model._meta.label}.{rel.field.name}"] = count
    return found


@pytest.mark.django_db
class TestMergeProfessionals:
    def test_every_reference_moves_and_history_is_kept(self, pair, personas):
        kept, gone = pair["kept"], pair["gone"]
        before = references_to(gone)
        # affiliations, key dates, needs, segments, plans, visit links, dismissals
        assert len(before) == 7, before
        result = merge.merge_professionals(
            actor=personas.district_manager, survivor_id=kept.pk, merged_id=gone.pk, note="导入重复"
        )
        assert references_to(gone) == {}
        assert not Professional.objects.filter(pk=gone.pk).exists()
        assert kept.key_dates.count() == 1
        assert kept.needs.count() == 1
        assert kept.plans.count() == 1
        assert {v.pk for v in kept.visits.all()} == {v.pk for v in pair["visits"]}
        # One segment per dimension: the survivor's own tier row stays (and is recomputed from the
        # merged profile); the merged record's other dimension comes over.
        assert sorted(kept.segments.values_list("dimension", flat=True)) == ["engagement_stage", "tier"]
        assert kept.segments.get(dimension="tier").pk == pair["kept_tier"].pk
        # One current primary affiliation: the survivor's; the other is kept, demoted.
        current = kept.affiliations.filter(valid_to__isnull=True)
        assert current.count() == 2
        assert current.filter(is_primary=True).count() == 1
        assert result.moved
        # History: the survivor records the merge with its reason; the merged record's history stays.
        last = kept.history.order_by("-history_id").first()
        assert "合并" in last.history_change_reason
        assert "导入重复" in last.history_change_reason
        assert last.history_user == personas.district_manager
        gone_history = Professional.history.filter(id=gone.pk).order_by("-history_id")
        assert gone_history.first().history_type == "-"
        assert "合并" in gone_history.first().history_change_reason
        moved_need = Need.history.filter(professional_id=kept.pk).order_by("-history_id").first()
        assert "合并" in moved_need.history_change_reason

    def test_chosen_fields_and_search_keys(self, pair, personas):
        kept, gone = pair["kept"], pair["gone"]
        merge.merge_professionals(
            actor=personas.director,
            survivor_id=kept.pk,
            merged_id=gone.pk,
            choices={"mobile": "merged", "wechat_id": "merged"},
        )
        kept.refresh_from_db()
        assert kept.mobile == "138 0013 5678"
        assert kept.wechat_id == "zw_doctor"
        hits = search.search(user=personas.owner, query="zw_doc").professionals
        assert [h.id for h in hits] == [kept.pk]
        assert [h.id for h in search.search(user=personas.owner, query="张伟").professionals] == [kept.pk]

    def test_default_choice_fills_the_survivors_blanks(self, pair):
        choices = merge.default_choices(pair["kept"], pair["gone"])
        assert choices["wechat_id"] == "merged"
        assert choices["name"] == "survivor"

    def test_a_clash_no_rule_settles_refuses_and_changes_nothing(self, pair, personas):
        CareReminder = model("engagement.CareReminder")
        for p in (pair["kept"], pair["gone"]):
            CareReminder.objects.create(
                professional=p, owner=personas.owner, occasion="doctors_day", due_on=TODAY
            )
        before = snapshot()
        with pytest.raises(merge.MergeRefused) as refused:
            merge.merge_professionals(
                actor=personas.director, survivor_id=pair["kept"].pk, merged_id=pair["gone"].pk
            )
        assert (
            "关怀" in refused.value.message
            or "CareReminder" in refused.value.message
            or "提醒" in refused.value.message
        )
        assert "合并后会重复" in refused.value.message
        assert snapshot() == before

    def test_a_department_of_another_institution_is_refused(self, pair, personas):
        other = InstitutionFactory(territory=personas.own_territory)
        moved = professional(name="张伟", institution=other)
        before = snapshot()
        with pytest.raises(DomainError) as refused:
            merge.merge_professionals(
                actor=personas.director,
                survivor_id=pair["kept"].pk,
                merged_id=moved.pk,
                choices={"institution": "merged"},  # department stays the survivor's, at another hospital
            )
        assert "科室" in refused.value.message
        assert snapshot() == before

    @pytest.mark.parametrize("persona", ["owner", "colleague", "no_role"])
    def test_only_admins_directors_and_managers_merge(self, pair, personas, persona):
        before = snapshot()
        with pytest.raises(NotAllowed):
            merge.merge_professionals(
                actor=personas[persona], survivor_id=pair["kept"].pk, merged_id=pair["gone"].pk
            )
        assert snapshot() == before

    def test_a_record_outside_the_actors_scope_is_refused(self, pair, personas):
        outside = professional(
            name="张伟", institution=InstitutionFactory(territory=personas.outside_territory)
        )
        before = snapshot()
        with pytest.raises(NotAllowed) as refused:
            merge.merge_professionals(
                actor=personas.district_manager, survivor_id=pair["kept"].pk, merged_id=outside.pk
            )
        assert f"#{outside.pk}" in refused.value.message
        assert "可见范围" in refused.value.message
        assert snapshot() == before

    def test_merging_with_itself_is_refused(self, pair, personas):
        with pytest.raises(DomainError):
            merge.merge_professionals(
                actor=personas.director, survivor_id=pair["kept"].pk, merged_id=pair["kept"].pk
            )


@pytest.fixture
def hospitals(personas: Personas):
    beijing = Division.objects.get(code="1101")
    kept = InstitutionFactory(
        name="北京协和医院", aliases="协和医院", territory=personas.own_territory, city=beijing
    )
    gone = InstitutionFactory(
        name="协和医院", territory=personas.own_territory, city=beijing, external_id="HIS-0001"
    )
    search.index_institutions([kept, gone])
    DepartmentFactory(institution=kept, name="心血管内科")
    gone_cardio = DepartmentFactory(institution=gone, name="心血管内科")
    gone_resp = DepartmentFactory(institution=gone, name="呼吸内科")
    doctor = professional(name="李娜", institution=gone, department=gone_cardio)
    professional(name="王芳", institution=gone, department=gone_resp)
    Product = model("commercial.Product")
    area = model("commercial.TherapeuticArea").objects.create(name="心血管", code="cv")
    product = Product.objects.create(code="P1", generic_name="沙库巴曲缬沙坦", therapeutic_area=area)
    model("commercial.Listing").objects.create(institution=gone, product=product, owner=personas.owner)
    return {"kept": kept, "gone": gone, "doctor": doctor, "product": product, "gone_cardio": gone_cardio}


@pytest.mark.django_db
class TestMergeInstitutions:
    def test_departments_professionals_and_listings_move(self, hospitals, personas):
        kept, gone = hospitals["kept"], hospitals["gone"]
        merge.merge_institutions(
            actor=personas.regional_manager,
            survivor_id=kept.pk,
            merged_id=gone.pk,
            choices={"external_id": "merged"},
        )
        assert references_to(gone) == {}
        kept.refresh_from_db()
        assert kept.external_id == "HIS-0001"
        # The same department in both became one; the other moved.
        assert sorted(kept.departments.values_list("name", flat=True)) == ["呼吸内科", "心血管内科"]
        assert not Department.objects.filter(pk=hospitals["gone_cardio"].pk).exists()
        doctor = Professional.objects.select_related("department").get(pk=hospitals["doctor"].pk)
        assert doctor.institution_id == kept.pk
        assert doctor.department.institution_id == kept.pk
        assert model("commercial.Listing").objects.get(product=hospitals["product"]).institution_id == kept.pk
        # Its name is now an alias: still found by it, and its people by their new institution.
        assert "协和医院" in search.split_aliases(kept.aliases)
        assert [h.id for h in search.search(user=personas.owner, query="协和医院").institutions] == [kept.pk]
        (hit,) = search.search(user=personas.owner, query="李娜").professionals
        assert hit.subtitle.startswith("北京协和医院")
        assert Institution.history.filter(id=gone.pk).order_by("-history_id").first().history_type == "-"

    def test_the_same_product_listed_at_both_refuses_and_changes_nothing(self, hospitals, personas):
        model("commercial.Listing").objects.create(
            institution=hospitals["kept"], product=hospitals["product"], owner=personas.owner
        )
        before = snapshot()
        with pytest.raises(merge.MergeRefused) as refused:
            merge.merge_institutions(
                actor=personas.director, survivor_id=hospitals["kept"].pk, merged_id=hospitals["gone"].pk
            )
        assert "进院" in refused.value.message
        assert "沙库巴曲缬沙坦" in refused.value.message
        assert snapshot() == before

    def test_a_kind_and_grade_that_do_not_go_together_are_refused(self, hospitals, personas):
        pharmacy = InstitutionFactory(
            name="协和大药房", kind="pharmacy", grade="none", territory=personas.own_territory
        )
        before = snapshot()
        with pytest.raises(DomainError) as refused:
            merge.merge_institutions(
                actor=personas.director,
                survivor_id=hospitals["kept"].pk,
                merged_id=pharmacy.pk,
                choices={"kind": "merged"},  # a pharmacy keeping the hospital's grade
            )
        assert "合并后的记录无效" in refused.value.message
        assert snapshot() == before


@pytest.mark.django_db
class TestDuplicates:
    def test_same_name_same_institution_and_same_mobile(self, pair, personas):
        found = merge.duplicate_professionals(user=personas.district_manager)
        assert len(found) == 1
        (dup,) = found
        assert {dup.first.pk, dup.second.pk} == {pair["kept"].pk, pair["gone"].pk}
        assert dup.score == 100
        assert "手机号相同" in dup.reasons
        assert "同一机构" in dup.reasons

    def test_homophones_are_candidates_too(self, personas):
        hospital = InstitutionFactory(territory=personas.own_territory)
        a = professional(name="王晓明", institution=hospital)
        b = professional(name="王小明", institution=hospital)
        professional(name="赵强", institution=hospital)
        (dup,) = merge.duplicate_professionals(user=personas.director)
        assert {dup.first.pk, dup.second.pk} == {a.pk, b.pk}
        assert "姓名读音相同" in dup.reasons

    @pytest.mark.parametrize("persona", ["other_manager", "owner", "colleague", "outsider"])
    def test_a_pair_out_of_scope_never_appears(self, pair, personas, persona):
        found = merge.duplicate_professionals(user=personas[persona])
        seen = {p.pk for d in found for p in (d.first, d.second)}
        if persona == "owner":
            assert seen  # the owner's own records (the page itself is for managers)
        else:
            assert pair["kept"].pk not in seen and pair["gone"].pk not in seen

    def test_institutions_by_alias_and_core_name(self, hospitals, personas):
        (dup,) = merge.duplicate_institutions(user=personas.director)
        assert {dup.first.pk, dup.second.pk} == {hospitals["kept"].pk, hospitals["gone"].pk}
        assert "名称是对方的别名" in dup.reasons
        assert "同一城市" in dup.reasons
        assert merge.duplicate_institutions(user=personas.other_manager) == []

    def test_core_name_strips_places_and_legal_forms(self):
        assert merge.core_name("北京市朝阳区第一人民医院", places=["北京市"]) == "朝阳区第一人民医院"
        assert merge.core_name("同仁堂大药房有限公司") == merge.core_name("同仁堂药店")

    def test_alike_names_of_different_places_are_not_pairs(self, personas):
        city = Division.objects.get(code="1101")
        for name in (
            "平谷区医院",
            "平谷区中医医院",
            "第一人民医院",
            "第二人民医院",
            "解放街道社区卫生服务中心",
            "东街街道社区卫生服务中心",
        ):
            InstitutionFactory(name=name, city=city, territory=personas.own_territory)
        for name in ("昌平区沙河医院", "昌平区医院"):
            InstitutionFactory(name=name, city=city, territory=personas.own_territory)
        typo = [InstitutionFactory(name=name, city=city) for name in ("北京协和医院", "北京协合医院")]
        same = InstitutionFactory(name="同仁堂大药房", kind="pharmacy", grade="none", city=city)
        other = InstitutionFactory(name="北京同仁堂药店有限公司", kind="pharmacy", grade="none", city=city)
        found = merge.duplicate_institutions(user=personas.director)
        assert sorted([sorted([d.first.pk, d.second.pk]) for d in found]) == sorted(
            [sorted([same.pk, other.pk]), sorted(t.pk for t in typo)]
        )


@pytest.mark.django_db
class TestPages:
    def client_for(self, user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    def test_duplicates_page_for_managers_only(self, pair, personas):
        url = reverse("customers:duplicates")
        response = self.client_for(personas.district_manager).get(url)
        assert response.status_code == 200
        assert (
            reverse("customers:merge", args=["professionals", pair["kept"].pk, pair["gone"].pk])
            in response.content.decode()
        )
        assert self.client_for(personas.owner).get(url).status_code == 403
        assert (
            self.client_for(personas.district_manager).get(url, {"kind": "institutions"}).status_code == 200
        )

    def test_merge_form_shows_both_values_and_merges(self, pair, personas):
        client = self.client_for(personas.district_manager)
        url = reverse("customers:merge", args=["professionals", pair["kept"].pk, pair["gone"].pk])
        page = client.get(url).content.decode()
        assert re.search(r'name="wechat_id"\s+value="merged"', page)
        assert "zw_doctor" in page
        response = client.post(url, {"wechat_id": "merged", "note": "重复建档"})
        assert response.status_code == 302
        assert response["Location"] == pair["kept"].get_absolute_url()
        assert not Professional.objects.filter(pk=pair["gone"].pk).exists()

    def test_a_refused_merge_shows_why(self, pair, personas):
        CareReminder = model("engagement.CareReminder")
        for p in (pair["kept"], pair["gone"]):
            CareReminder.objects.create(
                professional=p, owner=personas.owner, occasion="doctors_day", due_on=TODAY
            )
        before = snapshot()
        url = reverse("customers:merge", args=["professionals", pair["kept"].pk, pair["gone"].pk])
        response = self.client_for(personas.director).post(url, {})
        assert response.status_code == 422
        assert "不能合并" in response.content.decode()
        assert snapshot() == before

    def test_a_hidden_record_is_404(self, pair, personas):
        outside = professional(
            name="张伟", institution=InstitutionFactory(territory=personas.outside_territory)
        )
        url = reverse("customers:merge", args=["professionals", pair["kept"].pk, outside.pk])
        assert self.client_for(personas.district_manager).get(url).status_code == 404
