"""Import jobs: upload a file, check it in the background, confirm, import, and follow the progress.

The page, the API and tasks all go through these functions. A job's live progress is written to
a small file next to the database rather than to the database itself: the import holds one
transaction for the whole file (all or nothing), and on SQLite nobody else can write while it
does, so a progress row could only be seen once it no longer matters.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.imports.engine import ImportKind, Report, run_import
from pharmacrm.core.imports.registry import get_kind
from pharmacrm.core.models import ImportJob, User

log = logging.getLogger("pharmacrm.imports")

# A million professionals is about 150 MB of CSV; past this, split the file.
IMPORT_MAX_BYTES = 512 * 1024 * 1024
PROGRESS_EVERY_SECONDS = 0.5


def check_may_import(user: Any, kind: type[ImportKind]) -> None:
    if not kind.may_import(user):
        raise NotAllowed(_("您的角色不能导入“{kind}”。").format(kind=kind.label))


def importable_kinds(user: Any) -> list[type[ImportKind]]:
    from pharmacrm.core.imports.registry import all_kinds

    return [k for k in all_kinds() if k.may_import(user)]


def start_import(
    *, actor: User, kind: str, upload: UploadedFile, dry_run: bool = True, partial: bool = False
) -> ImportJob:
    """Store the upload as a job and queue its check (or, with dry_run=False, its import)."""
    kind_cls = get_kind(kind)
    check_may_import(actor, kind_cls)
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
            created_by=actor,
        )
        job.file.save(name, upload, save=False)
        job.save()
        _enqueue_on_commit(job)
    return job


def confirm_import(*, actor: User, job_id: int) -> ImportJob:
    """Turn a checked dry run into the real import, queued in the background."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            raise DomainError(_("导入任务不存在。"), code="not_found")
        if job.created_by_id != actor.pk:
            raise NotAllowed(_("只有上传文件的人可以确认导入。"))
        check_may_import(actor, get_kind(job.kind))
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
    last = [0.0]

    def on_progress(rows: int, fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_SECONDS:
            last[0] = now
            _write_progress(job_id, rows=rows, fraction=fraction)

    _write_progress(job_id, rows=0, fraction=0)
    try:
        with translation.override(language):
            kind = get_kind(job.kind)
            if actor is not None:
                check_may_import(actor, kind)
            with job.file.open("rb") as handle:
                report = run_import(
                    kind,
                    handle,
                    actor=actor,
                    dry_run=job.dry_run,
                    partial=job.partial,
                    on_progress=on_progress,
                )
    except Exception as exc:
        log.exception("import job failed", extra={"job": job_id})
        with translation.override(language):
            failed = Report(kind=job.kind, dry_run=job.dry_run, partial=job.partial)
            failed.file_error(
                exc.message if isinstance(exc, DomainError) else _("导入时发生内部错误，未写入任何数据。")
            )
        ImportJob.objects.filter(pk=job_id).update(
            status=ImportJob.Status.FAILED, finished_at=timezone.now(), report=failed.to_dict()
        )
        return "failed"
    finally:
        progress_path(job_id).unlink(missing_ok=True)
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
    if not report.written:
        return ImportJob.Status.REFUSED
    return ImportJob.Status.DONE if report.ok else ImportJob.Status.PARTIAL


def job_report(job: ImportJob) -> Report | None:
    return Report.from_dict(job.report) if job.report and "kind" in job.report else None
