"""Import jobs: upload a file, check it in the background, confirm, import, and follow the progress.

The page, the API and tasks all go through these functions. A job's live progress is written to
a small file next to the database rather than to the database itself: the import holds one
transaction for the whole file (all or nothing), and on SQLite nobody else can write while it
does, so a progress row could only be seen once it no longer matters. The same file is the job's
heartbeat: a thread rewrites it every few seconds while the job runs, so a job whose worker died
(killed, out of memory, machine restarted) is recognised by a stale file and marked failed; its
transaction died with it, so nothing was written.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.imports.engine import ImportKind, Report
from pharmacrm.core.imports.registry import get_kind
from pharmacrm.core.models import ImportJob, User
from pharmacrm.core.visibility import visible

log = logging.getLogger("pharmacrm.imports")

# A million professionals is about 150 MB of CSV; past this, split the file.
IMPORT_MAX_BYTES = 512 * 1024 * 1024
PROGRESS_EVERY_SECONDS = 0.5
# A running job rewrites its progress file this often; one not rewritten for ABANDONED_AFTER has
# lost its worker (a job between two progress reports still beats: the beat is its own thread).
HEARTBEAT_SECONDS = 5.0
ABANDONED_AFTER = dt.timedelta(minutes=2)


def check_may_import(user: Any, kind: type[ImportKind]) -> None:
    if not kind.may_import(user):
        raise NotAllowed(_("您的角色不能导入“{kind}”。").format(kind=kind.label))


def importable_kinds(user: Any) -> list[type[ImportKind]]:
    """The kinds the generic 导入 page offers this user (kinds with their own pages are not listed)."""
    from pharmacrm.core.imports.registry import all_kinds

    return [k for k in all_kinds() if k.listed and k.may_import(user)]


def job_for(user: Any, pk: int) -> ImportJob:
    """The job if `user` may see it — its owner, or a company-wide role — and may import its kind; else 404.

    The kind check keeps a flow job (sales figures) from company-wide roles that read no flow data.
    """
    job = visible(ImportJob, user=user).select_related("created_by").filter(pk=pk).first()
    if job is None:
        raise Http404
    try:
        kind = get_kind(job.kind)
    except DomainError:
        raise Http404 from None
    if not kind.may_import(user):
        raise Http404
    return job


def start_import(
    *,
    actor: User,
    kind: str,
    upload: UploadedFile,
    dry_run: bool = True,
    partial: bool = False,
    params: dict[str, Any] | None = None,
) -> ImportJob:
    """Store the upload as a job and queue its check (or, with dry_run=False, its import).

    `params` are the kind's own (flow: distributor, period, file kind), checked by its clean_params
    before anything is stored: a bad parameter creates no job.
    """
    kind_cls = get_kind(kind)
    check_may_import(actor, kind_cls)
    cleaned = kind_cls.clean_params(dict(params or {}), actor=actor)
    size = upload.size or 0
    if size == 0:
        raise DomainError(_("文件是空的。"), fields={"file": [_("文件是空的。")]}, code="empty_file")
    if size > IMPORT_MAX_BYTES:
        message = _("文件过大（{size} MB），上限 {limit} MB，请拆分后再导入。").format(
            size=size // (1024 * 1024), limit=IMPORT_MAX_BYTES // (1024 * 1024)
        )
        raise DomainError(message, fields={"file": [message]}, code="too_large")
    name = (upload.name or "upload").replace("\\", "/").rsplit("/", 1)[-1][:255]
    with transaction.atomic():
        job = ImportJob(
            kind=kind_cls.name,
            original_name=name,
            size=size,
            dry_run=dry_run,
            partial=partial,
            params=cleaned,
            created_by=actor,
        )
        job.file.save(name, upload, save=False)
        job.save()
        _enqueue_on_commit(job)
    return job


def _own_job_locked(actor: User, job_id: int, *, not_owner: str) -> ImportJob:
    """The actor's own job, locked (inside the caller's transaction), if they may still import its kind."""
    job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None:
        raise DomainError(_("导入任务不存在。"), code="not_found")
    if job.created_by_id != actor.pk:
        raise NotAllowed(not_owner)
    check_may_import(actor, get_kind(job.kind))
    return job


def confirm_import(*, actor: User, job_id: int) -> ImportJob:
    """Turn a checked dry run into the real import, queued in the background."""
    with transaction.atomic():
        job = _own_job_locked(actor, job_id, not_owner=_("只有上传文件的人可以确认导入。"))
        if not job.can_confirm:
            raise DomainError(
                _("该任务当前状态为“{status}”，不能确认导入。").format(status=job.get_status_display()),
                code="not_confirmable",
            )
        job.dry_run = False
        job.status = ImportJob.Status.QUEUED
        job.started_at = job.finished_at = None
        job.save(update_fields=["dry_run", "status", "started_at", "finished_at"])
        _enqueue_on_commit(job)
    return job


def recheck_import(*, actor: User, job_id: int) -> ImportJob:
    """Check a stored upload again (after its column mapping or the master data was fixed)."""
    with transaction.atomic():
        job = _own_job_locked(actor, job_id, not_owner=_("只有上传文件的人可以重新检查。"))
        if not job.can_recheck:
            raise DomainError(
                _("该任务当前状态为“{status}”，不能重新检查。").format(status=job.get_status_display()),
                code="not_recheckable",
            )
        job.status = ImportJob.Status.QUEUED
        job.started_at = job.finished_at = None
        job.report, job.result = {}, {}
        job.rows = job.created_count = job.updated_count = job.unchanged_count = job.error_count = 0
        job.save()
        _enqueue_on_commit(job)
    return job


def _enqueue_on_commit(job: ImportJob) -> None:
    from pharmacrm.core.tasks import run_import_job

    job_id = job.pk
    transaction.on_commit(lambda: run_import_job.enqueue(job_id))


# --- Running ----------------------------------------------------------------------------------------


def progress_path(job_id: int) -> Path:
    return Path(settings.VAR_DIR) / "imports" / "progress" / f"{job_id}.json"


def _write_progress(job_id: int, **data: Any) -> None:
    path = progress_path(job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def job_progress(job: ImportJob) -> dict[str, Any]:
    """Rows read so far and the fraction of the file, for the progress bar."""
    if not job.is_running:
        return {"rows": job.rows, "percent": 100}
    try:
        data = json.loads(progress_path(job.pk).read_text())
    except (OSError, ValueError):
        return {"rows": 0, "percent": 0}
    return {"rows": int(data.get("rows", 0)), "percent": int(float(data.get("fraction", 0)) * 100)}


class _Heartbeat:
    """The running job's progress file: rewritten on progress (at most every PROGRESS_EVERY_SECONDS)
    and by its own thread every HEARTBEAT_SECONDS, so the file's age tells whether the worker lives."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.rows, self.fraction = 0, 0.0
        self.last = 0.0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"import-job-{job_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._write()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        progress_path(self.job_id).unlink(missing_ok=True)

    def progress(self, rows: int, fraction: float) -> None:
        self.rows, self.fraction = rows, fraction
        if time.monotonic() - self.last >= PROGRESS_EVERY_SECONDS:
            self._write()

    def _beat(self) -> None:
        while not self.stop.wait(HEARTBEAT_SECONDS):
            self._write()

    def _write(self) -> None:
        with self.lock:
            if self.stop.is_set() and self.last:
                return
            self.last = time.monotonic()
            _write_progress(self.job_id, rows=self.rows, fraction=self.fraction)


