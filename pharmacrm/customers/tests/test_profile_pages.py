"""The customer pages: the whole profile, inline validation, edit forms, and query counts that do not grow with rows."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from pharmacrm.core.models import Role
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.core.tests.query_counts import assert_flat_query_count
from pharmacrm.customers import services, timeline
from pharmacrm.customers.models import Institution, Need, Professional
from pharmacrm.customers.tests.factories import (
    AffiliationFactory,
    DepartmentFactory,
    InstitutionFactory,
    KeyDateFactory,
    NeedFactory,
    PlanFactory,
    ProfessionalFactory,
    StepFactory,
)

pytestmark = pytest.mark.django_db


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def hospital(personas):
    return InstitutionFactory(name="北京协和医院", territory=personas.own_territory)


@pytest.fixture
def doctor(personas, hospital):
    return services.create_professional(
        actor=personas.owner,
        name="张伟",
        role="department_head",
        institution=hospital,
        department=DepartmentFactory(institution=hospital, name="心内科"),
        prescribing_potential="high",
        mobile="13812345678",
        current_concerns="心衰患者的长期随访",
    )


def add_rows(doctor, owner, n):
    for i in range(n):
        NeedFactory(professional=doctor, description=f"需求{i}")
        KeyDateFactory(professional=doctor, month=i % 12 + 1, day=1)
        AffiliationFactory(
            professional=doctor, institution=InstitutionFactory(territory=doctor.institution.territory)
        )
        plan = PlanFactory(professional=doctor, owner=owner)
        StepFactory(plan=plan, done_on=dt.date(2026, 1, 2))
        services.update_professional(actor=owner, professional=doctor, changes={"interests": f"兴趣{i}"})


def test_professional_page_shows_the_whole_profile(personas, doctor):
    NeedFactory(professional=doctor, description="想了解 ARNI 的真实世界研究")
    html = client_for(personas.owner).get(doctor.get_absolute_url()).content.decode()
    for text in (
        "档案完善度",
        "分类依据",
        "科室主任 · 三级甲等医院 · 处方潜力高 → 重要客户",
        "想了解 ARNI 的真实世界研究",
        "重要纪念日",
        "执业关系",
        "开发计划",
        "360° 时间线",
        "建立档案",
        "13812345678",
        "心衰患者的长期随访",
    ):
        assert text in html, text
    assert 'data-testid="missing"' in html
    # Reps do not get the override form; managers do.
    assert "保存调整" not in html
    assert "保存调整" in client_for(personas.district_manager).get(doctor.get_absolute_url()).content.decode()


def test_contacts_are_masked_for_marketing(personas, doctor):
    html = client_for(UserFactory(roles=[Role.MARKETING])).get(doctor.get_absolute_url()).content.decode()
    assert "138****5678" in html and "13812345678" not in html
    assert "编辑档案" not in html


def test_professional_page_queries_do_not_grow_with_rows(personas, doctor, django_assert_max_num_queries):
    client = client_for(personas.owner)
    # Session, user, roles, scope (4); the professional; key dates, needs, affiliations, requirements,
    # segments, ruled dimensions, segment history, plans + steps (9); the policy's two reads and the
    # access-log row for the clear phone number (3); the org unit in the header; the affiliation
    # form's choices (3): 21. Then the timeline: the customers app's own sources take 5 (history,
    # needs, plans, steps, overrides); other apps' sources (listings, care reminders, visits …) at
    # most 2 each.
    others = len(
        [name for name in timeline.registered() if name not in ("profile", "needs", "plans", "segments")]
    )
    assert_flat_query_count(
        django_assert_max_num_queries,
        fetch=lambda: client.get(doctor.get_absolute_url()),
        add_rows=lambda n: add_rows(doctor, personas.owner, n),
        pinned=21 + 5 + 2 * others,
        small=1,
        large=6,
    )


LIST_QUERIES = {
    # session, user, roles, scope, org unit in the header, count, page (+ the to-fill requirements)
    "customers:professional_list": 7,
    "customers:institution_list": 8,
    "customers:to_fill": 8,
    "customers:plan_list": 7,
}


@pytest.mark.parametrize("url_name", list(LIST_QUERIES))
def test_lists_queries_do_not_grow_with_rows(personas, hospital, url_name, django_assert_max_num_queries):
    client = client_for(personas.owner)

    def make(n):
        for _ in range(n):
            inst = InstitutionFactory(territory=personas.own_territory)
            p = ProfessionalFactory(institution=inst, department=DepartmentFactory(institution=inst))
            StepFactory(plan=PlanFactory(professional=p, owner=personas.owner))

    assert_flat_query_count(
        django_assert_max_num_queries,
        fetch=lambda: client.get(reverse(url_name)),
        add_rows=make,
        pinned=LIST_QUERIES[url_name],
        small=2,
        large=12,
    )


def test_professional_list_filters(personas, hospital, doctor):
    other = ProfessionalFactory(institution=hospital, name="王医生", role="physician")
    client = client_for(personas.owner)
    html = client.get(reverse("customers:professional_list"), {"tier": "key"}).content.decode()
    assert "张伟" in html and "王医生" not in html
    html = client.get(reverse("customers:professional_list"), {"department": "心内"}).content.decode()
    assert "张伟" in html and other.name not in html
    html = client.get(
        reverse("customers:professional_list"), {"role": "physician", "prescribing_potential": "initial"}
    ).content.decode()
    assert "王医生" in html and "张伟" not in html


def test_inline_validation_reports_without_writing(personas, hospital, doctor):
    foreign = DepartmentFactory(
        institution=InstitutionFactory(name="北京朝阳医院", territory=personas.own_territory), name="呼吸科"
    )
    client = client_for(personas.owner)
    url = reverse("customers:professional_edit", args=[doctor.pk])
    form = client.get(url).context["form"]
    data = {name: form[name].value() or "" for name in form.fields if not form.fields[name].disabled}
    data.update(department=str(foreign.pk), _validate="1", interests="新的兴趣")
    before = Professional.history.count()
    response = client.post(url, data, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "科室“呼吸科”属于“北京朝阳医院”，不属于“北京协和医院”。" in html
    assert "<html" not in html  # only the form partial
    doctor.refresh_from_db()
    assert (doctor.interests, Professional.history.count()) == ("", before)
    # A real save with a valid department goes through and redirects.
    data.pop("_validate")
    data["department"] = str(doctor.department_id)
    response = client.post(url, data, headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.headers["HX-Redirect"] == doctor.get_absolute_url()
    doctor.refresh_from_db()
    assert doctor.interests == "新的兴趣"


def test_institution_form_refuses_a_grade_on_a_pharmacy(personas):
    client = client_for(personas.owner)
    response = client.post(
        reverse("customers:institution_create"),
        {
            "name": "老百姓大药房",
            "kind": "pharmacy",
            "grade": "3a",
            "ownership": "private",
            "province": "11",
            "territory": personas.own_territory.pk,
            "status": "active",
        },
    )
    assert response.status_code == 200
    assert "只有医院有等级：药房“老百姓大药房”不能设为“三级甲等”。" in response.content.decode()
    assert not Institution.objects.filter(name="老百姓大药房").exists()


def test_city_choices_follow_the_province(personas):
    client = client_for(personas.owner)
    response = client.post(
        reverse("customers:institution_create"),
        {"province": "13", "_validate": "1"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert "石家庄市" in html and "朝阳区" not in html


def test_key_date_form_shows_the_pipl_reason(personas, doctor):
    client = client_for(personas.owner)
    response = client.post(
        reverse("customers:key_date_create", args=[doctor.pk]),
        {"kd-kind": "birthday", "kd-month": "3", "kd-day": "8"},
        headers={"HX-Request": "true"},
    )
    assert "个人信息保护法第十三条" in response.content.decode()
    assert not doctor.key_dates.exists()


def test_need_status_and_override_from_the_page(personas, doctor):
    need = NeedFactory(professional=doctor)
    client = client_for(personas.owner)
    client.post(reverse("customers:need_status", args=[need.pk]), {"status": "met"})
    need.refresh_from_db()
    assert need.status == Need.Status.MET and need.met
    manager = client_for(personas.district_manager)
    url = reverse("customers:segment_override", args=[doctor.pk, "tier"])
    refused = manager.post(
        url, {"ov-tier-value": "general", "ov-tier-reason": ""}, headers={"HX-Request": "true"}
    )
    assert "人工调整必须填写原因" in refused.content.decode()
    ok = manager.post(
        url, {"ov-tier-value": "general", "ov-tier-reason": "长期病假"}, headers={"HX-Request": "true"}
    )
    assert ok.headers["HX-Redirect"] == doctor.get_absolute_url()
    doctor.refresh_from_db()
    assert doctor.tier == "general"
    assert client.post(url, {"ov-tier-value": "key", "ov-tier-reason": "x"}).status_code == 403


def test_institution_page_shows_coverage_to_managers_only(personas, hospital, doctor):
    ProfessionalFactory(institution=hospital, tier="potential")
    html = client_for(personas.district_manager).get(hospital.get_absolute_url()).content.decode()
    assert 'data-testid="coverage-key">1<' in html and 'data-testid="coverage-potential">1<' in html
    assert "覆盖情况" not in client_for(personas.owner).get(hospital.get_absolute_url()).content.decode()


def test_plan_pages(personas, doctor):
    client = client_for(personas.owner)
    response = client.post(
        reverse("customers:plan_create") + f"?professional={doctor.pk}",
        {"title": "推动心衰科室会", "due_on": "2099-12-31", "owner": personas.owner.pk},
    )
    plan = doctor.plans.get()
    assert response.status_code == 302 and plan.owner == personas.owner
    client.post(
        reverse("customers:step_create", args=[plan.pk]),
        {"step-title": "拜访科主任确认时间", "step-due_on": "2099-01-01"},
    )
    step = plan.steps.get()
    client.post(reverse("customers:step_toggle", args=[step.pk]))
    step.refresh_from_db()
    assert step.done_on is not None
    html = client.get(doctor.get_absolute_url()).content.decode()
    assert "推动心衰科室会" in html and "完成计划步骤" in html
    late = client.post(
        reverse("customers:step_create", args=[plan.pk]), {"step-title": "晚了", "step-due_on": "2100-01-01"}
    )
    assert "步骤截止日期不能晚于计划截止日期" in late.content.decode()


def test_rule_admin_pages(personas):
    client = client_for(personas.admin)
    assert "三级医院决策者" in client.get(reverse("customers:rule_list")).content.decode()
    data = {
        "name": "坏规则",
        "dimension": "tier",
        "priority": "5",
        "result": "key",
        "is_active": "on",
        "cond-TOTAL_FORMS": "2",
        "cond-INITIAL_FORMS": "0",
        "cond-0-field": "influence_academic",
        "cond-0-op": "gte",
        "cond-0-value": "9",
        "cond-1-field": "",
    }
    response = client.post(reverse("customers:rule_create"), data)
    assert "9 超出范围 1–5" in response.content.decode()
    data["cond-0-value"] = "4"
    assert client.post(reverse("customers:rule_create"), data).status_code == 302
