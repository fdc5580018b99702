"""Pages for likely duplicates (疑似重复) and merging two records field by field."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from pharmacrm.core.errors import DomainError
from pharmacrm.core.views import actor, role_required
from pharmacrm.core.visibility import get_visible_or_404
from pharmacrm.customers import merge
from pharmacrm.customers.models import Institution, Professional

MODELS: dict[str, type[models.Model]] = {"professionals": Professional, "institutions": Institution}
MERGERS = {"professionals": merge.merge_professionals, "institutions": merge.merge_institutions}


@role_required(*merge.MERGE_ROLES)
def duplicates(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "professionals")
    if kind not in MODELS:
        raise Http404("unknown kind")
    finder = merge.duplicate_professionals if kind == "professionals" else merge.duplicate_institutions
    pairs = finder(user=request.user)
    return render(
        request,
        "customers/duplicates.html",
        {
            "kind": kind,
            "pairs": pairs,
            "title": _("疑似重复"),
            "breadcrumbs": [(_("疑似重复"), None)],
        },
    )


def _display(obj: models.Model, f: models.Field[Any, Any]) -> str:
    value = getattr(obj, f.name)
    if value is None or value == "":
        return ""
    if f.choices:
        return str(getattr(obj, f"get_{f.name}_display")())
    if isinstance(f, models.BooleanField):
        return _("是") if value else _("否")
    return str(value)


def _rows(survivor: models.Model, merged: models.Model, choices: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for f in merge.merge_fields(type(survivor)):
        mine, theirs = _display(survivor, f), _display(merged, f)
        rows.append(
            {
                "name": f.name,
                "label": f.verbose_name,
                "survivor": mine,
                "merged": theirs,
                "same": getattr(survivor, f.attname) == getattr(merged, f.attname),
                "choice": choices.get(f.name, merge.SURVIVOR),
            }
        )
    # Differences first: they are what the user decides.
    rows.sort(key=lambda r: r["same"])
    return rows


@role_required(*merge.MERGE_ROLES)
def merge_records(request: HttpRequest, kind: str, survivor_pk: int, merged_pk: int) -> HttpResponse:
    model = MODELS.get(kind)
    if model is None:
        raise Http404("unknown kind")
    survivor = get_visible_or_404(model, user=request.user, pk=survivor_pk)
    merged = get_visible_or_404(model, user=request.user, pk=merged_pk)
    choices = merge.default_choices(survivor, merged)
    error = None
    if request.method == "POST":
        choices = {name: request.POST.get(name, merge.SURVIVOR) for name in choices}
        try:
            result = MERGERS[kind](
                actor=actor(request),
                survivor_id=survivor.pk,
                merged_id=merged.pk,
                choices=choices,
                note=request.POST.get("note", "").strip()[:60],
            )
        except DomainError as exc:
            error = exc.message
        else:
            moved = "，".join(f"{label} {count}" for label, count in result.moved.items())
            messages.success(
                request,
                _("已合并：{merged} 并入 {survivor}。").format(merged=merged, survivor=result.survivor)
                + (_("转移了：{moved}。").format(moved=moved) if moved else ""),
            )
            return redirect(result.survivor.get_absolute_url())
    return render(
        request,
        "customers/merge.html",
        {
            "kind": kind,
            "survivor": survivor,
            "merged": merged,
            "rows": _rows(survivor, merged, choices),
            "error": error,
            "swap_url": reverse("customers:merge", args=[kind, merged.pk, survivor.pk]),
            "title": _("合并记录"),
            "breadcrumbs": [
                (_("疑似重复"), reverse("customers:duplicates") + f"?kind={kind}"),
                (_("合并记录"), None),
            ],
        },
        status=422 if error else 200,
    )
