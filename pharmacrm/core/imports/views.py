"""The 导入 pages: upload and dry run, the report, confirm, a progress bar polled with HTMX, templates."""

from __future__ import annotations

import contextlib
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from pharmacrm.core.errors import DomainError
from pharmacrm.core.imports import jobs
from pharmacrm.core.imports.engine import ImportKind
from pharmacrm.core.imports.registry import all_kinds, get_kind
from pharmacrm.core.imports.template import CONTENT_TYPES, template_bytes, template_filename
from pharmacrm.core.models import ImportJob
from pharmacrm.core.visibility import visible


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("导入内容"))
    file = forms.FileField(
        label=gettext_lazy("文件"),
        help_text=gettext_lazy("xlsx 或 CSV（UTF-8 或 GBK 编码）；第 1 行为表头"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv,text/csv"}),
    )
    partial = forms.BooleanField(
        label=gettext_lazy("允许部分导入"),
        required=False,
        help_text=gettext_lazy("不勾选时，只要有一行错误就不导入任何数据"),
    )

    def __init__(self, *args: Any, kinds: list[type[ImportKind]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k.name, k.label) for k in kinds]  # type: ignore[attr-defined]


def _kinds_or_403(user: Any) -> list[type[ImportKind]]:
    kinds = jobs.importable_kinds(user)
    if not kinds:
        raise PermissionDenied
    return kinds


@login_required
def import_home(request: HttpRequest) -> HttpResponse:
    kinds = _kinds_or_403(request.user)
    form = UploadForm(request.POST or None, request.FILES or None, kinds=kinds)
    if request.method == "POST" and form.is_valid():
        try:
            job = jobs.start_import(
                actor=request.user,  # type: ignore[arg-type]
                kind=form.cleaned_data["kind"],
                upload=form.cleaned_data["file"],
                dry_run=True,
                partial=form.cleaned_data["partial"],
            )
        except DomainError as exc:
            form.add_error("file" if "file" in exc.fields else None, exc.message)
        else:
            return redirect(job)
    recent = (
        visible(ImportJob, user=request.user)
        .filter(kind__in=[k.name for k in all_kinds() if k.may_import(request.user)])
        .select_related("created_by")[:20]
    )
    return render(
        request,
        "core/imports/home.html",
        {
            "form": form,
            "kinds": kinds,
            "jobs": recent,
            "title": _("导入"),
            "breadcrumbs": [(_("导入"), None)],
        },
    )


def _job_context(request: HttpRequest, job: ImportJob) -> dict[str, Any]:
    kind = None
    with contextlib.suppress(DomainError):
        kind = get_kind(job.kind)
    return {
        "job": job,
        "kind_label": kind.label if kind else job.kind,
        "report": jobs.job_report(job),
        "progress": jobs.job_progress(job),
        "may_confirm": job.can_confirm and job.created_by_id == request.user.pk,
    }


@login_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = jobs.job_for(request.user, pk)
    if job.get_absolute_url() != request.path:
        return redirect(job)  # a kind with its own job page (flow)
    jobs.fail_if_abandoned(job)
    ctx = _job_context(request, job)
    ctx.update(
        title=_("导入任务 #{pk}").format(pk=job.pk),
        breadcrumbs=[(_("导入"), reverse("imports:home")), (f"#{job.pk}", None)],
    )
    return render(request, "core/imports/job.html", ctx)


@login_required
def job_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The status block alone, polled every second while the job runs; a finished job reloads the page."""
    job = jobs.job_for(request.user, pk)
    jobs.fail_if_abandoned(job)
    if not job.is_running and request.GET.get("running"):
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "core/imports/job.html#status", _job_context(request, job))


@login_required
@require_POST
def job_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    job = jobs.job_for(request.user, pk)
    try:
        jobs.confirm_import(actor=request.user, job_id=job.pk)  # type: ignore[arg-type]
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(job)


@login_required
def template_download(request: HttpRequest, kind: str, fmt: str) -> HttpResponse:
    kinds = {k.name: k for k in _kinds_or_403(request.user)}
    if kind not in kinds or fmt not in CONTENT_TYPES:
        raise Http404
    response = HttpResponse(template_bytes(kinds[kind], fmt), content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{template_filename(kinds[kind], fmt)}"'
    return response
