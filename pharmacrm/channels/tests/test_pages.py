"""The pages a commercial manager uses: lists (pinned query counts), create forms, the review workflow."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from pharmacrm.channels.models import Agreement, ChannelPartner, ChannelReview, Licence, Scorecard
from pharmacrm.channels.tests.factories import (
    AgreementFactory,
    ContactFactory,
    LicenceFactory,
    PartnerFactory,
    division,
    standard_scorecard,
)
from pharmacrm.commercial.tests.factories import ProductFactory
from pharmacrm.core.testing import Personas
from pharmacrm.customers.models import Institution
from pharmacrm.customers.tests.factories import InstitutionFactory

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _partners(p: Personas, n: int) -> list[Any]:
    return [PartnerFactory(institution__territory=p.own_territory, org_unit=p.team_n1a) for _ in range(n)]


@pytest.mark.parametrize(
    "url_name",
    ["channels:partner_list", "channels:review_list", "channels:agreement_list", "channels:licence_list"],
)
def test_list_query_count_does_not_grow(
    url_name: str, personas: Personas, django_assert_max_num_queries: Any
) -> None:
    standard_scorecard()
    for partner in _partners(personas, 12):
        AgreementFactory(partner=partner)
        LicenceFactory(partner=partner)
        ChannelReview.objects.create(
            partner=partner, scorecard=Scorecard.objects.get(), year=2026, quarter=1, reviewer=personas.owner
        )
    client = _client(personas.owner)
    # 7, whatever the number of rows: session, user, roles, territory scope, count, page rows, layout
    with django_assert_max_num_queries(7):
        response = client.get(reverse(url_name))
    assert response.status_code == 200
    assert "共 12 条" in response.content.decode()


def test_partner_list_filters_with_htmx(personas: Personas) -> None:
    a, b = _partners(personas, 2)
    response = _client(personas.owner).get(
        reverse("channels:partner_list"), {"q": a.code}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert a.code in body and b.code not in body and "<html" not in body


def test_partner_detail_shows_contacts_licences_agreements_and_chart(personas: Personas) -> None:
    (partner,) = _partners(personas, 1)
    ContactFactory(partner=partner, name="陈采购", phone="13812345678")
    LicenceFactory(partner=partner, number="京AA0000001")
    AgreementFactory(partner=partner, code="AG-PAGE")
    card = standard_scorecard()
    for q, total in ((1, "70"), (2, "82.5")):
        ChannelReview.objects.create(
            partner=partner,
            scorecard=card,
            year=2026,
            quarter=q,
            reviewer=personas.owner,
            total_score=Decimal(total),
        )
    body = _client(personas.owner).get(partner.get_absolute_url()).content.decode()
    for text in (
        "陈采购",
        "13812345678",
        "京AA0000001",
        "AG-PAGE",
        'data-echarts="review-chart"',
        "2026Q2",
        "82.5",
    ):
        assert text in body


def test_compliance_sees_masked_contact_phone(personas: Personas) -> None:
    from pharmacrm.core.models import Role
    from pharmacrm.core.tests.factories import UserFactory

    officer = UserFactory(username="officer", org_unit=personas.company, roles=[Role.COMPLIANCE])
    (partner,) = _partners(personas, 1)
    ContactFactory(partner=partner, phone="13812345678")
    body = _client(officer).get(partner.get_absolute_url()).content.decode()
    assert "138****5678" in body and "13812345678" not in body


def test_create_partner_through_the_form(personas: Personas) -> None:
    inst: Any = InstitutionFactory(
        kind=Institution.Kind.DISTRIBUTOR, grade=Institution.Grade.UNGRADED, territory=personas.own_territory
    )
    client = _client(personas.owner)
    assert client.get(reverse("channels:partner_create")).status_code == 200
    response = client.post(
        reverse("channels:partner_create"),
        {
            "institution": inst.pk,
            "code": "BJ-YY",
            "kind": "distributor",
            "status": "active",
            "org_unit": personas.team_n1a.pk,
        },
    )
    partner = ChannelPartner.objects.get(code="BJ-YY")
    assert response.status_code == 302 and response["Location"] == partner.get_absolute_url()


def test_create_partner_form_shows_refusal_and_writes_nothing(personas: Personas) -> None:
    response = _client(personas.owner).post(
        reverse("channels:partner_create"),
        {"code": "X", "kind": "distributor", "status": "active", "org_unit": personas.team_n1a.pk},
    )
    assert response.status_code == 200
    assert "请选择已有机构，或填写新机构信息" in response.content.decode()
    assert ChannelPartner.objects.count() == 0


def test_agreement_form_parses_targets_and_reports_bad_line(personas: Personas) -> None:
    (partner,) = _partners(personas, 1)
    division("11")
    product: Any = ProductFactory()
    client = _client(personas.owner)
    url = reverse("channels:agreement_create", args=[partner.pk])
    data = {
        "code": "AG-F",
        "start": "2026-01-01",
        "end": "2026-12-31",
        "status": "active",
        "regions": ["11"],
        "products": [product.pk],
        "targets": "2026Q1, 1000000,\n2026-2, 5",
        "rebate_tiers": "100, 2",
    }
    response = client.post(url, data)
    assert "第2行季度格式应为 2026Q1：2026-2" in response.content.decode()
    assert Agreement.objects.count() == 0
    data["targets"] = "2026Q1, 1000000,\n2026Q2, , 50000"
    response = client.post(url, data)
    agreement = Agreement.objects.get()
    assert response.status_code == 302
    assert [(t.quarter, t.amount, t.volume) for t in agreement.targets.all()] == [
        (1, Decimal("1000000.00"), None),
        (2, None, Decimal("50000.00")),
    ]


def test_scorecard_form_refuses_weights_not_100(personas: Personas) -> None:
    client = _client(personas.owner)
    response = client.post(
        reverse("channels:scorecard_create"),
        {"name": "卡", "applies_to": "all", "is_active": "on", "metrics": "sales_vs_target, 50, 100, 60"},
    )
    assert "各指标权重之和须为100，现为 50。" in response.content.decode()
    assert Scorecard.objects.count() == 0


def test_review_pages_end_to_end(personas: Personas) -> None:
    standard_scorecard()
    (partner,) = _partners(personas, 1)
    owner = _client(personas.owner)
    response = owner.post(
        reverse("channels:review_create"), {"partner": partner.pk, "year": 2026, "quarter": 1}
    )
    review = ChannelReview.objects.get()
    assert response["Location"] == review.get_absolute_url()
    body = owner.get(review.get_absolute_url()).content.decode()
    assert "销售达成率" in body and "回款及时率" in body

    # Submitting without the manual value: message, still a draft.
    owner.post(reverse("channels:review_save", args=[review.pk]), {"comments": "ok", "submit": "1"})
    review.refresh_from_db()
    assert review.status == ChannelReview.Status.DRAFT

    owner.post(
        reverse("channels:review_save", args=[review.pk]),
        {"value_payment_timeliness": "95", "comments": "回款正常", "submit": "1"},
    )
    owner.post(
        reverse("channels:review_action_add", args=[review.pk]),
        {"what": "补齐流向", "owner": personas.owner.pk, "due_on": "2026-05-01"},
    )
    review.refresh_from_db()
    assert review.status == ChannelReview.Status.SUBMITTED
    assert review.actions.count() == 0  # actions are added while the review is a draft only

    manager = _client(personas.district_manager)
    assert 'data-testid="decide-form"' in manager.get(review.get_absolute_url()).content.decode()
    manager.post(reverse("channels:review_decide", args=[review.pk]), {"decision": "approve"})
    review.refresh_from_db()
    assert review.status == ChannelReview.Status.APPROVED
    assert 'data-testid="review-form"' not in owner.get(review.get_absolute_url()).content.decode()


def test_home_shows_expiring_licence_alerts(personas: Personas) -> None:
    from django.utils import timezone

    from pharmacrm.channels import services

    (partner,) = _partners(personas, 1)
    LicenceFactory(
        partner=partner,
        number="GSP-SOON",
        kind=Licence.Kind.GSP,
        expires_on=timezone.localdate() + dt.timedelta(days=20),
    )
    services.record_licence_alerts(within_days=60)
    body = _client(personas.owner).get(reverse("channels:home")).content.decode()
    assert "GSP-SOON" in body
    assert "GSP-SOON" not in _client(personas.colleague).get(reverse("channels:home")).content.decode()


def test_edit_partner_through_the_form_is_audited(personas: Personas) -> None:
    (partner,) = _partners(personas, 1)
    response = _client(personas.owner).post(
        reverse("channels:partner_edit", args=[partner.pk]),
        {
            "code": partner.code,
            "kind": "distributor",
            "status": "suspended",
            "org_unit": personas.team_n1a.pk,
            "manager": personas.owner.pk,
        },
    )
    assert response.status_code == 302
    partner.refresh_from_db()
    assert (partner.status, partner.manager) == (ChannelPartner.Status.SUSPENDED, personas.owner)
    latest = partner.history.latest()
    assert latest.history_user == personas.owner and latest.history_source == "ui"


def test_licence_alerts_command(personas: Personas) -> None:
    from io import StringIO

    from django.core.management import call_command

    from pharmacrm.channels.models import LicenceAlert

    (partner,) = _partners(personas, 1)
    LicenceFactory(partner=partner, expires_on=dt.date(2026, 6, 1))
    out = StringIO()
    call_command("licence_alerts", "--date", "2026-05-01", "--days", "45", stdout=out)
    assert "1 new" in out.getvalue()
    call_command("licence_alerts", "--date", "2026-05-01", "--days", "45", stdout=out)
    assert LicenceAlert.objects.count() == 1
