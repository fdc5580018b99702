"""The adverse-event watch: shipped words, configurable words, the signal and its triage by service/compliance."""

from __future__ import annotations

import pytest
from django.http import Http404

from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.models import Role
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.engagement import safety, visits
from pharmacrm.engagement.models import AdverseEventTerm, SafetySignal
from pharmacrm.engagement.tests.visit_world import World, at

pytestmark = pytest.mark.django_db


def record(world: World, **report: object) -> visits.VisitOutcome:
    return visits.record_visit(
        actor=world.rep,
        institution=world.hospital,
        starts_at=at(world.yesterday, 10),
        report=world.report(**report),
    )


def test_default_words_are_shipped():
    shipped = set(AdverseEventTerm.objects.values_list("term", flat=True))
    assert {"不良反应", "过敏", "副作用", "皮疹", "头晕", "恶心", "肝损伤"} <= shipped


def test_words_are_configurable(world: World):
    AdverseEventTerm.objects.filter(term="头晕").update(is_active=False)
    AdverseEventTerm.objects.create(term="胸闷")
    outcome = record(world, notes="患者偶有头晕，另诉胸闷")
    assert SafetySignal.objects.get().terms == "胸闷"
    assert "胸闷" in outcome.flags[0] and "头晕" not in outcome.flags[0]


def test_signal_excerpt_names_where_the_words_were(world: World):
    record(world, notes="主任提到一例过敏", feedback="担心副作用")
    signal = SafetySignal.objects.get()
    assert signal.terms == "过敏、副作用"
    assert "备注：主任提到一例过敏" in signal.excerpt and "客户反馈：担心副作用" in signal.excerpt


def test_triage_by_service_and_compliance_only(world: World):
    record(world, feedback="出现皮疹")
    signal = SafetySignal.objects.get()
    service = UserFactory(username="svc", roles=[Role.SERVICE])
    with pytest.raises(NotAllowed):
        safety.triage_signal(actor=world.rep, signal=signal, status="triaged")
    with pytest.raises(DomainError) as exc:
        safety.triage_signal(actor=service, signal=signal, status="new")
    assert "status" in exc.value.fields
    with pytest.raises(DomainError) as exc:
        safety.triage_signal(actor=service, signal=signal, status="not_ae")
    assert "理由" in exc.value.message
    signal.refresh_from_db()
    assert signal.status == SafetySignal.Status.NEW and signal.history.count() == 1
    safety.triage_signal(actor=service, signal=signal, status="reported", note="已按个例报告上报")
    signal.refresh_from_db()
    assert (signal.status, signal.handled_by, signal.note) == ("reported", service, "已按个例报告上报")
    assert signal.history.first().history_user == service


def test_hidden_signal_is_not_found_for_triage(world: World):
    record(world, feedback="出现皮疹")
    signal = SafetySignal.objects.get()
    compliance_in_name_only = UserFactory(username="c2", roles=[Role.SERVICE], is_active=False)
    with pytest.raises((Http404, NotAllowed)):
        safety.triage_signal(actor=compliance_in_name_only, signal=signal, status="triaged")


def test_find_terms_in_order():
    assert safety.find_terms("先头晕后恶心再头晕", ["恶心", "头晕", "皮疹"]) == ["头晕", "恶心"]
