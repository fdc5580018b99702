"""Flow pages: files per distributor and month, upload → (mapping) → check → import, unmatched queue, templates, closes.

Every page needs a flow role (the 医药代表 gets 403 on pages, 404 on objects: a rep holds no
sales task, RULES_CN §1) and starts from the user's visible rows.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import django_filters
import django_tables2 as tables
from django.conf import settings
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
from pharmacrm.core.errors import DomainError
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
from pharmacrm.flow.importing import FlowImportResult, import_flow_file, may_import, save_template
from pharmacrm.flow.models import FlowFile, FlowPeriodClose, FlowTemplate
from pharmacrm.flow.parsing import FIELD_LABELS, suggest_mapping

ROLES = services.FLOW_ROLES
FILES = (_l("流向文件"), reverse_lazy("flow:file_list"))
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


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
        fields = ["distributor", "period", "status"]


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


# --- Upload → mapping → check → import ---------------------------------------------------------------


def _upload_dir() -> Path:
    path = Path(settings.VAR_DIR) / "flow_uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _stash(request: HttpRequest, upload: Any, *, distributor: ChannelPartner, period: Any) -> str:
    """Keep the uploaded file between the check and the import (named by a random token)."""
    token = uuid.uuid4().hex
    with (_upload_dir() / f"{request.user.pk}-{token}").open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    request.session[f"flow_upload_{token}"] = {
        "name": upload.name,
        "distributor": distributor.code,
        "period": period.isoformat() if period else "",
    }
    return token


def _stashed(request: HttpRequest, token: str) -> tuple[Path, dict[str, Any]]:
    meta = request.session.get(f"flow_upload_{token}") if _TOKEN.match(token) else None
    path = _upload_dir() / f"{request.user.pk}-{token}"
    if not meta or not path.is_file():
        raise Http404
    return path, meta


def _run(request: HttpRequest, token: str, *, dry_run: bool) -> FlowImportResult:
    import datetime as dt

    path, meta = _stashed(request, token)
    with path.open("rb") as handle:
        return import_flow_file(
            actor=actor(request),
            distributor_code=meta["distributor"],
            fileobj=handle,
            name=meta["name"],
            dry_run=dry_run,
            period=dt.date.fromisoformat(meta["period"]) if meta["period"] else None,
        )


def _report_page(request: HttpRequest, result: FlowImportResult, token: str) -> HttpResponse:
    return render(
        request,
        "flow/check.html",
        {
            "title": _("流向文件检查"),
            "result": result,
            "report": result.report,
            "token": token,
            "mapping": [(FIELD_LABELS[c], h) for c, h in result.mapping.items()],
            "needs_mapping": result.report.fatal
            and result.report.errors
            and result.report.errors[0].row == 1,
            "breadcrumbs": [FILES, (_("检查"), None)],
        },
    )


@role_required(*ROLES)
def upload(request: HttpRequest) -> HttpResponse:
    _require_importer(request)
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        token = _stash(
            request,
            form.cleaned_data["file"],
            distributor=form.cleaned_data["distributor"],
            period=form.cleaned_data["period"],
        )
        return _report_page(request, _run(request, token, dry_run=True), token)
    return render(
        request,
        "flow/upload.html",
        {"form": form, "title": _("上传流向文件"), "breadcrumbs": [FILES, (_("上传"), None)]},
    )


@require_POST
@role_required(*ROLES)
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    _require_importer(request)
    result = _run(request, token, dry_run=False)
    if result.ok and result.file is not None:
        path, _meta = _stashed(request, token)
        path.unlink(missing_ok=True)
        request.session.pop(f"flow_upload_{token}", None)
        messages.success(request, result.headline())
        return redirect(result.file.get_absolute_url())
    return _report_page(request, result, token)


@role_required(*ROLES)
def mapping(request: HttpRequest, token: str) -> HttpResponse:
    """Map their headers to our fields the first time a layout is seen; saved as the distributor's template."""
    _require_importer(request)
    from pharmacrm.core.spreadsheets import SpreadsheetError, open_sheet

    path, meta = _stashed(request, token)
    distributor = get_visible_or_404(ChannelPartner, user=request.user, code=meta["distributor"])
    try:
        with path.open("rb") as handle:
            sheet = open_sheet(handle)
            header = list(sheet.header)
            sample = [cells for _n, cells in zip(range(5), sheet.rows, strict=False)]
    except SpreadsheetError as exc:
        messages.error(request, exc.message)
        return redirect("flow:upload")
    form = MappingForm(request.POST or None, header=header, initial_mapping=suggest_mapping(header))
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
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            return _report_page(request, _run(request, token, dry_run=True), token)
    return render(
        request,
        "flow/mapping.html",
        {
            "form": form,
            "header": header,
            "sample": sample,
            "distributor": distributor,
            "token": token,
            "title": _("设置列映射"),
            "breadcrumbs": [FILES, (_("列映射"), None)],
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
        (t, [(FIELD_LABELS.get(code, code), header) for code, header in t.column_mapping.items()])
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
