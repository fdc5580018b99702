"""Segmentation: the condition language, explanations, overrides that survive recompute, and the background recompute."""

import pytest
from django.test import Client
from django.urls import reverse

from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.models import Role
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.customers import segmentation, services
from pharmacrm.customers.models import Professional, Segment, SegmentationRule, SegmentationRun
from pharmacrm.customers.tests.factories import InstitutionFactory, ProfessionalFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def head(personas):
    """A department head at a grade-3A hospital with high potential: key, by the default rules."""
    hospital = InstitutionFactory(name="北京协和医院", grade="3a", territory=personas.own_territory)
    return services.create_professional(
        actor=personas.owner,
        name="李主任",
        role=Professional.Role.DEPARTMENT_HEAD,
        institution=hospital,
        prescribing_potential=Professional.Potential.HIGH,
    )


def test_default_rules_explain_the_tier(head):
    segment = Segment.objects.get(professional=head, dimension="tier")
    assert head.tier == "key"
    assert segment.explanation == (
        "科室主任 · 三级甲等医院 · 处方潜力高 → 重要客户（规则：三级医院决策者 · 高处方潜力 → 重要客户）"
    )
    assert segment.inputs == {
        "institution.grade": "3a",
        "institution.kind": "hospital",
        "prescribing_potential": "high",
        "role": "department_head",
    }
    assert segment.rule.name == "三级医院决策者 · 高处方潜力 → 重要客户"


def test_changing_an_input_moves_the_tier_and_keeps_the_history(personas, head):
    services.update_professional(
        actor=personas.owner, professional=head, changes={"prescribing_potential": "medium"}
    )
    head.refresh_from_db()
    assert head.tier == "potential"
    tiers = list(head.history.order_by("history_id").values_list("tier", flat=True))
    assert tiers[-2:] == ["key", "potential"]
    explanation = Segment.objects.get(professional=head, dimension="tier").explanation
    assert explanation == "处方潜力中 → 潜在客户（规则：高或中处方潜力 → 潜在客户）"


def test_override_needs_a_reason_and_changes_nothing_without_one(personas, head):
    segment = Segment.objects.get(professional=head, dimension="tier")
    before = (Segment.history.count(), Professional.history.count())
    with pytest.raises(DomainError) as exc:
        segmentation.override_segment(
            actor=personas.district_manager, professional=head, dimension="tier", value="general", reason="  "
        )
    assert exc.value.message == "人工调整必须填写原因。"
    assert exc.value.fields == {"override_reason": ["请说明调整原因。"]}
    segment.refresh_from_db()
    head.refresh_from_db()
    assert (segment.override_value, head.tier) == ("", "key")
    assert (Segment.history.count(), Professional.history.count()) == before


def test_reps_cannot_override(personas, head):
    with pytest.raises(NotAllowed):
        segmentation.override_segment(
            actor=personas.owner, professional=head, dimension="tier", value="general", reason="x"
        )


def test_override_survives_recompute_and_clearing_restores_the_computed_value(personas, head):
    segmentation.override_segment(
        actor=personas.district_manager,
        professional=head,
        dimension="tier",
        value="general",
        reason="已退休返聘，不再参与科室决策",
    )
    head.refresh_from_db()
    assert head.tier == "general"
    record = Segment.history.filter(professional_id=head.pk).order_by("-history_id").first()
    assert record.history_change_reason == "已退休返聘，不再参与科室决策"
    assert record.history_user == personas.district_manager

    run = SegmentationRun.objects.create(started_by=UserFactory(roles=[Role.ADMIN]))
    segmentation.run_recompute(run.pk)
    head.refresh_from_db()
    segment = Segment.objects.get(professional=head, dimension="tier")
    assert (head.tier, segment.computed_value, segment.override_value) == ("general", "key", "general")

    segmentation.clear_override(actor=personas.district_manager, professional=head, dimension="tier")
    head.refresh_from_db()
    assert head.tier == "key"


