"""Channel background jobs (django-tasks API); idempotent, so a scheduler may run them as often as it likes."""

from __future__ import annotations

import datetime as dt

from django_tasks import task

from pharmacrm.channels import services
from pharmacrm.core.audit import Source, audit_context

LICENCE_ALERT_DAYS = 60


@task()
def record_licence_alerts_task(on: str | None = None, within_days: int = LICENCE_ALERT_DAYS) -> int:
    """Record expiry alerts for licences expiring within `within_days` (run daily); returns how many are new."""
    with audit_context(source=Source.SYSTEM):
        created = services.record_licence_alerts(
            on=dt.date.fromisoformat(on) if on else None, within_days=within_days
        )
    return len(created)
