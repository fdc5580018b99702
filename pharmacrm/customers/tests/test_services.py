"""Customer writes: each refusal says why and changes nothing; the same write succeeds for someone allowed."""

import datetime as dt

import pytest
from django.http import Http404
from django.test import Client
from django.urls import reverse

from pharmacrm.core.errors import Conflict, DomainError, NotAllowed, RuleViolation
from pharmacrm.core.models import Division, Role
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.customers import services
from pharmacrm.customers.models import Affiliation, Institution, KeyDate, Need, Professional
from pharmacrm.customers.tests.factories import (
    AffiliationFactory,
    DepartmentFactory,
    InstitutionFactory,
    NeedFactory,
)

pytestmark = pytest.mark.django_db


def history_count(model):
    return model.history.count()


class Unchanged:
    """Row and history counts of the given models, to assert a refusal wrote nothing."""

    def __init__(self, *models):
        self.models = models
        self.before = self.snapshot()

    def snapshot(self):
        return {m.__name__: (m.objects.count(), history_count(m)) for m in self.models}

    def check(self):
        assert self.snapshot() == self.before


@pytest.fixture
def hospital(personas):
    return InstitutionFactory(name="北京协和医院", territory=personas.own_territory)


@pytest.fixture
def doctor(hospital):
    return services.create_professional(
        actor=UserFactory(username="adm", roles=[Role.ADMIN]),
        name="张伟",
        role=Professional.Role.PHYSICIAN,
        institution=hospital,
        department=DepartmentFactory(institution=hospital, name="心内科"),
    )


# --- Institutions ---------------------------------------------------------------------------------


def test_grade_on_a_pharmacy_is_refused_then_a_hospital_may_have_it(personas):
    unchanged = Unchanged(Institution)
    with pytest.raises(DomainError) as exc:
        services.create_institution(
            actor=personas.owner,
            name="老百姓大药房",
            kind=Institution.Kind.PHARMACY,
            grade=Institution.Grade.G3A,
            province="11",
            territory=personas.own_territory,
        )
    assert exc.value.message == "只有医院有等级：药房“老百姓大药房”不能设为“三级甲等”。"
    assert list(exc.value.fields) == ["grade"]
    unchanged.check()
    inst = services.create_institution(
        actor=personas.owner,
        name="北京天坛医院",
        kind=Institution.Kind.HOSPITAL,
        grade=Institution.Grade.G3A,
        province="11",
        city="1101",
        county="110105",
        territory=personas.own_territory,
    )
    assert inst.search_initials == "bjttyy"
    assert inst.history.first().history_user == personas.owner


def test_city_of_another_province_is_refused(personas):
    unchanged = Unchanged(Institution)
    with pytest.raises(DomainError) as exc:
        services.create_institution(
            actor=personas.owner,
            name="某医院",
            kind="hospital",
            province="11",
            city="1301",
            territory=personas.own_territory,
        )
    assert exc.value.message == "城市“石家庄市”不属于“北京市”。"
    unchanged.check()


def test_unknown_province_code_names_the_field(personas):
    with pytest.raises(DomainError) as exc:
        services.create_institution(actor=personas.owner, name="某医院", kind="hospital", province="99")
    assert exc.value.fields == {"province": ["未知省份代码：“99”。"]}


def test_rep_must_put_a_new_institution_in_a_territory_they_cover(personas):
    with pytest.raises(DomainError) as exc:
        services.create_institution(
            actor=personas.owner,
            name="某医院",
            kind="hospital",
            province="11",
            territory=personas.colleague_territory,
        )
    assert "辖区不存在或无权查看" in exc.value.message
    with pytest.raises(DomainError) as exc:
        services.create_institution(actor=personas.owner, name="某医院", kind="hospital", province="11")
    assert exc.value.fields["territory"]


def test_update_institution_refreshes_pinyin_and_keeps_history(personas, hospital):
    services.update_institution(
        actor=personas.owner, institution=hospital, changes={"name": "北京协和医院东院"}
    )
    hospital.refresh_from_db()
    assert hospital.search_pinyin.startswith("beijingxiehe")
    assert hospital.history.first().history_user == personas.owner


