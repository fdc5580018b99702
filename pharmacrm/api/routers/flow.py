"""Flow API: upload a distributor's monthly file (at once, or as a background job), follow files, read records, work the queue.

Flow data is institution level only (统方 rule: no per-professional field anywhere) and reps get
403 on lists and 404 on objects (RULES_CN §1: a rep holds no sales task).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import CursorPagination, paginate

from pharmacrm.api.schemas import ErrorOut, InputSchema
from pharmacrm.core.audit import Source
from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.imports import jobs
from pharmacrm.core.models import ImportJob
from pharmacrm.core.visibility import get_visible_or_404, visible
from pharmacrm.flow import services
from pharmacrm.flow.importing import (
    AUTO,
    confirm_checked_flow_job,
    flow_job_for,
    flow_job_kind,
    import_flow_file,
    queue_flow_file,
)
from pharmacrm.flow.models import FlowFile, FlowRecord
from pharmacrm.flow.parsing import parse_period

router = Router(tags=["flow"])


def _flow_role_or_403(request: HttpRequest) -> None:
    if not services.may_view_flow(request.user):
        raise NotAllowed(_("您的角色不能查看流向数据。"))


class FlowFileOut(Schema):
    id: int
    distributor_id: int
    distributor_code: str
    period: dt.date
    kind: str
    status: str
    original_name: str
    sha256: str
    received_on: dt.date
    uploaded_at: dt.datetime
    row_count: int
    inventory_count: int
    unmatched_customer_count: int
    unmatched_product_count: int
    template_id: int | None
    replaced_by_id: int | None
    report: dict[str, Any]

    @staticmethod
    def resolve_distributor_code(obj: FlowFile) -> str:
        return obj.distributor.code


class ImportResultOut(Schema):
    outcome: str
    kind: str
    period: str | None
    file_id: int | None
    template_id: int | None
    mapping: dict[str, str]
    headline: str
    details: dict[str, Any]
    report: dict[str, Any]


class RefusedOut(Schema):
    error: dict[str, Any]
    result: ImportResultOut


@router.post(
    "/flow/files",
    response={200: ImportResultOut, 201: ImportResultOut, 403: ErrorOut, 422: RefusedOut},
)
def upload_flow_file(
    request: HttpRequest,
    distributor: Form[str],
    file: File[UploadedFile],
    dry_run: Form[bool] = True,
    period: Form[str] = "",
    kind: Form[str] = AUTO,
) -> Any:
    """Check (dry_run=true, the default) or import one monthly file of `distributor` (its code), in this request.

    `kind`: sales (流向), inventory (库存) or auto (the distributor's template for the header, else
    the headers decide). 200: checked, or identical to the month's imported file of that kind
    (nothing changed). 201: imported (or replaced the month). 422: refused, nothing written;
    `result.report.errors` names row, column, value and reason. A big file is better sent to
    `POST /flow/jobs`, which runs in the background with progress.
    """
    _flow_role_or_403(request)
    month = None
    if period:
        month = parse_period(period)
        if month is None:
            message = _("期间格式应为 YYYY-MM：{value}").format(value=period)
            raise DomainError(message, fields={"period": [message]})
    result = import_flow_file(
        actor=request.user,
        distributor_code=distributor,
        fileobj=file.file,  # type: ignore[arg-type]  # always set for an upload
        name=file.name or "upload",
        dry_run=dry_run,
        period=month,
        source=Source.API,
        kind=kind,
    )
    body = result.as_dict()
    if not result.ok:
        first = result.report.errors[0].text() if result.report.errors else result.headline()
        return Status(422, {"error": {"code": "refused", "message": first, "fields": {}}, "result": body})
    return Status(201 if result.outcome in ("imported", "replaced") else 200, body)


class FlowJobOut(Schema):
    """A flow file checked or imported in the background: its status, progress, report and outcome."""

    id: int
    status: str
    dry_run: bool
    original_name: str
    distributor: str
    period: str
    kind: str
    progress: dict[str, int]
    outcome: str | None
    headline: str | None
    file_id: int | None
    report: dict[str, Any]
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @staticmethod
    def resolve_distributor(obj: ImportJob) -> str:
        return str(obj.params.get("distributor", ""))

    @staticmethod
    def resolve_period(obj: ImportJob) -> str:
        return str((obj.result or {}).get("period") or obj.params.get("period") or "")

    @staticmethod
    def resolve_kind(obj: ImportJob) -> str:
        return flow_job_kind(obj)

    @staticmethod
    def resolve_progress(obj: ImportJob) -> dict[str, int]:
        return jobs.job_progress(obj)

    @staticmethod
    def resolve_outcome(obj: ImportJob) -> str | None:
        return (obj.result or {}).get("outcome")

    @staticmethod
    def resolve_headline(obj: ImportJob) -> str | None:
        return (obj.result or {}).get("headline")

    @staticmethod
    def resolve_file_id(obj: ImportJob) -> int | None:
        return (obj.result or {}).get("file_id")


@router.post("/flow/jobs", response={202: FlowJobOut, 400: ErrorOut, 403: ErrorOut})
def queue_flow_job(
    request: HttpRequest,
    distributor: Form[str],
    file: File[UploadedFile],
    dry_run: Form[bool] = True,
    period: Form[str] = "",
    kind: Form[str] = AUTO,
) -> Any:
    """Queue the check (dry_run=true, the default) or the import of one file of `distributor` (its code).

    Runs in the background (`pharmacrm worker`): poll `GET /flow/jobs/{id}` for the status, the
    progress, the row report and the outcome; confirm a checked file with
    `POST /flow/jobs/{id}/confirm`. 400 when the distributor, period or kind is wrong (no job is
    created); the rows are reported on the job, and a refused file writes nothing.
    """
    _flow_role_or_403(request)
    job = queue_flow_file(
        actor=request.user,
        upload=file,
        distributor_code=distributor,
        period=period,
        kind=kind,
        dry_run=dry_run,
        source=Source.API,
    )
    job.refresh_from_db()
    return Status(202, job)


@router.get("/flow/jobs/{job_id}", response={200: FlowJobOut, 404: ErrorOut})
def get_flow_job(request: HttpRequest, job_id: int) -> Any:
    """A flow job (404 for someone else's job, and for anyone who may not import flow files)."""
    job = flow_job_for(request.user, job_id)
    jobs.fail_if_abandoned(job)
    return job


@router.post(
    "/flow/jobs/{job_id}/confirm", response={202: FlowJobOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut}
)
def confirm_flow_job(request: HttpRequest, job_id: int) -> Any:
    """Import a checked file in the background (the uploader only; the same file and parameters)."""
    job = flow_job_for(request.user, job_id)
    job = confirm_checked_flow_job(actor=request.user, job=job)
    job.refresh_from_db()
    return Status(202, job)


@router.get("/flow/files", response={200: list[FlowFileOut], 403: ErrorOut})
@paginate(CursorPagination, ordering=("-id",))
def list_flow_files(
    request: HttpRequest,
    distributor: str | None = None,
    period: str | None = None,
    status: str | None = None,
    kind: str | None = None,
) -> Any:
    _flow_role_or_403(request)
    qs = visible(FlowFile, user=request.user).select_related("distributor")
    if distributor:
        qs = qs.filter(distributor__code=distributor)
    if kind:
        qs = qs.filter(kind=kind)
    if period and (month := parse_period(period)):
        qs = qs.filter(period=month)
    if status:
        qs = qs.filter(status=status)
    return qs


@router.get("/flow/files/{file_id}", response={200: FlowFileOut, 404: ErrorOut})
def get_flow_file(request: HttpRequest, file_id: int) -> Any:
    """A file's status and row report (404 for a file the user may not see, and for reps)."""
    if not services.may_view_flow(request.user):
        raise Http404
    return get_visible_or_404(FlowFile.objects.select_related("distributor"), user=request.user, pk=file_id)


class FlowRecordOut(Schema):
    """One flow row at institution level (no professional, ever)."""

    id: int
    file_id: int
    distributor_id: int
    period: dt.date
    row_no: int
    sale_date: dt.date
    kind: str
    customer_name: str
    customer_code: str
    institution_id: int | None
    customer_match: str
    customer_confidence: Decimal | None
    product_name: str
    product_code: str
    product_spec: str
    sku_id: int | None
    product_match: str
    product_confidence: Decimal | None
    quantity: Decimal
    standard_quantity: Decimal | None
    unit_price: Decimal | None
    amount: Decimal | None
    batch_no: str
    territory_id: int | None
    out_of_region: bool
    extra_hop: bool


@router.get("/flow/records", response={200: list[FlowRecordOut], 403: ErrorOut})
@paginate(CursorPagination, ordering=("id",))
def list_flow_records(
    request: HttpRequest,
    file_id: int | None = None,
    distributor: str | None = None,
    period: str | None = None,
    institution_id: int | None = None,
    sku_id: int | None = None,
    unmatched: bool | None = None,
) -> Any:
    _flow_role_or_403(request)
    qs = visible(FlowRecord, user=request.user)
    if file_id:
        qs = qs.filter(file_id=file_id)
    if distributor:
        qs = qs.filter(distributor__code=distributor)
    if period and (month := parse_period(period)):
        qs = qs.filter(period=month)
    if institution_id:
        qs = qs.filter(institution_id=institution_id)
    if sku_id:
        qs = qs.filter(sku_id=sku_id)
    if unmatched:
        from django.db.models import Q

        qs = qs.filter(Q(institution__isnull=True) | Q(sku__isnull=True))
    return qs


class CandidateOut(Schema):
    id: int
    name: str
    score: float


class UnmatchedGroupOut(Schema):
    kind: str
    distributor_id: int
    distributor_code: str
    name: str
    spec: str
    rows: int
    candidates: list[CandidateOut]


@router.get("/flow/unmatched", response={200: list[UnmatchedGroupOut], 403: ErrorOut})
def list_unmatched(
    request: HttpRequest,
    kind: Literal["customer", "product"] = "customer",
    distributor_id: int | None = None,
    limit: int = 50,
) -> Any:
    """Unmatched rows grouped by raw name (biggest first), with the best fuzzy candidates and scores."""
    _flow_role_or_403(request)
    groups = services.unmatched_groups(
        user=request.user, kind=kind, distributor_id=distributor_id, limit=max(1, min(limit, 200))
    )
    return [
        {
            "kind": g.kind,
            "distributor_id": g.distributor_id,
            "distributor_code": g.distributor_code,
            "name": g.name,
            "spec": g.spec,
            "rows": g.rows,
            "candidates": [{"id": t.pk, "name": str(t), "score": s} for t, s in g.candidates],
        }
        for g in groups
    ]


class MappingIn(InputSchema):
    distributor_id: int
    name: str
    spec: str = ""
    target_id: int


class MapIn(InputSchema):
    kind: Literal["customer", "product"]
    mappings: list[MappingIn]


class MapOut(Schema):
    aliases: int
    rows: int
    attributed: int


@router.post("/flow/aliases", response={200: MapOut, 400: ErrorOut, 403: ErrorOut})
def map_aliases(request: HttpRequest, payload: MapIn) -> Any:
    """Map raw names to institutions (kind=customer) or SKUs (kind=product): the alias is remembered
    for next month and every unmatched row with that raw name is matched now (all or nothing)."""
    return services.map_unmatched(
        actor=request.user,
        kind=payload.kind,
        mappings=[services.Mapping(m.distributor_id, m.name, m.target_id, m.spec) for m in payload.mappings],
    )