def _abandoned(job: ImportJob, now: dt.datetime) -> bool:
    if job.status not in (ImportJob.Status.CHECKING, ImportJob.Status.IMPORTING) or job.started_at is None:
        return False
    if now - job.started_at < ABANDONED_AFTER:
        return False
    try:
        beat = dt.datetime.fromtimestamp(progress_path(job.pk).stat().st_mtime, tz=dt.UTC)
    except OSError:
        return True
    return now - beat >= ABANDONED_AFTER


def _failed_report(job: ImportJob, reason: Any) -> dict[str, Any]:
    """A failed job's report: one file-level error, in the language of the user who uploaded it."""
    actor = job.created_by
    with translation.override(actor.language if actor is not None else settings.LANGUAGE_CODE):
        failed = Report(kind=job.kind, dry_run=job.dry_run, partial=job.partial)
        failed.file_error(str(reason))
        failed.status = "refused"
    return failed.to_dict()


def fail_if_abandoned(job: ImportJob) -> bool:
    """Mark a running job whose worker is gone as failed (its transaction died with it); True if it was."""
    now = timezone.now()
    if not _abandoned(job, now):
        return False
    failed = _failed_report(
        job, gettext_lazy("后台任务在运行中中断（工作进程已退出或重启），未写入任何数据。请重新上传该文件。")
    )
    changed = ImportJob.objects.filter(pk=job.pk, status=job.status, started_at=job.started_at).update(
        status=ImportJob.Status.FAILED, finished_at=now, report=failed, result={}
    )
    progress_path(job.pk).unlink(missing_ok=True)
    if changed:
        log.warning("import job abandoned", extra={"job": job.pk, "kind": job.kind})
        job.refresh_from_db()
    return bool(changed)


