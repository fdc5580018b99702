"""Who sees which channel rows and pages: owner (commercial covering the partner's territory),
colleague (same team, other territory), outsider (other region), the managers above, director.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from pharmacrm.channels.tests.factories import (
    AgreementFactory,
    ContactFactory,
    LicenceFactory,
    PartnerFactory,
    standard_scorecard,
)
from pharmacrm.core.testing import Personas, visibility_test


def _partner(p: Personas) -> Any:
    return PartnerFactory(institution__territory=p.own_territory, org_unit=p.team_n1a)


def _review(p: Personas) -> Any:
    from pharmacrm.channels.models import ChannelReview

    partner = _partner(p)
    card = standard_scorecard()
    return ChannelReview.objects.create(
        partner=partner, scorecard=card, year=2026, quarter=1, reviewer=p.owner
    )


test_partner_visibility = visibility_test(
    _partner, url="channels:partner_detail", api="/api/v1/channels/partners/{pk}"
)
test_agreement_visibility = visibility_test(
    lambda p: AgreementFactory(partner=_partner(p)),
    url="channels:agreement_detail",
    api="/api/v1/channels/agreements/{pk}",
)
test_review_visibility = visibility_test(
    _review, url="channels:review_detail", api="/api/v1/channels/reviews/{pk}"
)
test_licence_visibility = visibility_test(lambda p: LicenceFactory(partner=_partner(p)))
test_contact_visibility = visibility_test(lambda p: ContactFactory(partner=_partner(p)))


@pytest.mark.django_db
def test_partner_managed_by_a_user_is_visible_to_that_user(personas: Personas) -> None:
    """The channel manager sees their partner even when it sits outside their territories."""
    partner: Any = PartnerFactory(
        institution__territory=personas.outside_territory,
        org_unit=personas.team_s1a,
        manager=personas.colleague,
    )
    client = Client()
    client.force_login(personas.colleague)
    assert client.get(reverse("channels:partner_detail", args=[partner.pk])).status_code == 200
    client.force_login(personas.owner)
    assert client.get(reverse("channels:partner_detail", args=[partner.pk])).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    [
        "channels:home",
        "channels:partner_list",
        "channels:review_list",
        "channels:licence_list",
        "channels:scorecard_list",
    ],
)
def test_rep_gets_no_channel_pages(name: str, personas: Personas, rep: Any) -> None:
    partner = _partner(personas)
    client = Client()
    client.force_login(rep)
    assert client.get(reverse(name)).status_code == 403
    assert client.get(reverse("channels:partner_detail", args=[partner.pk])).status_code == 404
    assert client.get(reverse("channels:partner_edit", args=[partner.pk])).status_code == 403
    assert client.get("/api/v1/channels/partners").status_code == 403
    assert client.get(f"/api/v1/channels/partners/{partner.pk}").status_code == 404
    nav = client.get("/").content.decode()
    assert reverse("channels:home") not in nav


@pytest.mark.django_db
def test_commercial_sees_channel_nav(personas: Personas) -> None:
    client = Client()
    client.force_login(personas.owner)
    assert reverse("channels:home") in client.get("/").content.decode()


@pytest.mark.django_db
def test_compliance_reads_but_cannot_edit(personas: Personas) -> None:
    from pharmacrm.core.models import Role
    from pharmacrm.core.tests.factories import UserFactory

    officer = UserFactory(username="officer", org_unit=personas.company, roles=[Role.COMPLIANCE])
    partner = _partner(personas)
    client = Client()
    client.force_login(officer)
    assert client.get(reverse("channels:partner_detail", args=[partner.pk])).status_code == 200
    assert client.get(reverse("channels:partner_edit", args=[partner.pk])).status_code == 403
    assert client.get(reverse("channels:agreement_create", args=[partner.pk])).status_code == 403
