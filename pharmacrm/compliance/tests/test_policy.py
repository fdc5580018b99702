"""Each rule in the China set, tried and broken; a second set shows another jurisdiction differs."""

import datetime as dt

import pytest

from pharmacrm.compliance import policy, services
from pharmacrm.compliance.models import PolicyRule, PolicySet, RepRegistration
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed, RuleViolation
from pharmacrm.core.models import Role
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.customers.tests.factories import InstitutionFactory, ProfessionalFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 23)


def test_china_set_is_active_by_default():
    active = PolicySet.objects.get(is_active=True)
    assert active.code == "CN"
    assert "rep_must_be_registered" in policy.active_rules()


def test_unregistered_rep_cannot_record_a_visit(personas):
    decision = policy.check("visit.record", actor=personas.owner, on=TODAY)
    assert not decision.allowed
    assert decision.rule == "rep_must_be_registered"
    assert "医药代表须备案" in decision.message
    with pytest.raises(RuleViolation) as exc:
        policy.enforce("visit.record", actor=personas.owner, on=TODAY)
    assert exc.value.rule == "rep_must_be_registered"


def test_filed_rep_may_until_expiry(personas):
    services.record_registration(
        actor=personas.admin,
        rep=personas.owner,
        status=RepRegistration.Status.FILED,
        number="BA-2026-0001",
        filed_on=dt.date(2026, 1, 1),
        expires_on=dt.date(2026, 12, 31),
    )
    assert policy.check("visit.record", actor=personas.owner, on=TODAY).allowed
    assert not policy.check("visit.record", actor=personas.owner, on=dt.date(2027, 1, 1)).allowed
    # Managers and commercial staff are not reps: the filing rule does not apply to them.
    assert policy.check("visit.record", actor=personas.district_manager, on=TODAY).allowed


def test_registration_refusals_change_nothing(personas):
    with pytest.raises(DomainError) as exc:
        services.record_registration(actor=personas.admin, rep=personas.owner, status="filed", number="")
    assert set(exc.value.fields) == {"number", "filed_on"}
    with pytest.raises(NotAllowed):
        services.record_registration(
            actor=personas.owner, rep=personas.owner, status="filed", number="X", filed_on=TODAY
        )
    assert RepRegistration.objects.count() == 0
    assert RepRegistration.history.count() == 0


@pytest.mark.parametrize(
    ("kind", "amount", "rule"),
    [
        ("cash", "100", "forbidden_gift_kinds"),
        ("card", "200", "forbidden_gift_kinds"),
        ("gift", "50", "forbidden_gift_kinds"),
        ("meal", "301", "meal_cap_per_person"),
        ("sponsorship", "10", "permitted_gift_kinds"),
    ],
)
def test_gifts_and_hospitality_refused(personas, kind, amount, rule):
    decision = policy.check("gift.record", actor=personas.owner, kind=kind, amount_per_person=amount)
    assert not decision.allowed
    assert decision.rule == rule


def test_meal_within_cap_and_greetings_allowed(personas):
    assert policy.check("gift.record", actor=personas.owner, kind="meal", amount_per_person="300").allowed
    assert policy.check("gift.record", actor=personas.owner, kind="greeting", amount_per_person="0").allowed


def test_rep_never_holds_a_sales_amount_target(personas):
    decision = policy.check("target.assign", actor=personas.director, assignee_is_rep=True, measure="amount")
    assert decision.rule == "no_sales_target_for_rep"
    assert policy.check(
        "target.assign", actor=personas.director, assignee_is_rep=True, measure="coverage"
    ).allowed
    assert policy.check(
        "target.assign", actor=personas.director, assignee_is_rep=False, measure="amount"
    ).allowed


def test_no_one_sees_per_doctor_stats_and_department_stats_are_limited(personas):
    for persona in ("owner", "district_manager", "regional_manager", "director", "admin"):
        assert not policy.check(
            "prescription_stats.view", actor=personas[persona], level="professional"
        ).allowed
    assert not policy.check("prescription_stats.view", actor=personas.owner, level="department").allowed
    assert not policy.check(
        "prescription_stats.view", actor=personas.district_manager, level="department"
    ).allowed
    assert policy.check(
        "prescription_stats.view", actor=personas.regional_manager, level="department"
    ).allowed


def test_speaker_fee_cap_and_same_department():
    actor = UserFactory(roles=[Role.MARKETING])
    assert policy.check("speaker.fee", actor=actor, annual_total_after="50000").allowed
    assert (
        policy.check("speaker.fee", actor=actor, annual_total_after="50000.01").rule
        == "speaker_fee_annual_cap"
    )
    assert policy.check("speaker.fee", actor=actor, annual_total_after="10", same_department=True).rule == (
        "no_speaker_fee_same_department"
    )


