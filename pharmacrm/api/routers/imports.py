"""Imports (upload, check, confirm, follow) and exports of filtered lists, over HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from pharmacrm.api.schemas import ErrorOut
from pharmacrm.core.errors import DomainError
from pharmacrm.core.exports.base import get_export, start_export
from pharmacrm.core.exports.views import export_response
from pharmacrm.core.imports import jobs
from pharmacrm.core.middleware import client_ip
from pharmacrm.core.models import ImportJob

router = Router(tags=["imports and exports"])


class ImportJobOut(Schema):
    id: int
    kind: str
    status: str
    original_name: str
    dry_run: bool
    partial: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    error_count: int
    progress: dict[str, int]
    report: dict[str, Any]
    params: dict[str, Any]
    result: dict[str, Any]
    created_at: dt.datetime
    finished_at: dt.datetime | None

    @staticmethod
    def resolve_created(obj: ImportJob) -> int:
        return obj.created_count

    @staticmethod
    def resolve_updated(obj: ImportJob) -> int:
        return obj.updated_count

    @staticmethod
    def resolve_unchanged(obj: ImportJob) -> int:
        return obj.unchanged_count

    @staticmethod
    def resolve_progress(obj: ImportJob) -> dict[str, int]:
        return jobs.job_progress(obj)


@router.post("/imports", response={202: ImportJobOut, 400: ErrorOut, 403: ErrorOut, 422: ErrorOut})
def create_import(
    request: HttpRequest,
    kind: Form[str],
    file: File[UploadedFile],
    dry_run: Form[bool] = True,
    partial: Form[bool] = False,
) -> Any:
    """Upload a CSV or xlsx file of `kind` (institutions, departments, professionals, affiliations).

    The check (and, with `dry_run=false`, the import) runs in the background: poll
    `GET /imports/{id}` for the status, the progress and the row report. Nothing is written when
    any row is bad, unless `partial=true`.
    """
    job = jobs.start_import(actor=request.user, kind=kind, upload=file, dry_run=dry_run, partial=partial)  # type: ignore[arg-type]
    job.refresh_from_db()
    return Status(202, job)


@router.get("/imports/{job_id}", response={200: ImportJobOut, 404: ErrorOut})
def get_import(request: HttpRequest, job_id: int) -> Any:
    job = jobs.job_for(request.user, job_id)
    jobs.fail_if_abandoned(job)
    return job


@router.post(
    "/imports/{job_id}/confirm", response={202: ImportJobOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut}
)
def confirm_import(request: HttpRequest, job_id: int) -> Any:
    """Import a checked dry run (as it was uploaded: same file, same partial setting)."""
    jobs.job_for(request.user, job_id)
    job = jobs.confirm_import(actor=request.user, job_id=job_id)  # type: ignore[arg-type]
    job.refresh_from_db()
    return Status(202, job)


@router.get("/exports/{kind}", response={200: None, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut})
def export_list(request: HttpRequest, kind: str, format: str = "csv") -> HttpResponse:
    """The list of `kind` (institutions, professionals) as CSV or xlsx, filtered by the same query
    parameters as the list page (e.g. `?tier=key&q=zhang`), only rows the caller may see. Logged."""
    try:
        spec = get_export(kind)
    except DomainError:
        raise Http404 from None
    export = start_export(
        spec=spec, user=request.user, params=request.GET, fmt=format, source="api", ip=client_ip(request)
    )
    return export_response(export)
