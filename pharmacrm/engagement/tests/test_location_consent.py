"""A rep gives and withdraws their own location consent; nobody else's is touched."""

import pytest
from django.urls import reverse

from pharmacrm.engagement.location_consent import live_location_consent
from pharmacrm.engagement.models import LocationConsent

pytestmark = pytest.mark.django_db


def test_give_and_withdraw(client, personas):
    client.force_login(personas.owner)
    url = reverse("engagement:location_consent")
    assert "尚未同意" in client.get(url).content.decode()
    client.post(url, {"action": "give"})
    client.post(url, {"action": "give"})  # idempotent
    assert LocationConsent.objects.filter(user=personas.owner, withdrawn_at__isnull=True).count() == 1
    client.post(url, {"action": "withdraw"})
    assert live_location_consent(user=personas.owner) is None
    assert LocationConsent.history.filter(user_id=personas.owner.pk).count() == 2  # given, withdrawn


def test_withdrawing_touches_only_my_consent(client, personas):
    LocationConsent.objects.create(user=personas.colleague, given_at="2026-01-01T00:00:00Z")
    client.force_login(personas.owner)
    client.post(reverse("engagement:location_consent"), {"action": "withdraw"})
    assert live_location_consent(user=personas.colleague) is not None
