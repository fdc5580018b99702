"""Export specs, their registry, and the one function every export goes through."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from django.db import models
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext as _

from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.models import ExportLog

FORMATS = ("xlsx", "csv")
# Excel's sheet limit (1,048,576 rows, one is the header); CSV has none.
XLSX_MAX_ROWS = 1_048_575
STREAM_CHUNK = 2000
# Query parameters that shape the page, not the rows.
NOT_FILTERS = frozenset({"page", "sort", "per_page", "format"})


@dataclass(frozen=True)
class ExportColumn:
    name: str
    header: str
    value: Callable[[Any], Any]
    personal: bool = False  # contact details: only for roles allowed to take them out


class ExportSpec:
    """A list that can be exported. Subclasses set the model, the filterset and the columns."""

    name: ClassVar[str]
    label: ClassVar[Any]
    model: ClassVar[type[models.Model]]

    def filterset_class(self) -> Any:
        raise NotImplementedError

    def queryset(self, user: Any) -> models.QuerySet[Any]:
        """The rows the user may see (visibility scope), with what the columns read selected."""
        raise NotImplementedError

    def columns(self, user: Any) -> list[ExportColumn]:
        raise NotImplementedError

    def may_export(self, user: Any) -> bool:
        raise NotImplementedError

    def after_export(self, *, user: Any, columns: list[ExportColumn], rows: int, ip: str | None) -> None:
        """Extra records an app keeps (e.g. the sensitive-access log for personal data)."""


_specs: dict[str, ExportSpec] = {}
_discovered = False


def register(spec_class: type[ExportSpec]) -> type[ExportSpec]:
    _specs[spec_class.name] = spec_class()
    return spec_class


def _discover() -> None:
    global _discovered
    if not _discovered:
        _discovered = True
        autodiscover_modules("exporting")


def get_export(name: str) -> ExportSpec:
    _discover()
    spec = _specs.get(name)
    if spec is None:
        raise DomainError(_("未知的导出内容“{name}”。").format(name=name), code="not_found")
    return spec


def export_for_model(model: type[models.Model]) -> ExportSpec | None:
    _discover()
    return next((s for s in _specs.values() if s.model is model), None)


@dataclass
class Export:
    spec: ExportSpec
    format: str
    header: list[str]
    rows: Iterator[list[Any]]
    count: int
    filename: str
    log: ExportLog


def start_export(
    *,
    spec: ExportSpec,
    user: Any,
    params: Mapping[str, Any],
    fmt: str,
    source: str = "ui",
    ip: str | None = None,
) -> Export:
    """Check the user may export, filter exactly like the list page, log, and return a row stream."""
    if fmt not in FORMATS:
        raise DomainError(_("导出格式只能是 xlsx 或 csv。"), fields={"format": [_("不在可选值中。")]})
    if not spec.may_export(user):
        raise NotAllowed(_("您的角色不能导出“{label}”。").format(label=spec.label))
    data = {k: v for k, v in params.items() if k not in NOT_FILTERS}
    filterset = spec.filterset_class()(data=data, queryset=spec.queryset(user))
    if not filterset.is_valid():
        fields = {k: [str(m) for m in v] for k, v in filterset.errors.items()}
        raise DomainError(_("筛选条件有误。"), fields=fields)
    qs = filterset.qs
    count = qs.count()
    if fmt == "xlsx" and count > XLSX_MAX_ROWS:
        raise DomainError(
            _("共 {count} 行，超过 Excel 的行数上限，请缩小筛选范围或导出为 CSV。").format(count=count),
            code="too_many_rows",
        )
    columns = spec.columns(user)
    filters = {k: v for k, v in filterset.form.cleaned_data.items() if v not in (None, "", [])}
    log = ExportLog.objects.create(
        user=user,
        kind=spec.name,
        format=fmt,
        filters={k: str(getattr(v, "pk", v)) for k, v in filters.items()},
        columns=[c.name for c in columns],
        row_count=count,
        includes_contacts=any(c.personal for c in columns),
        source=source,
        ip=ip,
    )
    spec.after_export(user=user, columns=columns, rows=count, ip=ip)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return Export(
        spec=spec,
        format=fmt,
        header=[c.header for c in columns],
        rows=_rows(qs, columns),
        count=count,
        filename=f"{spec.name}-{stamp}.{fmt}",
        log=log,
    )


def _rows(qs: models.QuerySet[Any], columns: list[ExportColumn]) -> Iterator[list[Any]]:
    # iterator(): rows are fetched in chunks and never cached, so 10^6 rows stream in bounded memory.
    for obj in qs.iterator(chunk_size=STREAM_CHUNK):
        yield [c.value(obj) for c in columns]


def label(choices: type[models.TextChoices], value: Any) -> str:
    """A choice's label in the user's language (the import accepts labels in either language)."""
    if not value:
        return ""
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def local_time(value: dt.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""
