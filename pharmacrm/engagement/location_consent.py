"""A rep's separate consent to record their precise check-in location (PIPL Art. 28–29), given and withdrawn by themselves."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from pharmacrm.core.models import User
from pharmacrm.engagement.models import LocationConsent


def live_location_consent(*, user: User) -> LocationConsent | None:
    return LocationConsent.objects.filter(user=user, withdrawn_at__isnull=True).order_by("-given_at").first()


@transaction.atomic
def give_location_consent(*, actor: User) -> LocationConsent:
    """Idempotent: a second consent while one is live returns the live one."""
    return live_location_consent(user=actor) or LocationConsent.objects.create(
        user=actor, given_at=timezone.now()
    )


@transaction.atomic
def withdraw_location_consent(*, actor: User) -> int:
    """Withdraw at once: later check-ins keep only the time. Returns how many consents were withdrawn."""
    consents = LocationConsent.objects.select_for_update().filter(user=actor, withdrawn_at__isnull=True)
    count = 0
    for consent in consents:
        consent.withdrawn_at = timezone.now()
        consent.save(update_fields=["withdrawn_at"])
        count += 1
    return count