def test_other_jurisdiction_differs(personas):
    services.activate_policy_set(actor=personas.admin, policy_set=PolicySet.objects.get(code="HK"))
    assert policy.check("visit.record", actor=personas.owner, on=TODAY).allowed
    assert policy.check("gift.record", actor=personas.owner, kind="meal", amount_per_person="450").allowed
    assert policy.check(
        "prescription_stats.view", actor=personas.district_manager, level="department"
    ).allowed
    assert PolicySet.objects.filter(is_active=True).count() == 1


def test_conflicting_rules_refused_and_nothing_changed(personas):
    china = PolicySet.objects.get(code="CN")
    before = PolicyRule.objects.get(policy_set=china, code="permitted_gift_kinds").params
    history_before = PolicyRule.history.count()
    with pytest.raises(Conflict) as exc:
        services.set_rule(
            actor=personas.admin,
            policy_set=china,
            code="permitted_gift_kinds",
            params={"kinds": ["meal", "cash"]},
        )
    assert "同时被禁止和允许" in exc.value.message
    with pytest.raises(Conflict):
        services.set_rule(
            actor=personas.admin,
            policy_set=china,
            code="no_per_doctor_prescription_stats",
            params={"allowed_roles": ["rep"]},
        )
    with pytest.raises(DomainError):
        services.set_rule(
            actor=personas.admin, policy_set=china, code="meal_cap_per_person", params={"amount": "-1"}
        )
    with pytest.raises(DomainError):
        services.set_rule(actor=personas.admin, policy_set=china, code="no_such_rule", params={})
    assert PolicyRule.objects.get(policy_set=china, code="permitted_gift_kinds").params == before
    assert PolicyRule.history.count() == history_before


def test_rule_change_takes_effect_and_is_audited(personas):
    china = PolicySet.objects.get(code="CN")
    services.set_rule(
        actor=personas.admin, policy_set=china, code="meal_cap_per_person", params={"amount": "200"}
    )
    assert policy.check("gift.record", actor=personas.owner, kind="meal", amount_per_person="250").rule == (
        "meal_cap_per_person"
    )
    assert PolicyRule.history.filter(code="meal_cap_per_person", history_type="~").exists()


def test_masking_for_marketing_only(personas):
    marketer = UserFactory(roles=[Role.MARKETING])
    assert policy.contacts_masked_for(marketer)
    assert not policy.contacts_masked_for(personas.owner)
    assert policy.mask("13812345678") == "138****5678"


def test_consent_gates_contact_and_withdrawal_stops_it(personas):
    professional = ProfessionalFactory(institution=InstitutionFactory(territory=personas.own_territory))
    facts = {"professional_id": professional.pk, "purpose": "contact", "channel": "wechat"}
    assert policy.check("contact", actor=personas.owner, **facts).rule == "consent_required_for_contact"
    consent = services.record_consent(
        actor=personas.owner,
        professional_id=professional.pk,
        purpose="contact",
        channel="wechat",
        source="paper",
        given_on=dt.date(2026, 1, 5),
    )
    assert policy.check("contact", actor=personas.owner, **facts).allowed
    assert not policy.check("contact", actor=personas.owner, **{**facts, "channel": "phone"}).allowed
    services.withdraw_consent(actor=personas.owner, consent_id=consent.pk)
    assert not policy.check("contact", actor=personas.owner, **facts).allowed


def test_refusal_inside_a_rolled_back_transaction_is_still_recorded(personas):
    from django.db import transaction

    from pharmacrm.compliance.models import ComplianceEvent

    with pytest.raises(RuleViolation), transaction.atomic():
        policy.enforce(
            "gift.record", actor=personas.owner, kind="cash", amount_per_person="100", subject="visit"
        )
    assert ComplianceEvent.objects.count() == 0  # rolled back with the business write…
    assert policy.flush_events() == 1  # …and written once the request is over
    event = ComplianceEvent.objects.get()
    assert (event.rule, event.actor, event.kind) == ("forbidden_gift_kinds", personas.owner, "refused")


# serialized_rollback restores the migrations' reference data (divisions, policy sets) after the flush.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_refusal_outside_a_transaction_is_recorded_at_once():
    from pharmacrm.core.testing import build_personas

    personas = build_personas()
    from pharmacrm.compliance.models import ComplianceEvent

    with pytest.raises(RuleViolation):
        policy.enforce("visit.record", actor=personas.owner, on=TODAY)
    assert ComplianceEvent.objects.filter(rule="rep_must_be_registered").count() == 1