# --- Who may write ------------------------------------------------------------------------------------


def test_colleague_editing_someone_elses_customer_gets_404_and_nothing_changes(personas, doctor):
    unchanged = Unchanged(Professional)
    with pytest.raises(Http404):
        services.update_professional(
            actor=personas.colleague, professional=doctor, changes={"interests": "马拉松"}
        )
    client = Client()
    client.force_login(personas.colleague)
    page = client.post(reverse("customers:professional_edit", args=[doctor.pk]), {"name": "改名"})
    api = client.patch(
        f"/api/v1/professionals/{doctor.pk}", {"interests": "马拉松"}, content_type="application/json"
    )
    assert (page.status_code, api.status_code) == (404, 404)
    assert api.json()["error"]["code"] == "not_found"
    unchanged.check()
    # The owner may.
    services.update_professional(actor=personas.owner, professional=doctor, changes={"interests": "马拉松"})
    doctor.refresh_from_db()
    assert doctor.interests == "马拉松"


@pytest.mark.parametrize("role", [Role.SERVICE, Role.MARKETING, Role.COMPLIANCE])
def test_read_only_roles_editing_get_403_and_nothing_changes(personas, doctor, role):
    reader = UserFactory(roles=[role])
    unchanged = Unchanged(Professional, Need)
    with pytest.raises(NotAllowed) as exc:
        services.update_professional(actor=reader, professional=doctor, changes={"interests": "马拉松"})
    assert exc.value.message == "您的角色只能查看客户资料，不能修改。"
    with pytest.raises(NotAllowed):
        services.create_need(actor=reader, professional=doctor, kind="academic", description="指南")
    client = Client()
    client.force_login(reader)
    assert client.get(reverse("customers:professional_edit", args=[doctor.pk])).status_code == 403
    api = client.patch(
        f"/api/v1/professionals/{doctor.pk}", {"interests": "马拉松"}, content_type="application/json"
    )
    assert api.status_code == 403
    assert api.json()["error"] == {
        "code": "forbidden",
        "message": "您的角色只能查看客户资料，不能修改。",
        "fields": {},
    }
    unchanged.check()


def test_manager_above_may_edit(personas, doctor):
    services.update_professional(
        actor=personas.district_manager, professional=doctor, changes={"title": "chief"}
    )
    doctor.refresh_from_db()
    assert doctor.title == "chief"


# --- Professionals ------------------------------------------------------------------------------------


def test_department_of_another_institution_is_refused_everywhere(personas, hospital, doctor):
    other = InstitutionFactory(name="北京朝阳医院", territory=personas.own_territory)
    foreign = DepartmentFactory(institution=other, name="呼吸科")
    unchanged = Unchanged(Professional, Affiliation)
    expected = "科室“呼吸科”属于“北京朝阳医院”，不属于“北京协和医院”。"
    with pytest.raises(DomainError) as exc:
        services.create_professional(
            actor=personas.owner, name="李娜", role="physician", institution=hospital, department=foreign
        )
    assert exc.value.message == expected
    assert exc.value.fields == {"department": [expected]}
    with pytest.raises(DomainError) as exc:
        services.update_professional(
            actor=personas.owner, professional=doctor, changes={"department": foreign}
        )
    assert exc.value.message == expected
    with pytest.raises(DomainError) as exc:
        services.add_affiliation(
            actor=personas.owner, professional=doctor, institution=hospital, department=foreign
        )
    assert exc.value.message == expected
    client = Client()
    client.force_login(personas.owner)
    api = client.post(
        "/api/v1/professionals",
        {"name": "李娜", "role": "physician", "institution_id": hospital.pk, "department_id": foreign.pk},
        content_type="application/json",
    )
    assert api.status_code == 400
    assert api.json()["error"]["fields"] == {"department": [expected]}
    unchanged.check()


