"""Writes: what is allowed, what is refused (message AND nothing changed), and the audit trail."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from pharmacrm.channels import metrics, services
from pharmacrm.channels.models import (
    Agreement,
    AgreementTarget,
    ChannelPartner,
    ChannelReview,
    Licence,
    LicenceAlert,
    RebateTier,
    Scorecard,
    ScorecardMetric,
)
from pharmacrm.channels.tests.factories import (
    ContactFactory,
    LicenceFactory,
    PartnerFactory,
    division,
    standard_scorecard,
)
from pharmacrm.commercial.tests.factories import ProductFactory
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.core.models import Role
from pharmacrm.core.testing import Personas
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.customers.models import Institution
from pharmacrm.customers.tests.factories import InstitutionFactory

pytestmark = pytest.mark.django_db


def _partner(p: Personas, **kwargs: Any) -> Any:
    return PartnerFactory(institution__territory=p.own_territory, org_unit=p.team_n1a, **kwargs)


# --- Partners --------------------------------------------------------------------------------------


def test_create_partner_from_existing_distributor(personas: Personas) -> None:
    inst: Any = InstitutionFactory(
        kind=Institution.Kind.DISTRIBUTOR, territory=personas.own_territory, grade=Institution.Grade.UNGRADED
    )
    partner = services.create_partner(
        actor=personas.owner,
        code="gk-bj",
        institution=inst,
        org_unit=personas.team_n1a,
        manager=personas.owner,
    )
    assert (partner.code, partner.kind, partner.manager) == (
        "GK-BJ",
        ChannelPartner.Kind.DISTRIBUTOR,
        personas.owner,
    )
    record = partner.history.get()
    assert record.history_user == personas.owner


def test_create_partner_with_a_new_pharmacy_institution(personas: Personas) -> None:
    division("11")
    partner = services.create_partner(
        actor=personas.director,
        code="LS01",
        org_unit=personas.team_n1a,
        new_institution={
            "name": "老百姓大药房（北京）连锁有限公司",
            "kind": Institution.Kind.PHARMACY,
            "province": "11",
        },
    )
    assert partner.institution.name.startswith("老百姓大药房")
    assert partner.kind == ChannelPartner.Kind.RETAIL_CHAIN


def test_create_partner_refuses_a_hospital(personas: Personas) -> None:
    hospital: Any = InstitutionFactory(territory=personas.own_territory)
    with pytest.raises(DomainError) as exc:
        services.create_partner(
            actor=personas.owner, code="X1", institution=hospital, org_unit=personas.team_n1a
        )
    assert "只有经销商、零售商或药店" in exc.value.message and hospital.name in exc.value.message
    assert ChannelPartner.objects.count() == 0


def test_create_partner_refuses_duplicate_code_and_hidden_institution(personas: Personas) -> None:
    _partner(personas, code="DUP")
    inst: Any = InstitutionFactory(
        kind=Institution.Kind.DISTRIBUTOR, territory=personas.own_territory, grade=Institution.Grade.UNGRADED
    )
    with pytest.raises(Conflict) as exc:
        services.create_partner(
            actor=personas.owner, code="dup", institution=inst, org_unit=personas.team_n1a
        )
    assert "DUP" in exc.value.message
    hidden: Any = InstitutionFactory(
        kind=Institution.Kind.DISTRIBUTOR,
        territory=personas.outside_territory,
        grade=Institution.Grade.UNGRADED,
    )
    from django.http import Http404

    with pytest.raises(Http404):
        services.create_partner(
            actor=personas.owner, code="NEW", institution=hidden, org_unit=personas.team_n1a
        )
    assert ChannelPartner.objects.count() == 1


def test_compliance_and_rep_cannot_write(personas: Personas, rep: Any) -> None:
    officer = UserFactory(username="officer", org_unit=personas.company, roles=[Role.COMPLIANCE])
    partner = _partner(personas)
    for user in (officer, rep):
        with pytest.raises(NotAllowed):
            services.add_contact(actor=user, partner=partner, name="张三")
    assert partner.contacts.count() == 0


# --- Contacts --------------------------------------------------------------------------------------


def test_contact_masked_for_roles_that_do_not_manage_partners(personas: Personas) -> None:
    contact: Any = ContactFactory(partner=_partner(personas), phone="13812345678", email="chen@example.cn")
    officer = UserFactory(username="officer", org_unit=personas.company, roles=[Role.COMPLIANCE])
    assert services.contact_details(contact=contact, user=personas.owner) == {
        "phone": "13812345678",
        "email": "chen@example.cn",
    }
    masked = services.contact_details(contact=contact, user=officer)
    assert (
        masked["phone"] == "138****5678"
        and masked["email"] != "chen@example.cn"
        and "****" in masked["email"]
    )


def test_contact_refuses_bad_phone(personas: Personas) -> None:
    partner = _partner(personas)
    with pytest.raises(DomainError) as exc:
        services.add_contact(actor=personas.owner, partner=partner, name="陈", phone="call me")
    assert exc.value.fields == {"phone": ["电话号码格式不正确：call me"]}
    assert partner.contacts.count() == 0


# --- Licences and alerts -------------------------------------------------------------------------


def test_licence_expiry_before_issue_is_refused(personas: Personas) -> None:
    partner = _partner(personas)
    with pytest.raises(DomainError) as exc:
        services.add_licence(
            actor=personas.owner,
            partner=partner,
            kind=Licence.Kind.GSP,
            number="A-1",
            issued_on=dt.date(2026, 5, 1),
            expires_on=dt.date(2026, 4, 1),
        )
    assert "2026-04-01" in exc.value.message and "2026-05-01" in exc.value.message
    assert Licence.objects.count() == 0


def test_licence_alerts_are_recorded_once_and_again_after_renewal(personas: Personas) -> None:
    partner = _partner(personas)
    soon: Any = LicenceFactory(partner=partner, expires_on=dt.date(2026, 6, 10))
    LicenceFactory(partner=partner, expires_on=dt.date(2027, 6, 10))  # far away
    on = dt.date(2026, 5, 1)
    first = services.record_licence_alerts(on=on, within_days=60)
    assert [a.licence for a in first] == [soon] and first[0].days_left == 40
    assert services.record_licence_alerts(on=on, within_days=60) == []  # idempotent
    assert LicenceAlert.objects.count() == 1

    from pharmacrm.channels import selectors

    assert list(selectors.open_licence_alerts(user=personas.owner)) == first
    assert list(selectors.open_licence_alerts(user=personas.colleague)) == []
    services.update_licence(actor=personas.owner, licence=soon, changes={"expires_on": dt.date(2026, 6, 30)})
    assert list(selectors.open_licence_alerts(user=personas.owner)) == []  # renewed: old alert no longer open
    assert len(services.record_licence_alerts(on=on, within_days=60)) == 1


def test_licence_alert_task_runs_through_the_tasks_api(personas: Personas) -> None:
    from pharmacrm.channels.tasks import record_licence_alerts_task

    LicenceFactory(partner=_partner(personas), expires_on=dt.date(2026, 6, 10))
    result = record_licence_alerts_task.enqueue("2026-05-01", 60)
    assert result.return_value == 1
    assert LicenceAlert.objects.get().raised_on == dt.date(2026, 5, 1)


# --- Agreements ------------------------------------------------------------------------------------


def _agreement_kwargs(**overrides: Any) -> dict[str, Any]:
    division("11")
    kwargs: dict[str, Any] = {
        "code": "AG-1",
        "start": dt.date(2026, 1, 1),
        "end": dt.date(2026, 12, 31),
        "regions": ["11"],
        "products": [],
        "targets": [
            {"year": 2026, "quarter": 1, "amount": "1200000"},
            {"year": 2026, "quarter": 2, "volume": "50000"},
        ],
        "rebate_tiers": [{"threshold": "90", "rate": "1"}, {"threshold": "100", "rate": "2.5"}],
        "status": Agreement.Status.ACTIVE,
    }
    kwargs.update(overrides)
    return kwargs


def test_create_agreement_with_targets_and_tiers(personas: Personas) -> None:
    partner = _partner(personas)
    product: Any = ProductFactory()
    agreement = services.create_agreement(
        actor=personas.owner, partner=partner, **_agreement_kwargs(products=[product.pk])
    )
    assert list(agreement.regions.values_list("code", flat=True)) == ["11"]
    assert [(t.year, t.quarter, t.amount, t.volume) for t in agreement.targets.all()] == [
        (2026, 1, Decimal("1200000.00"), None),
        (2026, 2, None, Decimal("50000.00")),
    ]
    assert [(t.threshold, t.rate) for t in agreement.rebate_tiers.all()] == [
        (Decimal("90.00"), Decimal("1.00")),
        (Decimal("100.00"), Decimal("2.50")),
    ]
    # One historical row for the insert, one per many-to-many set; all name the actor.
    assert {h.history_user for h in agreement.history.all()} == {personas.owner}


def test_overlapping_active_agreement_for_same_product_is_refused(personas: Personas) -> None:
    partner = _partner(personas)
    product: Any = ProductFactory(generic_name="沙库巴曲缬沙坦", brand_name="")
    other: Any = ProductFactory()
    services.create_agreement(
        actor=personas.owner, partner=partner, **_agreement_kwargs(products=[product.pk])
    )
    before = (Agreement.objects.count(), AgreementTarget.objects.count(), RebateTier.objects.count())
    with pytest.raises(Conflict) as exc:
        services.create_agreement(
            actor=personas.owner,
            partner=partner,
            **_agreement_kwargs(
                code="AG-2",
                start=dt.date(2026, 7, 1),
                end=dt.date(2027, 6, 30),
                products=[product.pk, other.pk],
            ),
        )
    assert (
        "AG-1" in exc.value.message and "沙库巴曲缬沙坦" in exc.value.message and "重叠" in exc.value.message
    )
    assert exc.value.fields["products"]
    assert (Agreement.objects.count(), AgreementTarget.objects.count(), RebateTier.objects.count()) == before
    # A draft, another product, or the next year is fine.
    services.create_agreement(
        actor=personas.owner,
        partner=partner,
        **_agreement_kwargs(code="AG-3", products=[product.pk], status="draft"),
    )
    services.create_agreement(
        actor=personas.owner, partner=partner, **_agreement_kwargs(code="AG-4", products=[other.pk])
    )
    services.create_agreement(
        actor=personas.owner,
        partner=partner,
        **_agreement_kwargs(
            code="AG-5",
            products=[product.pk],
            start=dt.date(2027, 1, 1),
            end=dt.date(2027, 12, 31),
            targets=[],
        ),
    )
    # Activating the draft now clashes.
    draft = Agreement.objects.get(code="AG-3")
    with pytest.raises(Conflict):
        services.update_agreement(actor=personas.owner, agreement=draft, changes={"status": "active"})
    draft.refresh_from_db()
    assert draft.status == Agreement.Status.DRAFT


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"end": dt.date(2025, 12, 31)}, "end", "不能早于开始日期"),
        ({"regions": ["99"]}, "regions", "未知的行政区划代码：99"),
        ({"targets": [{"year": 2027, "quarter": 1, "amount": "1"}]}, "targets", "2027Q1 不在协议期内"),
        ({"targets": [{"year": 2026, "quarter": 1, "amount": "abc"}]}, "targets", "必须是数字：abc"),
        ({"targets": [{"year": 2026, "quarter": 1}]}, "targets", "至少填一项"),
        (
            {"rebate_tiers": [{"threshold": "90", "rate": "3"}, {"threshold": "100", "rate": "2"}]},
            "rebate_tiers",
            "递增",
        ),
        ({"rebate_tiers": [{"threshold": "90", "rate": "120"}]}, "rebate_tiers", "0到100"),
    ],
)
def test_bad_agreement_input_is_refused_and_nothing_written(
    personas: Personas, overrides: dict[str, Any], field: str, fragment: str
) -> None:
    partner = _partner(personas)
    product: Any = ProductFactory()
    with pytest.raises(DomainError) as exc:
        services.create_agreement(
            actor=personas.owner, partner=partner, **_agreement_kwargs(products=[product.pk], **overrides)
        )
    assert fragment in exc.value.message and field in exc.value.fields
    assert Agreement.objects.count() == 0 and AgreementTarget.objects.count() == 0


def test_update_agreement_replaces_targets_and_is_audited(personas: Personas) -> None:
    partner = _partner(personas)
    product: Any = ProductFactory()
    agreement = services.create_agreement(
        actor=personas.owner, partner=partner, **_agreement_kwargs(products=[product.pk])
    )
    services.update_agreement(
        actor=personas.district_manager,
        agreement=agreement,
        changes={
            "targets": [{"year": 2026, "quarter": 3, "amount": "900000"}],
            "regions": ["11", division("1201").code],
        },
    )
    assert [(t.year, t.quarter) for t in agreement.targets.all()] == [(2026, 3)]
    assert set(agreement.regions.values_list("code", flat=True)) == {"11", "1201"}
    assert agreement.history.latest().history_user == personas.district_manager


# --- Scorecards ------------------------------------------------------------------------------------


def test_scorecard_weights_must_sum_to_100(personas: Personas) -> None:
    rows = [
        {"code": "sales_vs_target", "weight": "60", "target": "100", "floor": "60"},
        {"code": "payment_timeliness", "weight": "30", "target": "100", "floor": "80"},
    ]
    with pytest.raises(DomainError) as exc:
        services.save_scorecard(actor=personas.owner, name="季度评估", metrics=rows)
    assert exc.value.message == "各指标权重之和须为100，现为 90。"
    assert Scorecard.objects.count() == 0 and ScorecardMetric.objects.count() == 0
    rows[1]["weight"] = "40"
    card = services.save_scorecard(actor=personas.owner, name="季度评估", metrics=rows)
    assert [m.code for m in card.metrics.all()] == ["sales_vs_target", "payment_timeliness"]


def test_scorecard_refuses_unknown_metric_without_label_and_reps(personas: Personas, rep: Any) -> None:
    rows = [{"code": "mystery", "weight": "100", "target": "1", "floor": "0"}]
    with pytest.raises(DomainError) as exc:
        services.save_scorecard(actor=personas.owner, name="X", metrics=rows)
    assert "mystery" in exc.value.message
    with pytest.raises(NotAllowed):
        services.save_scorecard(actor=personas.district_manager, name="X", metrics=rows)
    rows[0]["label"] = "市场活动配合"
    card = services.save_scorecard(actor=personas.owner, name="X", metrics=rows)
    assert card.metrics.get().label == "市场活动配合"


# --- Reviews ---------------------------------------------------------------------------------------


@pytest.fixture
def fake_coverage() -> Any:
    metrics.register_metric(
        "fake_coverage",
        label="覆盖终端数",
        unit="家",
        compute=lambda *, partner, start, end: metrics.MetricValue(Decimal(45), f"{start}~{end} 覆盖 45 家"),
    )
    yield
    metrics.unregister_metric("fake_coverage")


def _card_with_fake() -> Scorecard:
    from pharmacrm.channels.tests.factories import ScorecardFactory, ScorecardMetricFactory

    card: Any = ScorecardFactory()
    ScorecardMetricFactory(
        scorecard=card, code="fake_coverage", weight=Decimal(50), target=Decimal(50), floor=Decimal(30)
    )
    ScorecardMetricFactory(
        scorecard=card,
        code="payment_timeliness",
        weight=Decimal(50),
        target=Decimal(100),
        floor=Decimal(80),
        position=2,
    )
    return card


def test_review_workflow_prefill_enter_submit_approve(personas: Personas, fake_coverage: Any) -> None:
    _card_with_fake()
    partner = _partner(personas)
    review = services.create_review(actor=personas.owner, partner=partner, year=2026, quarter=1)
    auto, manual = list(review.scores.all())
    assert (auto.value, auto.score, auto.detail) == (
        Decimal(45),
        Decimal("75.00"),
        "2026-01-01~2026-03-31 覆盖 45 家",
    )
    assert manual.manual and manual.value is None
    assert review.total_score == Decimal("75.00")  # only the measured line so far

    with pytest.raises(DomainError) as exc:
        services.submit_review(actor=personas.owner, review=review)
    assert "回款及时率" in exc.value.message

    services.update_review(
        actor=personas.owner, review=review, values={"payment_timeliness": "90"}, comments="回款偏慢"
    )
    review.refresh_from_db()
    assert review.total_score == Decimal("62.50")  # 75×50% + 50×50%
    services.submit_review(actor=personas.owner, review=review)

    with pytest.raises(NotAllowed):  # commercial cannot approve
        services.decide_review(actor=personas.colleague, review=review, approve=True)
    services.decide_review(actor=personas.district_manager, review=review, approve=True)
    review.refresh_from_db()
    assert (review.status, review.approved_by) == (ChannelReview.Status.APPROVED, personas.district_manager)
    assert review.history.latest().history_user == personas.district_manager

    # Locked after approval.
    with pytest.raises(Conflict) as locked:
        services.update_review(actor=personas.owner, review=review, values={"payment_timeliness": "100"})
    assert "已审批" in locked.value.message
    assert review.scores.get(code="payment_timeliness").value == Decimal(90)


def test_review_one_per_partner_and_quarter(personas: Personas, fake_coverage: Any) -> None:
    _card_with_fake()
    partner = _partner(personas)
    services.create_review(actor=personas.owner, partner=partner, year=2026, quarter=1)
    with pytest.raises(Conflict) as exc:
        services.create_review(actor=personas.owner, partner=partner, year=2026, quarter=1)
    assert "2026Q1" in exc.value.message
    assert ChannelReview.objects.count() == 1
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():  # the database holds the rule too
        ChannelReview.objects.create(
            partner=partner, scorecard=Scorecard.objects.get(), year=2026, quarter=1, reviewer=personas.owner
        )


def test_nobody_approves_their_own_review(personas: Personas) -> None:
    standard_scorecard()
    partner = _partner(personas)
    review = services.create_review(actor=personas.district_manager, partner=partner, year=2026, quarter=1)
    services.update_review(
        actor=personas.district_manager, review=review, values={"payment_timeliness": 95}, comments="ok"
    )
    services.submit_review(actor=personas.district_manager, review=review)
    with pytest.raises(NotAllowed) as exc:
        services.decide_review(actor=personas.district_manager, review=review, approve=True)
    assert "自己" in exc.value.message
    review.refresh_from_db()
    assert review.status == ChannelReview.Status.SUBMITTED
    services.decide_review(actor=personas.regional_manager, review=review, approve=False, note="补充说明")
    review.refresh_from_db()
    assert review.status == ChannelReview.Status.DRAFT and "补充说明" in review.comments


def test_review_of_a_future_quarter_or_without_scorecard_is_refused(personas: Personas) -> None:
    partner = _partner(personas)
    with pytest.raises(DomainError) as exc:
        services.create_review(actor=personas.owner, partner=partner, year=2026, quarter=1)
    assert "计分卡" in exc.value.message
    standard_scorecard()
    with pytest.raises(DomainError) as exc:
        services.create_review(actor=personas.owner, partner=partner, year=2099, quarter=1)
    assert "尚未开始" in exc.value.message
    assert ChannelReview.objects.count() == 0


def test_manual_value_on_automatic_metric_is_refused(personas: Personas, fake_coverage: Any) -> None:
    _card_with_fake()
    review = services.create_review(actor=personas.owner, partner=_partner(personas), year=2026, quarter=1)
    with pytest.raises(DomainError) as exc:
        services.update_review(actor=personas.owner, review=review, values={"fake_coverage": "99"})
    assert "由系统计算" in exc.value.message
    assert review.scores.get(code="fake_coverage").value == Decimal(45)
