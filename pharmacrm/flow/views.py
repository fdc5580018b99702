"""Flow pages: files per distributor and month, upload → (mapping) → check → import, unmatched queue, templates, closes.

Every page needs a flow role (the 医药代表 gets 403 on pages, 404 on objects: a rep holds no
sales task, RULES_CN §1) and starts from the user's visible rows.
"""

from __future__ import annotations

from typing import Any

import django_filters
import django_tables2 as tables
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from pharmacrm.channels.models import ChannelPartner
from pharmacrm.commercial.models import Sku
from pharmacrm.core.audit import Source
from pharmacrm.core.errors import DomainError
from pharmacrm.core.imports import jobs
from pharmacrm.core.models import ImportJob
from pharmacrm.core.views import (
    ObjectDetailView,
    ObjectHistoryView,
    ObjectListView,
    RoleRequiredMixin,
    actor,
    role_required,
)
from pharmacrm.core.visibility import get_visible_or_404, visible
from pharmacrm.customers.service_forms import add_domain_error
from pharmacrm.flow import services
from pharmacrm.flow.forms import CloseForm, MappingForm, UploadForm
from pharmacrm.flow.importing import (
    FlowFileJob,
    confirm_checked_flow_job,
    flow_job_checked,
    flow_job_for,
    flow_job_kind,
    may_import,
    queue_flow_file,
    save_template,
)
from pharmacrm.flow.models import FlowFile, FlowPeriodClose, FlowTemplate
from pharmacrm.flow.parsing import KINDS, SALES, detect_kind, field_labels, suggest_mapping

ROLES = services.FLOW_ROLES
FILES = (_l("流向文件"), reverse_lazy("flow:file_list"))


class FlowObjectMixin(RoleRequiredMixin):
    """Object pages: without a flow role the object is a 404 (its existence does not leak)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and not services.may_view_flow(request.user):
            raise Http404
        return super().dispatch(request, *args, **kwargs)


def _require_importer(request: HttpRequest) -> None:
    if not may_import(request.user):
        raise PermissionDenied(_("您的角色只能查看流向数据，不能导入或修改。"))


# --- Files ---------------------------------------------------------------------------------------


class FileTable(tables.Table):
    original_name = tables.Column(linkify=lambda record: record.get_absolute_url())
    distributor = tables.Column(
        accessor="distributor__code", verbose_name=_l("经销商"), order_by=("distributor__code",)
    )
    period = tables.DateColumn(format="Y-m")

    class Meta:
        model = FlowFile
        fields = (
            "original_name",
            "distributor",
            "period",
            "kind",
            "status",
            "row_count",
            "unmatched_customer_count",
            "unmatched_product_count",
            "received_on",
        )
        attrs = {"class": "table table-sm table-hover align-middle"}


class FileFilter(django_filters.FilterSet):
    distributor = django_filters.CharFilter(field_name="distributor__code", label=_l("经销商编码"))
    period = django_filters.DateFilter(label=_l("期间（月初日期）"))

    class Meta:
        model = FlowFile
        fields = ["distributor", "period", "kind", "status"]


class FileListView(RoleRequiredMixin, ObjectListView):
    required_roles = ROLES
    model = FlowFile
    table_class = FileTable
    filterset_class = FileFilter
    title = _l("流向文件")

    def base_queryset(self) -> QuerySet[Any]:
        return FlowFile.objects.select_related("distributor").order_by("-period", "distributor__code", "-id")

    create_url_name = "flow:upload"

    def may_create(self) -> bool:
        return bool(may_import(self.request.user))


class FileDetailView(FlowObjectMixin, ObjectDetailView):
    model = FlowFile
    body_template = "flow/file_detail.html"
    history_url_name = "flow:file_history"
    list_crumb = FILES

    def base_queryset(self) -> QuerySet[Any]:
        return FlowFile.objects.select_related(
            "distributor__institution", "template", "uploaded_by", "replaced_by"
        )


class FileHistoryView(FlowObjectMixin, ObjectHistoryView):
    model = FlowFile
    history_url_name = "flow:file_history"
    list_crumb = FILES


# --- Upload → check (background) → mapping → import (background) ---------------------------------------
#
# An upload becomes an import job (core.imports): the check runs in the worker while the job page
# shows a progress bar (the generic status partial, polled with HTMX), then the report; the
# uploader confirms and the import runs in the worker the same way; the finished job links to the
# FlowFile. An unknown layout goes through the mapping screen, which saves the distributor's
# template and checks the stored file again.


def _recent_jobs(request: HttpRequest) -> QuerySet[ImportJob]:
    # one query, served by the (created_by, created_at) index
    return visible(ImportJob, user=request.user).filter(kind=FlowFileJob.name, created_by_id=request.user.pk)[
        :10
    ]


@role_required(*ROLES)
def upload(request: HttpRequest) -> HttpResponse:
    _require_importer(request)
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            job = queue_flow_file(
                actor=actor(request),
                upload=form.cleaned_data["file"],
                distributor_code=form.cleaned_data["distributor"].code,
                period=form.cleaned_data["period"],
                kind=form.cleaned_data["kind"],
                source=Source.UI,
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            return redirect(job)
    return render(
        request,
        "flow/upload.html",
        {
            "form": form,
            "jobs": _recent_jobs(request),
            "title": _("上传流向文件"),
            "breadcrumbs": [FILES, (_("上传"), None)],
        },
    )


@role_required(*ROLES)
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One flow job: progress while it runs, then the report, confirm or mapping, then the FlowFile."""
    _require_importer(request)
    job = flow_job_for(request.user, pk)
    jobs.fail_if_abandoned(job)
    report = jobs.job_report(job)
    result = job.result or {}
    kind = flow_job_kind(job)
    own = job.created_by_id == request.user.pk
    checked = job.can_confirm and flow_job_checked(job)
    # refused at the header (no template, a missing column): the mapping screen fixes that
    header_refused = bool(report and report.fatal and report.errors and report.errors[0].row == 1)
    may_map = own and job.can_recheck and (header_refused or checked)
    labels = field_labels(kind if kind in KINDS else SALES)
    return render(
        request,
        "flow/job.html",
        {
            "title": _("流向文件导入 #{pk}").format(pk=job.pk),
            "job": job,
            "report": report,
            "result": result,
            "kind_label": FlowFile.Kind(kind).label if kind in KINDS else _("自动识别"),
            "progress": jobs.job_progress(job),
            "may_confirm": own and checked,
            "may_map": may_map,
            "needs_mapping": may_map and header_refused,
            "mapping": [(labels.get(c, c), h) for c, h in (result.get("mapping") or {}).items()],
            "file_url": reverse("flow:file_detail", args=[result["file_id"]])
            if result.get("file_id")
            else "",
            "breadcrumbs": [FILES, (_("上传"), reverse("flow:upload")), (f"#{job.pk}", None)],
        },
    )


