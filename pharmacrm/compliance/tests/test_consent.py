"""Consent records: refusals change nothing; visibility follows the professional."""

import datetime as dt

import pytest
from django.http import Http404

from pharmacrm.compliance import services
from pharmacrm.compliance.models import Consent
from pharmacrm.core.errors import Conflict, DomainError
from pharmacrm.core.testing import visibility_test
from pharmacrm.customers.tests.factories import InstitutionFactory, ProfessionalFactory

pytestmark = pytest.mark.django_db


def _professional(p):
    return ProfessionalFactory(institution=InstitutionFactory(territory=p.own_territory))


def test_consent_without_source_refused(personas):
    professional = _professional(personas)
    with pytest.raises(DomainError) as exc:
        services.record_consent(
            actor=personas.owner,
            professional_id=professional.pk,
            purpose="contact",
            channel="phone",
            source="",
            given_on=dt.date(2026, 1, 1),
        )
    assert "来源" in exc.value.fields["source"][0]
    assert Consent.objects.count() == 0
    assert Consent.history.count() == 0


def test_consent_for_someone_elses_customer_is_404(personas):
    professional = _professional(personas)
    with pytest.raises(Http404):
        services.record_consent(
            actor=personas.colleague,
            professional_id=professional.pk,
            purpose="contact",
            channel="phone",
            source="paper",
            given_on=dt.date(2026, 1, 1),
        )
    assert Consent.objects.count() == 0


def test_second_live_consent_refused(personas):
    professional = _professional(personas)
    args = {"professional_id": professional.pk, "purpose": "contact", "channel": "phone", "source": "paper"}
    services.record_consent(actor=personas.owner, given_on=dt.date(2026, 1, 1), **args)
    with pytest.raises(Conflict):
        services.record_consent(actor=personas.owner, given_on=dt.date(2026, 2, 1), **args)
    assert Consent.objects.count() == 1


test_consent_visibility = visibility_test(
    lambda p: Consent.objects.create(
        professional=_professional(p),
        purpose="contact",
        channel="phone",
        source="paper",
        given_on=dt.date(2026, 1, 1),
        recorded_by=p.owner,
    )
)