def fail_abandoned_jobs() -> int:
    """Every running job whose worker is gone, marked failed (run when a worker starts and daily)."""
    running = ImportJob.objects.filter(
        status__in=[ImportJob.Status.CHECKING, ImportJob.Status.IMPORTING],
        started_at__lt=timezone.now() - ABANDONED_AFTER,
    ).select_related("created_by")
    return sum(fail_if_abandoned(job) for job in running)


def execute_import_job(job_id: int) -> str:
    """The task body: run the job's check or import once; a job that is not queued is left alone."""
    with transaction.atomic():
        job = (
            ImportJob.objects.select_for_update(of=("self",))
            .select_related("created_by")
            .filter(pk=job_id)
            .first()
        )
        if job is None or job.status != ImportJob.Status.QUEUED or not job.file:
            return "skipped"
        job.status = ImportJob.Status.CHECKING if job.dry_run else ImportJob.Status.IMPORTING
        job.started_at = timezone.now()
        job.save(update_fields=["status", "started_at"])
    actor = job.created_by
    language = actor.language if actor is not None else settings.LANGUAGE_CODE
    try:
        with translation.override(language), _Heartbeat(job_id) as heartbeat:
            kind = get_kind(job.kind)
            if actor is not None:
                check_may_import(actor, kind)
            with job.file.open("rb") as handle:
                report, result = kind.run(
                    handle,
                    actor=actor,
                    dry_run=job.dry_run,
                    partial=job.partial,
                    params=job.params,
                    name=job.original_name,
                    on_progress=heartbeat.progress,
                )
    except Exception as exc:
        log.exception("import job failed", extra={"job": job_id})
        failed = _failed_report(
            job,
            exc.message
            if isinstance(exc, DomainError)
            else gettext_lazy("导入时发生内部错误，未写入任何数据。"),
        )
        ImportJob.objects.filter(pk=job_id).update(
            status=ImportJob.Status.FAILED, finished_at=timezone.now(), report=failed, result={}
        )
        return "failed"
    status = _status_for(report)
    if not job.dry_run:
        _discard_file(job)
    ImportJob.objects.filter(pk=job_id).update(
        status=status,
        rows=report.rows,
        created_count=report.created,
        updated_count=report.updated,
        unchanged_count=report.unchanged,
        error_count=report.error_count,
        report=report.to_dict(),
        result=result,
        finished_at=timezone.now(),
    )
    log.info(
        "import job finished",
        extra={
            "job": job_id,
            "kind": job.kind,
            "status": status,
            "rows": report.rows,
            "seconds": report.seconds,
        },
    )
    return status


def _discard_file(job: ImportJob) -> None:
    """Uploaded files hold personal data (PIPL): once imported (or refused for good) only the report stays."""
    if job.file:
        job.file.delete(save=False)
        ImportJob.objects.filter(pk=job.pk).update(file="")


def purge_stale_uploads(*, older_than: dt.timedelta = dt.timedelta(days=7)) -> int:
    """Delete the files of dry runs nobody confirmed within `older_than`; returns how many."""
    stale = ImportJob.objects.filter(created_at__lt=timezone.now() - older_than).exclude(file="")
    count = 0
    for job in stale.exclude(
        status__in=[ImportJob.Status.QUEUED, ImportJob.Status.CHECKING, ImportJob.Status.IMPORTING]
    ):
        _discard_file(job)
        count += 1
    return count


def _status_for(report: Report) -> str:
    if report.dry_run:
        return ImportJob.Status.CHECKED if report.ok else ImportJob.Status.REFUSED
    if not report.ok:
        return ImportJob.Status.PARTIAL if report.written else ImportJob.Status.REFUSED
    # ok: written, or nothing to write (a flow file identical to the month's imported one)
    return ImportJob.Status.DONE


def job_report(job: ImportJob) -> Report | None:
    return Report.from_dict(job.report) if job.report and "kind" in job.report else None
