"""Customer background jobs (django-tasks API); each is idempotent."""

from __future__ import annotations

from django_tasks import task

from pharmacrm.core.audit import Source, audit_context
from pharmacrm.customers.quality import refresh_all_profile_quality
from pharmacrm.customers.segmentation import run_recompute


@task()
def recompute_segments(run_id: int) -> dict[str, int]:
    """Recompute every professional's segments for a queued SegmentationRun, in batches, storing progress."""
    with audit_context(source=Source.SYSTEM):
        run = run_recompute(run_id)
    return {"processed": run.processed, "changed": run.changed}


@task()
def apply_retention() -> list[dict[str, object]]:
    """Clear personal data whose retention period has passed (PIPL); one line per rule (run daily)."""
    from pharmacrm.customers.privacy import run_retention

    with audit_context(source=Source.SYSTEM):
        return [{**line, "target": str(line["target"])} for line in run_retention(dry_run=False)]


@task()
def refresh_profile_quality() -> int:
    """Reassess completeness and staleness of every profile (staleness moves with the calendar; run daily)."""
    return refresh_all_profile_quality()
