"""Autocomplete for Tom Select: the professionals and institutions the user may see that match `q`."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from pharmacrm.customers import search

AUTOCOMPLETE_LIMIT = 20


def _autocomplete(request: HttpRequest, kind: str) -> JsonResponse:
    """{"results": [{"id", "text"}]}, the shape app.js gives Tom Select; a bad query is no results."""
    try:
        found = search.search(
            user=request.user, query=request.GET.get("q", ""), kinds=(kind,), limit=AUTOCOMPLETE_LIMIT
        )
    except search.InvalidSearch:
        return JsonResponse({"results": []})
    return JsonResponse(
        {"results": [{"id": hit.id, "text": hit.text} for hit in found.hits]},
        json_dumps_params={"ensure_ascii": False},
    )


@require_GET
@login_required
def autocomplete_professionals(request: HttpRequest) -> JsonResponse:
    return _autocomplete(request, search.PROFESSIONAL)


@require_GET
@login_required
def autocomplete_institutions(request: HttpRequest) -> JsonResponse:
    return _autocomplete(request, search.INSTITUTION)