@role_required(*ROLES)  # outermost: a rep gets 403 whatever the method
@require_POST
def job_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """Import a checked file: queued in the background, the job page follows its progress."""
    _require_importer(request)
    job = flow_job_for(request.user, pk)
    try:
        confirm_checked_flow_job(actor=actor(request), job=job)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(job)


@role_required(*ROLES)
def job_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    """Map their headers to our fields the first time a layout is seen; saved as the distributor's template."""
    _require_importer(request)
    from pharmacrm.core.spreadsheets import SpreadsheetError, open_sheet

    job = flow_job_for(request.user, pk)
    if job.created_by_id != request.user.pk or not job.can_recheck:
        messages.error(request, _("这个任务的文件已不能再设置列映射，请重新上传。"))
        return redirect(job)
    distributor = get_visible_or_404(ChannelPartner, user=request.user, code=job.params.get("distributor"))
    try:
        with job.file.open("rb") as handle:
            sheet = open_sheet(handle)
            header = list(sheet.header)
            sample = [cells for _n, cells in zip(range(5), sheet.rows, strict=False)]
    except SpreadsheetError as exc:
        messages.error(request, exc.message)
        return redirect(job)
    kind = flow_job_kind(job)
    if kind not in KINDS:
        kind = detect_kind(header)
    form = MappingForm(
        request.POST or None, header=header, initial_mapping=suggest_mapping(header, kind), kind=kind
    )
    if request.method == "POST" and form.is_valid():
        units = {}
        if form.cleaned_data.get("packs_per_case"):
            per_case = str(form.cleaned_data["packs_per_case"].normalize())
            units = {"箱": per_case, "件": per_case}
        try:
            save_template(
                actor=actor(request),
                distributor=distributor,
                header=header,
                mapping=form.mapping(),
                name=form.cleaned_data["name"],
                date_format=form.cleaned_data["date_format"],
                unit_conversions=units,
                kind=kind,
            )
            jobs.recheck_import(actor=actor(request), job_id=job.pk)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            return redirect(job)
    return render(
        request,
        "flow/mapping.html",
        {
            "form": form,
            "header": header,
            "sample": sample,
            "distributor": distributor,
            "job": job,
            "kind_label": FlowFile.Kind(kind).label,
            "title": _("设置列映射"),
            "breadcrumbs": [FILES, (f"#{job.pk}", job.get_absolute_url()), (_("列映射"), None)],
        },
    )