def test_override_by_api_and_unknown_value_is_refused(personas, head):
    client = Client()
    client.force_login(personas.district_manager)
    url = f"/api/v1/professionals/{head.pk}/segments/tier/override"
    bad = client.put(url, {"value": "vip", "reason": "x"}, content_type="application/json")
    assert bad.status_code == 400
    assert "vip" in bad.json()["error"]["message"]
    ok = client.put(url, {"value": "潜在客户", "reason": "新院区尚未开诊"}, content_type="application/json")
    assert ok.status_code == 200
    assert ok.json()["value"] == "potential"


def test_recompute_runs_in_batches_with_progress(personas, django_capture_on_commit_callbacks):
    hospital = InstitutionFactory(grade="3a", territory=personas.own_territory)
    for i in range(7):
        ProfessionalFactory(
            institution=hospital,
            name=f"医生{i}",
            role="department_head",
            prescribing_potential="high",
            tier="general",
        )
    admin = UserFactory(roles=[Role.ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        run = segmentation.start_recompute(actor=admin)
    run.refresh_from_db()
    assert (run.status, run.processed, run.total, run.changed) == ("done", 7, 7, 7)
    assert set(Professional.objects.values_list("tier", flat=True)) == {"key"}
    assert Segment.objects.filter(dimension="tier", rule__isnull=False).count() == 7
    # Idempotent: running the finished run again changes nothing.
    assert segmentation.run_recompute(run.pk).changed == 7
    again = SegmentationRun.objects.create(started_by=admin)
    assert segmentation.run_recompute(again.pk, batch_size=3).changed == 0


def test_recompute_page_polls_progress(personas, django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(personas.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("customers:recompute"))
    assert response.status_code == 302
    run = SegmentationRun.objects.get()
    partial = client.get(reverse("customers:run_progress", args=[run.pk]), headers={"HX-Request": "true"})
    assert partial.status_code == 286  # finished: htmx stops polling
    assert "已完成" in partial.content.decode()


# --- The condition language ------------------------------------------------------------------------


def test_bad_rule_conditions_are_refused_naming_the_problem(personas):
    count = SegmentationRule.objects.count()
    cases = [
        (
            [{"field": "prescriptions", "op": "gte", "value": 100}],
            "conditions.0.field",
            "未知字段“prescriptions”",
        ),
        ([{"field": "role", "op": "like", "value": "x"}], "conditions.0.op", "未知运算“like”"),
        ([{"field": "role", "op": "eq", "value": "doctor"}], "conditions.0.value", "“doctor”不是可选值"),
        ([{"field": "influence_academic", "op": "gte", "value": 9}], "conditions.0.value", "9 超出范围 1–5"),
        ([{"field": "role", "op": "gte", "value": "physician"}], "conditions.0.value", "不能比较大小"),
    ]
    for conditions, key, text in cases:
        with pytest.raises(DomainError) as exc:
            segmentation.save_rule(
                actor=personas.admin,
                name="测试",
                dimension="tier",
                priority=5,
                conditions=conditions,
                result="key",
            )
        assert key in exc.value.fields, exc.value.fields
        assert text in exc.value.message
    with pytest.raises(DomainError) as exc:
        segmentation.save_rule(
            actor=personas.admin, name="测试", dimension="tier", priority=5, conditions=[], result="high"
        )
    assert exc.value.fields["result"]
    assert SegmentationRule.objects.count() == count


def test_only_admins_edit_rules(personas):
    with pytest.raises(NotAllowed):
        segmentation.save_rule(
            actor=personas.regional_manager,
            name="x",
            dimension="tier",
            priority=1,
            conditions=[],
            result="key",
        )
    client = Client()
    client.force_login(personas.regional_manager)
    assert client.get(reverse("customers:rule_list")).status_code == 403


def test_labels_are_accepted_and_stored_as_codes_and_overlaps_are_reported(personas):
    rule, warnings = segmentation.save_rule(
        actor=personas.admin,
        name="三级医院的学术带头人",
        dimension="tier",
        priority=10,
        conditions=[
            {"field": "institution.grade", "op": "gte", "value": "三级"},
            {"field": "influence_academic", "op": "gte", "value": "4"},
            {"field": "role", "op": "in", "value": "科室主任，院长"},
        ],
        result="重要客户",
    )
    assert rule.conditions == [
        {"field": "institution.grade", "op": "gte", "value": "3"},
        {"field": "influence_academic", "op": "gte", "value": 4},
        {"field": "role", "op": "in", "value": ["department_head", "president"]},
    ]
    assert rule.result == "key"
    assert any("优先级相同（10）" in w for w in warnings)
    _dup, warnings = segmentation.save_rule(
        actor=personas.admin, name="兜底2", dimension="tier", priority=950, conditions=[], result="potential"
    )
    assert any("条件相同但结果不同" in w for w in warnings)
    assert any("永远不会生效" in w for w in warnings)


def test_ordered_comparison_on_grade_and_numbers(personas):
    segmentation.save_rule(
        actor=personas.admin,
        name="学术带头人",
        dimension="tier",
        priority=5,
        conditions=[
            {"field": "institution.grade", "op": "gte", "value": "3"},
            {"field": "influence_academic", "op": "gte", "value": 4},
        ],
        result="key",
    )
    grade2 = ProfessionalFactory(institution=InstitutionFactory(grade="2a"), influence_academic=5)
    grade3 = ProfessionalFactory(institution=InstitutionFactory(grade="3b"), influence_academic=4)
    rules = segmentation.active_rules()
    assert segmentation.evaluate(grade2, "tier", rules["tier"]).value == "general"
    outcome = segmentation.evaluate(grade3, "tier", rules["tier"])
    assert outcome.value == "key"
    assert outcome.explanation == "三级乙等医院（≥三级） · 学术影响力4（≥4） → 重要客户（规则：学术带头人）"


def test_a_rule_driven_dimension_is_not_edited_directly(personas, head):
    segmentation.save_rule(
        actor=personas.admin,
        name="学术影响力高 → 高潜力",
        dimension="prescribing_potential",
        priority=10,
        conditions=[{"field": "influence_academic", "op": "gte", "value": 4}],
        result="high",
    )
    with pytest.raises(DomainError) as exc:
        services.update_professional(
            actor=personas.owner, professional=head, changes={"prescribing_potential": "initial"}
        )
    assert "由分类规则计算" in exc.value.message


def test_disabled_rules_do_not_apply(personas, head):
    key_rule = SegmentationRule.objects.get(result="key")
    segmentation.set_rule_active(actor=personas.admin, rule=key_rule, is_active=False)
    run = SegmentationRun.objects.create(started_by=personas.admin)
    segmentation.run_recompute(run.pk)
    head.refresh_from_db()
    assert head.tier == "potential"


def test_a_memo_gives_every_professional_the_outcome_it_would_get_alone(personas):
    hospital = InstitutionFactory(grade="3a", territory=personas.own_territory)
    clinic = InstitutionFactory(grade="ungraded", territory=personas.own_territory)
    people = [
        ProfessionalFactory(institution=place, role=role, prescribing_potential=potential)
        for place in (hospital, clinic)
        for role in (Professional.Role.DEPARTMENT_HEAD, Professional.Role.PHYSICIAN)
        for potential in (Professional.Potential.HIGH, Professional.Potential.INITIAL)
    ] * 2
    rules = segmentation.active_rules()["tier"]
    memo: segmentation.OutcomeMemo = {}
    for person in people:
        alone = segmentation.evaluate(person, "tier", rules)
        remembered = segmentation.evaluate(person, "tier", rules, memo=memo)
        assert (remembered.value, remembered.rule, remembered.explanation, remembered.inputs) == (
            alone.value,
            alone.rule,
            alone.explanation,
            alone.inputs,
        )
    # Eight combinations of the inputs the tier rules read, each evaluated once.
    assert len(memo) == 8
    # Each outcome has its own inputs (they are stored on each professional's segment).
    first, second = (segmentation.evaluate(people[0], "tier", rules, memo=memo) for _ in range(2))
    assert first.inputs == second.inputs
    assert first.inputs is not second.inputs
