"""Flow background jobs (django-tasks API); each is idempotent."""

from __future__ import annotations

import datetime as dt

from django_tasks import task

from pharmacrm.core.audit import Source, audit_context


@task()
def reattribute_flow(
    since: str | None = None,
    territory_ids: list[int] | None = None,
    institution_ids: list[int] | None = None,
) -> dict[str, int]:
    """Re-attribute flow records sold on or after `since` (ISO date; all when None) to territory and rep.

    Queued after commit whenever coverage history changes (core.services.on_coverage_change) or
    institutions move to another territory (customers.territory_history.on_institution_move);
    running it twice changes nothing the second time. Returns the counts of rows looked at and changed.
    """
    from pharmacrm.flow.attribution import reattribute

    with audit_context(source=Source.SYSTEM):
        result = reattribute(
            since=dt.date.fromisoformat(since) if since else None,
            territory_ids=territory_ids,
            institution_ids=institution_ids,
        )
    return result.as_dict()


def queue_reattribution(*, territory_id: int, since: dt.date) -> None:
    """Coverage listener (registered in FlowConfig.ready): queue re-attribution of what the change touched."""
    reattribute_flow.enqueue(since=since.isoformat(), territory_ids=[territory_id])


def queue_institution_reattribution(*, institution_ids: list[int], since: dt.date | None) -> None:
    """Move listener (registered in FlowConfig.ready): re-attribute the moved institutions' sales."""
    reattribute_flow.enqueue(
        since=since.isoformat() if since else None, institution_ids=list(institution_ids)
    )