def test_create_professional_opens_a_primary_affiliation_and_confirms_what_was_entered(personas, hospital):
    p = services.create_professional(
        actor=personas.owner,
        name="王芳",
        role="physician",
        institution=hospital,
        interests="跑步",
        title="attending",
    )
    assert p.search_pinyin == "wangfang" and p.search_initials == "wf"
    primary = Affiliation.objects.get(professional=p)
    assert (primary.is_primary, primary.institution, primary.valid_to) == (True, hospital, None)
    assert set(p.confirmed_fields) >= {"interests", "title"}
    assert p.tier == "general"  # the default rules: no potential → general
    assert 0 < p.completeness < 100


def test_prescription_counts_are_refused_in_prescribing_habits(personas, doctor):
    unchanged = Unchanged(Professional)
    with pytest.raises(RuleViolation) as exc:
        services.update_professional(
            actor=personas.owner,
            professional=doctor,
            changes={"prescribing_habits": "每月开 200 张处方，偏好 ARNI"},
        )
    assert "不能记录处方数量或占比：“200 张”" in exc.value.message
    assert exc.value.rule == "no_per_doctor_prescription_stats"
    unchanged.check()
    services.update_professional(
        actor=personas.owner,
        professional=doctor,
        changes={"prescribing_habits": "心衰患者首选 ARNI，关注肾功能"},
    )


def test_tier_cannot_be_edited_directly(personas, doctor):
    with pytest.raises(DomainError) as exc:
        services.update_professional(actor=personas.owner, professional=doctor, changes={"tier": "key"})
    assert "人工调整" in exc.value.message


def test_unknown_field_is_refused_by_name(personas, doctor):
    with pytest.raises(DomainError) as exc:
        services.update_professional(actor=personas.owner, professional=doctor, changes={"prescriptions": 3})
    assert exc.value.fields == {"prescriptions": ["不允许的字段。"]}


def test_moving_the_primary_affiliation_mirrors_it_on_the_profile(personas, doctor):
    other = InstitutionFactory(name="北京朝阳医院", territory=personas.own_territory)
    dept = DepartmentFactory(institution=other, name="心内科")
    old = Affiliation.objects.get(professional=doctor, is_primary=True)
    old.valid_from = dt.date(2020, 1, 1)
    old.save()
    new = services.add_affiliation(
        actor=personas.owner, professional=doctor, institution=other, department=dept, is_primary=True
    )
    doctor.refresh_from_db()
    old.refresh_from_db()
    assert (doctor.institution, doctor.department) == (other, dept)
    assert new.is_primary and new.valid_to is None
    assert old.valid_to is not None
    assert (
        Affiliation.objects.filter(professional=doctor, is_primary=True, valid_to__isnull=True).count() == 1
    )
    with pytest.raises(DomainError) as exc:
        services.end_affiliation(actor=personas.owner, affiliation=new)
    assert exc.value.message == "主要执业点不能直接结束，请先添加新的主要执业点。"


def test_secondary_affiliation_can_be_added_and_ended(personas, doctor):
    other = InstitutionFactory(
        name="社区卫生服务中心", kind="clinic", grade="none", territory=personas.own_territory
    )
    aff = services.add_affiliation(
        actor=personas.owner, professional=doctor, institution=other, position="出诊专家"
    )
    with pytest.raises(Conflict):
        services.add_affiliation(actor=personas.owner, professional=doctor, institution=other)
    services.end_affiliation(actor=personas.owner, affiliation=aff)
    aff.refresh_from_db()
    assert aff.valid_to is not None


# --- Key dates ----------------------------------------------------------------------------------------


