"""Core background jobs (django-tasks API); each is idempotent."""

from importlib import import_module

from django.conf import settings
from django_tasks import task


@task()
def clear_expired_sessions() -> int:
    """Delete expired login sessions; returns how many sessions remain."""
    engine = import_module(settings.SESSION_ENGINE)
    engine.SessionStore.clear_expired()
    from django.contrib.sessions.models import Session

    return Session.objects.count()


@task()
def run_import_job(job_id: int) -> str:
    """Check or import one uploaded file (core.imports.jobs); a job already run is skipped."""
    from pharmacrm.core.imports.jobs import execute_import_job

    return execute_import_job(job_id)


@task()
def purge_stale_import_uploads() -> int:
    """Delete uploaded files of dry runs left unconfirmed for a week (they hold personal data); run daily.

    Jobs whose worker died are marked failed first, so their uploads are purged on schedule too.
    """
    from pharmacrm.core.imports.jobs import fail_abandoned_jobs, purge_stale_uploads

    fail_abandoned_jobs()
    return purge_stale_uploads()