# --- Unmatched queue -----------------------------------------------------------------------------


@role_required(*ROLES)
def unmatched(request: HttpRequest) -> HttpResponse:
    """Unmatched rows grouped by raw name; pick the institution (or SKU) per group and map several at once."""
    kind = services.PRODUCT if request.GET.get("kind") == "product" else services.CUSTOMER
    distributor_id = request.GET.get("distributor")
    distributor = int(distributor_id) if distributor_id and distributor_id.isdigit() else None
    if request.method == "POST":
        _require_importer(request)
        chosen = []
        for key in request.POST.getlist("group"):
            target = request.POST.get(f"target_{key}", "")
            parts = key.split("~", 2)
            if len(parts) != 3 or not target.isdigit() or not parts[0].isdigit():
                continue
            chosen.append(services.Mapping(int(parts[0]), _unhex(parts[1]), int(target), _unhex(parts[2])))
        try:
            done = services.map_unmatched(actor=actor(request), kind=kind, mappings=chosen)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("已映射 {aliases} 个名称，更新 {rows} 行；下月同名记录将自动匹配。").format(**done),
            )
        return redirect(
            f"{reverse('flow:unmatched')}?kind={kind}"
            + (f"&distributor={distributor}" if distributor else "")
        )
    groups = services.unmatched_groups(user=request.user, kind=kind, distributor_id=distributor)
    rows = [
        {
            "group": g,
            "key": f"{g.distributor_id}~{g.name.encode().hex()}~{g.spec.encode().hex()}",
            "best": g.candidates[0] if g.candidates else None,
        }
        for g in groups
    ]
    return render(
        request,
        "flow/unmatched.html",
        {
            "title": _("未匹配队列"),
            "kind": kind,
            "rows": rows,
            "can_edit": may_import(request.user),
            "autocomplete": reverse("customers:autocomplete_institutions")
            if kind == services.CUSTOMER
            else reverse("flow:autocomplete_skus"),
            "distributors": visible(ChannelPartner, user=request.user)
            .order_by("code")
            .values_list("pk", "code"),
            "distributor": distributor,
            "breadcrumbs": [FILES, (_("未匹配队列"), None)],
        },
    )


def _unhex(text: str) -> str:
    try:
        return bytes.fromhex(text).decode()
    except ValueError:
        return ""


@role_required(*ROLES)
def autocomplete_skus(request: HttpRequest) -> JsonResponse:
    """SKUs by code, generic or brand name (Tom Select)."""
    from django.db.models import Q

    q = request.GET.get("q", "").strip()
    skus = Sku.objects.select_related("product").filter(is_active=True)
    if q:
        skus = skus.filter(
            Q(code__icontains=q) | Q(product__generic_name__icontains=q) | Q(product__brand_name__icontains=q)
        )
    return JsonResponse({"results": [{"id": s.pk, "text": f"{s.code} {s}"} for s in skus[:20]]})


# --- Templates and closes ------------------------------------------------------------------------


@role_required(*ROLES)
def template_list(request: HttpRequest) -> HttpResponse:
    templates = (
        visible(FlowTemplate, user=request.user)
        .select_related("distributor")
        .order_by("distributor__code", "name")
    )
    rows = [
        (t, [(field_labels(t.kind).get(code, code), header) for code, header in t.column_mapping.items()])
        for t in templates
    ]
    return render(
        request,
        "flow/template_list.html",
        {"title": _("流向模板"), "rows": rows, "breadcrumbs": [FILES, (_("流向模板"), None)]},
    )


@role_required(*ROLES)
def closes(request: HttpRequest) -> HttpResponse:
    form = CloseForm(request.POST or None, user=request.user)
    if request.method == "POST":
        _require_importer(request)
        if form.is_valid():
            try:
                services.close_period(actor=actor(request), **form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, _("已关账。"))
                return redirect("flow:closes")
    rows = visible(FlowPeriodClose, user=request.user).select_related("distributor", "closed_by")[:200]
    return render(
        request,
        "flow/closes.html",
        {
            "title": _("流向关账"),
            "form": form,
            "rows": rows,
            "can_edit": may_import(request.user),
            "breadcrumbs": [FILES, (_("流向关账"), None)],
        },
    )
