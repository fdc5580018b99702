"""Engagement background jobs (django-tasks API); each is idempotent, so a scheduler may run them as often as it likes."""

from __future__ import annotations

from django_tasks import task

from pharmacrm.core.audit import Source, audit_context
from pharmacrm.engagement import followups


@task()
def remind_commitments() -> dict[str, int]:
    """Mark commitments due within two days as reminded and overdue ones as escalated to the line manager (run daily)."""
    with audit_context(source=Source.SYSTEM):
        run = followups.remind_and_escalate_commitments()
    return {"reminded": run.reminded, "escalated": run.escalated}


@task()
def schedule_callbacks() -> int:
    """Schedule the callbacks owed after recent first purchases (run daily); returns how many were created."""
    with audit_context(source=Source.SYSTEM):
        return followups.schedule_first_purchase_callbacks()


@task()
def generate_care_reminders_task(on: str | None = None) -> dict[str, int]:
    """Write the care reminders for the coming week (run daily; idempotent). `on` is YYYY-MM-DD, default today."""
    import datetime as dt

    from pharmacrm.engagement import care

    with audit_context(source=Source.SYSTEM):
        run = care.generate_care_reminders(on=dt.date.fromisoformat(on) if on else None)
    return {"created": run.created, "existing": run.existing, "unassigned": run.unassigned}