def test_key_date_not_shared_by_the_customer_is_refused_with_the_pipl_reason(personas, doctor):
    unchanged = Unchanged(KeyDate)
    with pytest.raises(RuleViolation) as exc:
        services.add_key_date(
            actor=personas.owner,
            professional=doctor,
            kind="birthday",
            month=3,
            day=8,
            shared_by_customer=False,
        )
    assert "个人信息保护法第十三条" in exc.value.message
    assert exc.value.fields == {"shared_by_customer": ["须经客户本人同意分享。"]}
    client = Client()
    client.force_login(personas.owner)
    api = client.post(
        f"/api/v1/professionals/{doctor.pk}/key-dates",
        {"kind": "birthday", "month": 3, "day": 8, "shared_by_customer": False},
        content_type="application/json",
    )
    assert api.status_code == 422
    assert api.json()["error"]["code"] == "rule_violation"
    unchanged.check()
    kd = services.add_key_date(
        actor=personas.owner, professional=doctor, kind="birthday", month=3, day=8, shared_by_customer=True
    )
    doctor.refresh_from_db()
    assert kd.pk and "key_dates" in doctor.confirmed_fields


def test_key_date_must_exist(personas, doctor):
    with pytest.raises(DomainError) as exc:
        services.add_key_date(
            actor=personas.owner,
            professional=doctor,
            kind="birthday",
            month=2,
            day=30,
            shared_by_customer=True,
        )
    assert exc.value.message == "日期不存在：2 月 30 日。"
    services.add_key_date(
        actor=personas.owner, professional=doctor, kind="birthday", month=2, day=29, shared_by_customer=True
    )


# --- Needs --------------------------------------------------------------------------------------------


def test_need_met_follows_status(personas, doctor):
    need = services.create_need(
        actor=personas.owner, professional=doctor, kind="clinical", description="想了解 ARNI 的肾功能数据"
    )
    assert (need.status, need.met, need.met_on) == ("open", False, None)
    need = services.update_need(actor=personas.owner, need=need, status="met")
    assert need.met and need.met_on is not None
    need = services.update_need(actor=personas.owner, need=need, status="in_progress")
    assert (need.met, need.met_on) == (False, None)
    with pytest.raises(DomainError) as exc:
        services.update_need(actor=personas.owner, need=need, status="nonsense")
    assert exc.value.fields == {"status": ["状态“nonsense”不在可选值中。"]}


def test_need_cannot_be_met_before_it_was_found(personas, doctor):
    need = NeedFactory(professional=doctor, found_on=dt.date(2026, 1, 5))
    with pytest.raises(DomainError) as exc:
        services.update_need(actor=personas.owner, need=need, status="met", met_on=dt.date(2025, 12, 1))
    assert exc.value.message == "满足日期不能早于发现日期（2026-01-05）。"
    need.refresh_from_db()
    assert not need.met


# --- Confirmation ---------------------------------------------------------------------------------------


def test_confirm_profile_marks_filled_fields_today(personas, doctor):
    services.update_professional(actor=personas.owner, professional=doctor, changes={"interests": "跑步"})
    doctor.refresh_from_db()
    doctor.confirmed_fields = {}
    doctor.save()
    confirmed = services.confirm_profile(actor=personas.owner, professional=doctor)
    doctor.refresh_from_db()
    assert "interests" in confirmed and "department" in confirmed
    assert "needs" not in confirmed  # nothing recorded yet: cannot be confirmed
    with pytest.raises(DomainError) as exc:
        services.confirm_profile(actor=personas.owner, professional=doctor, fields=["needs"])
    assert exc.value.message == "这些字段还没有内容，无法确认：需求"
    with pytest.raises(DomainError):
        services.confirm_profile(actor=personas.owner, professional=doctor, fields=["prescription_count"])


def test_secondary_affiliation_of_hidden_institution_names_the_field(personas, doctor):
    hidden = InstitutionFactory(territory=personas.outside_territory)
    with pytest.raises(DomainError) as exc:
        services.add_affiliation(actor=personas.owner, professional=doctor, institution=hidden)
    assert list(exc.value.fields) == ["institution"]
    assert not AffiliationFactory._meta.model.objects.filter(institution=hidden).exists()


def test_division_codes_and_rows_are_both_accepted(personas):
    inst = services.create_institution(
        actor=personas.owner,
        name="天坛医院",
        kind="hospital",
        province=Division.objects.get(pk="11"),
        city="1101",
        territory=personas.own_territory.pk,
    )
    assert inst.city_id == "1101" and inst.territory == personas.own_territory
