"""The export download: the list page's filters in the query string, the file streamed back."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse

from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.exports.base import Export, get_export, start_export
from pharmacrm.core.middleware import client_ip
from pharmacrm.core.spreadsheets import csv_chunks, xlsx_file

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_response(export: Export) -> HttpResponse:
    """CSV streams row by row; xlsx is written (streamed) to a temporary file first: a zip needs its end."""
    response: Any
    if export.format == "csv":
        response = StreamingHttpResponse(
            csv_chunks(export.header, export.rows), content_type=CONTENT_TYPES["csv"]
        )
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    else:
        handle, _count = xlsx_file(export.header, export.rows, title=str(export.spec.label))
        response = FileResponse(
            handle, as_attachment=True, filename=export.filename, content_type=CONTENT_TYPES["xlsx"]
        )
    response["X-Export-Rows"] = str(export.count)
    response["Cache-Control"] = "no-store"
    return response


@login_required
def export_list(request: HttpRequest, kind: str, fmt: str) -> HttpResponse:
    try:
        spec = get_export(kind)
    except DomainError:
        raise Http404 from None
    try:
        export = start_export(
            spec=spec, user=request.user, params=request.GET, fmt=fmt, source="ui", ip=client_ip(request)
        )
    except NotAllowed:
        raise PermissionDenied from None
    except DomainError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    return export_response(export)
