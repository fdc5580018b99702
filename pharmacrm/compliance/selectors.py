"""Reads for the compliance officer: registration status of every rep, exceptions, the access log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from pharmacrm.compliance.models import (
    ComplianceEvent,
    Consent,
    DataSubjectRequest,
    RepRegistration,
    SensitiveAccess,
)
from pharmacrm.core.models import Role, User
from pharmacrm.core.visibility import visible


@dataclass(frozen=True)
class RepStatus:
    user: User
    registration: RepRegistration | None
    valid_today: bool
    expiring: bool


def rep_registration_status(
    *, user: Any, on: dt.date | None = None, expiring_days: int = 30
) -> list[RepStatus]:
    """Every rep the user may see, with their filing and whether it is valid today."""
    on = on or timezone.localdate()
    reps = (
        visible(User, user=user).filter(role_rows__role=Role.REP, is_active=True).select_related("org_unit")
    )
    registrations = {
        r.user_id: r for r in RepRegistration.objects.filter(user__in=reps).order_by("user_id", "-filed_on")
    }
    rows = []
    for rep in reps.order_by("org_unit__path", "username"):
        reg = registrations.get(rep.pk)
        valid = bool(reg and reg.is_valid_on(on))
        expiring = bool(
            valid and reg and reg.expires_on and reg.expires_on <= on + dt.timedelta(days=expiring_days)
        )
        rows.append(RepStatus(rep, reg, valid, expiring))
    return rows


def dashboard(*, user: Any, days: int = 30) -> dict[str, Any]:
    now = timezone.now()
    since = now - dt.timedelta(days=days)
    statuses = rep_registration_status(user=user)
    events = visible(ComplianceEvent, user=user).filter(at__gte=since)
    return {
        "reps": len(statuses),
        "reps_unregistered": sum(1 for s in statuses if not s.valid_today),
        "reps_expiring": sum(1 for s in statuses if s.expiring),
        "refusals_by_rule": list(
            events.filter(kind=ComplianceEvent.Kind.REFUSED)
            .values("rule")
            .annotate(n=Count("id"))
            .order_by("-n")
        ),
        "flags_by_rule": list(
            events.filter(kind=ComplianceEvent.Kind.FLAGGED)
            .values("rule")
            .annotate(n=Count("id"))
            .order_by("-n")
        ),
        "recent_events": list(events.select_related("actor")[:20]),
        "requests_open": list(
            visible(DataSubjectRequest, user=user)
            .exclude(status__in=[DataSubjectRequest.Status.COMPLETED, DataSubjectRequest.Status.REFUSED])
            .order_by("due_on")[:20]
        ),
        "consents_withdrawn": visible(Consent, user=user).filter(withdrawn_at__gte=since).count(),
        "sensitive_by_user": list(
            visible(SensitiveAccess, user=user)
            .filter(at__gte=now - dt.timedelta(days=7))
            .values("user__username", "user__display_name")
            .annotate(n=Count("id"))
            .order_by("-n")[:10]
        ),
        "today": timezone.localdate(),
        "days": days,
    }


def access_log(*, user: Any) -> QuerySet[SensitiveAccess]:
    return visible(SensitiveAccess, user=user).select_related("user")


def events(*, user: Any) -> QuerySet[ComplianceEvent]:
    return visible(ComplianceEvent, user=user).select_related("actor")


def own_registration(*, user: Any, on: dt.date | None = None, expiring_days: int = 30) -> RepStatus:
    """A rep's own filing, for the reminder on their home page."""
    on = on or timezone.localdate()
    reg = RepRegistration.objects.filter(user=user).order_by("-filed_on").first()
    valid = bool(reg and reg.is_valid_on(on))
    expiring = bool(
        valid and reg and reg.expires_on and reg.expires_on <= on + dt.timedelta(days=expiring_days)
    )
    return RepStatus(user, reg, valid, expiring)
