"""`{% export_button %}`: the 导出 menu of a list page, carrying the page's current filters."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from pharmacrm.core.exports.base import NOT_FILTERS, export_for_model

register = template.Library()


@register.inclusion_tag("core/exports/button.html", takes_context=True)
def export_button(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    view = context.get("view")
    model = getattr(view, "model", None)
    spec = export_for_model(model) if model is not None else None
    if request is None or spec is None or not spec.may_export(request.user):
        return {"links": []}
    params = request.GET.copy()
    for name in NOT_FILTERS:
        params.pop(name, None)
    query = params.urlencode()
    links = []
    for fmt, label in (("xlsx", "Excel (xlsx)"), ("csv", "CSV")):
        url = reverse("exports:download", args=[spec.name, fmt])
        links.append({"url": f"{url}?{query}" if query else url, "label": label, "format": fmt})
    return {"links": links}
