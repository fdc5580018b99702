"""The import engine: read a file row by row, check every row, write in batches, all or nothing.

One pass over the file. Each batch of rows is parsed, checked by the kind (references, in-file
duplicates, existing records) and, when writing, written at once: bulk inserts and updates with
their history rows, inside one transaction for the whole file. The first bad row stops the
writing but not the checking, so the report still lists every bad row; at the end a file with
any bad row is rolled back (unless the user asked for `partial`), so a refused import leaves the
database exactly as it was. A dry run checks without writing.

Memory stays bounded by the batch size plus whatever keys a kind keeps for duplicate checks
(for example the external ids seen so far), never by the file.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice
from typing import IO, Any, ClassVar

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pharmacrm.core.audit import Source, audit_context
from pharmacrm.core.errors import DomainError
from pharmacrm.core.imports.columns import CellError, Column, normalise_header
from pharmacrm.core.memory import release_free_heap
from pharmacrm.core.spreadsheets import MAX_CELL_CHARS, SpreadsheetError, open_sheet

# The report keeps this many issues of each level; the counts are always complete.
MAX_REPORTED_ISSUES = 1000
# SQLite's page cache for the length of an import (KiB; the site's connections use 64 MiB). A
# 10^6-row file touches far more pages than any cache holds, so a smaller one costs little time
# (the OS caches the file too) and keeps the import inside its memory budget.
IMPORT_SQLITE_CACHE_KIB = 16 * 1024
VALUE_PREVIEW = 60

ProgressCallback = Callable[[int, float], None]


def preview(value: str) -> str:
    if len(value) <= VALUE_PREVIEW:
        return value
    return value[:VALUE_PREVIEW] + "…"


@dataclass
class Issue:
    """One problem: where (row, column as the file names it), what (the value) and why."""

    row: int | None
    column: str
    value: str
    reason: str
    level: str = "error"

    def text(self) -> str:
        where = _("第 {row} 行").format(row=self.row) if self.row else _("文件")
        if self.column:
            where += _("，列“{column}”").format(column=self.column)
        if self.value:
            where += _("，值“{value}”").format(value=self.value)
        return f"{where}：{self.reason}"


@dataclass
class Report:
    """What an import did (or, for a dry run, would do), stored as JSON on the job."""

    kind: str
    dry_run: bool
    partial: bool
    format: str = ""
    encoding: str = ""
    status: str = "ok"  # ok | refused | partial
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    error_rows: int = 0
    error_count: int = 0
    warning_count: int = 0
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    written: bool = False
    # The file as a whole was refused (unreadable, bad header, empty): nothing can be written.
    fatal: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add(self, issue: Issue) -> None:
        if issue.level == "error":
            self.error_count += 1
            if len(self.errors) < MAX_REPORTED_ISSUES:
                self.errors.append(issue)
        else:
            self.warning_count += 1
            if len(self.warnings) < MAX_REPORTED_ISSUES:
                self.warnings.append(issue)

    def file_error(self, message: str, *, row: int | None = None) -> None:
        self.fatal = True
        self.add(Issue(row=row, column="", value="", reason=message))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        data = dict(data)
        data["errors"] = [Issue(**i) for i in data.get("errors", [])]
        data["warnings"] = [Issue(**i) for i in data.get("warnings", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def summary(self) -> str:
        if self.fatal:
            return _("文件无法导入，未写入任何数据。")
        if self.dry_run:
            head = _("试运行：共 {rows} 行，将新建 {created}、更新 {updated}、不变 {unchanged}")
        elif self.written:
            head = _("已导入：共 {rows} 行，新建 {created}、更新 {updated}、不变 {unchanged}")
        else:
            head = _("未导入任何数据：共 {rows} 行")
        text = head.format(
            rows=self.rows, created=self.created, updated=self.updated, unchanged=self.unchanged
        )
        if self.error_count:
            text += _("；{n} 行有错误（{count} 处）").format(n=self.error_rows, count=self.error_count)
        if self.skipped and self.written:
            text += _("，已跳过 {n} 行").format(n=self.skipped)
        if self.warning_count:
            text += _("；{n} 条提示").format(n=self.warning_count)
        return text + _("。")

    def lines(self) -> Iterator[str]:
        """The report as text, for the CLI."""
        yield self.summary()
        for issue in self.errors:
            yield _("错误") + "  " + issue.text()
        if self.error_count > len(self.errors):
            yield _("…… 另有 {n} 处错误未列出").format(n=self.error_count - len(self.errors))
        for issue in self.warnings:
            yield _("提示") + "  " + issue.text()
        if self.warning_count > len(self.warnings):
            yield _("…… 另有 {n} 条提示未列出").format(n=self.warning_count - len(self.warnings))


class Row:
    """One data row: parsed values by column name, the raw cells, and what the kind decided."""

    __slots__ = ("action", "cells", "errors", "extra", "labels", "number", "obj", "values", "warnings")

    def __init__(self, number: int, labels: dict[str, str]):
        self.number = number
        self.labels = labels
        self.values: dict[str, Any] = {}
        self.cells: dict[str, str] = {}
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []
        self.action = ""  # create | update | unchanged
        self.obj: Any = None
        self.extra: dict[str, Any] = {}

    def has(self, name: str) -> bool:
        """The file has this column and the cell parsed (it may be blank)."""
        return name in self.values

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def error(self, name: str, reason: str, *, value: str | None = None) -> None:
        self.errors.append(self._issue(name, reason, value, "error"))

    def warn(self, name: str, reason: str, *, value: str | None = None) -> None:
        self.warnings.append(self._issue(name, reason, value, "warning"))

    def _issue(self, name: str, reason: str, value: str | None, level: str) -> Issue:
        shown = self.cells.get(name, "") if value is None else value
        return Issue(
            row=self.number,
            column=self.labels.get(name, name),
            value=preview(shown),
            reason=reason,
            level=level,
        )


class ImportKind:
    """What can be imported. Subclasses declare columns and implement check/write; one instance per run.

    `check(rows)` resolves references and decides each good row's action (create, update,
    unchanged), adding errors to rows it refuses. `write(rows)` gets only good rows, and only
    while the run writes. `finish()` runs after the last batch of a written run.
    """

    # Templates list kinds as classes: without this, Django would call the class (kind.name → "").
    do_not_call_in_templates: ClassVar[bool] = True
    name: ClassVar[str]
    label: ClassVar[Any]
    model: ClassVar[type[models.Model]]
    columns: ClassVar[list[Column]]
    roles: ClassVar[frozenset[str]] = frozenset()
    batch_size: ClassVar[int] = 2000
    # Rows for the template, in column order (strings as a user would type them).
    examples: ClassVar[list[list[str]]] = []
    notes: ClassVar[list[Any]] = []  # lazy translations
    # Offered on the generic 导入 page, its API and its templates. A kind with its own pages and
    # parameters (flow files: a distributor, a period) is not, but runs as the same kind of job.
    listed: ClassVar[bool] = True
    job_url_name: ClassVar[str] = "imports:job_detail"

    def __init__(self, *, actor: Any, writing: bool, partial: bool, report: Report):
        self.actor = actor
        self.writing = writing
        self.partial = partial
        self.report = report
        self.now = timezone.now()
        self.history_attrs = {"history_source": Source.IMPORT}
        # Lookups a kind keeps for the whole run (e.g. institutions by external id).
        self.memo: dict[str, Any] = {}

    @classmethod
    def import_columns(cls) -> list[Column]:
        return [c for c in cls.columns if not c.export_only]

    def begin(self) -> None:
        """Load what every batch needs (lookup tables); called once, inside the transaction."""

    def check(self, rows: list[Row]) -> None:
        raise NotImplementedError

    def write(self, rows: list[Row]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Work after the last batch of a written run."""

    @classmethod
    def may_import(cls, user: Any) -> bool:
        """None is the command line run by an operator, which is not limited by role."""
        return user is None or bool(getattr(user, "roles", frozenset()) & cls.roles)

    @classmethod
    def clean_params(cls, params: dict[str, Any], *, actor: Any) -> dict[str, Any]:
        """Check a job's parameters when it is created; raise DomainError naming the bad field.

        Column-based kinds take none. The cleaned dict is stored on the job and given to `run`.
        """
        if params:
            raise DomainError(
                _("“{kind}”不接受参数：{names}").format(kind=cls.label, names="、".join(sorted(params))),
                code="unexpected_params",
            )
        return {}

    @classmethod
    def run(
        cls,
        fileobj: IO[bytes],
        *,
        actor: Any,
        dry_run: bool,
        partial: bool,
        params: dict[str, Any],
        name: str = "",
        on_progress: ProgressCallback | None = None,
    ) -> tuple[Report, dict[str, Any]]:
        """Check or import one file for a job: the row report and what the kind produced (JSON).

        Column-based kinds run the shared engine; a kind that reads its own layouts (flow) overrides it.
        """
        report = run_import(
            cls, fileobj, actor=actor, dry_run=dry_run, partial=partial, on_progress=on_progress
        )
        return report, {}


def map_header(header: list[str], columns: list[Column]) -> tuple[dict[int, Column], list[str], list[str]]:
    """Index → column for the file's header; plus errors (missing required, duplicates) and ignored headers."""
    lookup: dict[str, Column] = {}
    for column in columns:
        for name in column.names():
            lookup[normalise_header(name)] = column
    mapping: dict[int, Column] = {}
    seen: dict[str, int] = {}
    errors: list[str] = []
    ignored: list[str] = []
    for index, raw in enumerate(header):
        if not raw:
            continue
        found = lookup.get(normalise_header(raw))
        if found is None:
            ignored.append(raw)
            continue
        column = found
        if column.name in seen:
            errors.append(
                _("列“{header}”重复：第 {first} 列和第 {second} 列都是“{name}”。").format(
                    header=raw, first=seen[column.name] + 1, second=index + 1, name=column.header
                )
            )
            continue
        seen[column.name] = index
        if not column.export_only:
            mapping[index] = column
    missing = [c for c in columns if c.required and c.name not in seen]
    if missing:
        errors.append(
            _("缺少必填列：{columns}。").format(columns="、".join(f"{c.header}（{c.name}）" for c in missing))
        )
    return mapping, errors, ignored


def parse_row(
    number: int, cells: list[str], mapping: dict[int, Column], labels: dict[str, str], width: int
) -> Row:
    row = Row(number, labels)
    for index, column in mapping.items():
        text = cells[index] if index < len(cells) else ""
        row.cells[column.name] = text
        if len(text) > MAX_CELL_CHARS:
            row.error(
                column.name,
                _("单元格内容过长（{length} 个字符），单元格上限 {limit} 个字符，已拒绝。").format(
                    length=f"{len(text):,}", limit=f"{MAX_CELL_CHARS:,}"
                ),
            )
            continue
        if not text:
            if column.required:
                row.error(column.name, _("必填，不能为空"))
            else:
                row.values[column.name] = column.blank
            continue
        try:
            row.values[column.name] = column.parse(text)
        except CellError as exc:
            row.error(column.name, str(exc))
    extra = [c for c in cells[width:] if c]
    if extra:
        row.errors.append(
            Issue(
                row=number,
                column="",
                value=preview(extra[0]),
                reason=_("这一行的单元格多于表头的 {width} 列：请检查是否错位。").format(width=width),
            )
        )
    return row


def _batches(rows: Iterable[tuple[int, list[str]]], size: int) -> Iterator[list[tuple[int, list[str]]]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


class _Refused(Exception):
    """Raised inside the transaction to roll a refused run back."""


def run_import(
    kind: type[ImportKind],
    fileobj: IO[bytes],
    *,
    actor: Any = None,
    dry_run: bool = False,
    partial: bool = False,
    ip: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> Report:
    """Check (and unless `dry_run`, write) a whole file. Never raises for bad input: see the report."""
    started = time.perf_counter()
    report = Report(kind=kind.name, dry_run=dry_run, partial=partial)
    try:
        sheet = open_sheet(fileobj)
    except SpreadsheetError as exc:
        report.file_error(exc.message, row=exc.row)
        report.status = "refused"
        return report
    report.format, report.encoding = sheet.format, sheet.encoding
    mapping, header_errors, ignored = map_header(sheet.header, kind.columns)
    export_only = {normalise_header(n) for c in kind.columns if c.export_only for n in c.names()}
    report.ignored_columns = [h for h in ignored if normalise_header(h) not in export_only]
    if report.ignored_columns:
        report.add(
            Issue(
                row=1,
                column="",
                value="",
                reason=_("未识别的列将被忽略：{columns}").format(columns="、".join(report.ignored_columns)),
                level="warning",
            )
        )
    for message in header_errors:
        report.file_error(message, row=1)
    if header_errors:
        report.status = "refused"
        return report
    labels = {column.name: sheet.header[index] for index, column in mapping.items()}
    width = len(sheet.header)
    while width and not sheet.header[width - 1]:
        width -= 1
    writing = not dry_run
    importer = kind(actor=actor, writing=writing, partial=partial, report=report)
    with audit_context(source=Source.IMPORT, actor=actor, ip=ip), _sqlite_cache(IMPORT_SQLITE_CACHE_KIB):
        try:
            with transaction.atomic() if writing else contextlib.nullcontext():
                importer.begin()
                _run(importer, sheet, mapping, labels, width, on_progress)
                if writing and (partial or report.ok) and report.rows:
                    importer.finish()
                if writing and ((not report.ok and not partial) or not report.rows):
                    raise _Refused
        except _Refused:
            pass
        except SpreadsheetError as exc:
            report.file_error(exc.message, row=exc.row)
        except IntegrityError as exc:  # a concurrent change slipped between check and write
            report.file_error(
                _("写入时与数据库中的记录冲突（可能有人同时在修改），请重试：{error}").format(error=exc)
            )
    if not report.rows and report.ok:
        report.file_error(_("文件只有表头，没有数据行。"))
    report.written = writing and not report.fatal and (report.ok or partial)
    if not report.ok:
        report.status = "partial" if report.written else "refused"
    if writing and not report.written:
        report.created = report.updated = report.unchanged = 0
    report.seconds = round(time.perf_counter() - started, 3)
    return report


@contextlib.contextmanager
def _sqlite_cache(kib: int) -> Iterator[None]:
    """Run with SQLite's page cache at `kib` KiB, then put the connection's own size back."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size=-{int(kib)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size={before}")


def _run(
    importer: ImportKind,
    sheet: Any,
    mapping: dict[int, Column],
    labels: dict[str, str],
    width: int,
    on_progress: ProgressCallback | None,
) -> None:
    report = importer.report
    for batch in _batches(sheet.rows, importer.batch_size):
        rows = [parse_row(n, cells, mapping, labels, width) for n, cells in batch if any(cells)]
        if not rows:
            continue
        report.rows += len(rows)
        importer.check(rows)
        good: list[Row] = []
        for row in rows:
            for warning in row.warnings:
                report.add(warning)
            if row.errors:
                report.error_rows += 1
                report.skipped += 1
                for issue in row.errors:
                    report.add(issue)
                continue
            good.append(row)
            if row.action == "create":
                report.created += 1
            elif row.action == "update":
                report.updated += 1
            else:
                report.unchanged += 1
        if importer.writing and (importer.partial or report.ok):
            todo = [r for r in good if r.action in ("create", "update")]
            if todo:
                importer.write(todo)
            del todo
        del rows, good
        # The batch's buffers are free now: give them back, or the heap grows with the file
        # (pharmacrm.core.memory says why).
        release_free_heap()
        if on_progress is not None:
            on_progress(report.rows, sheet.progress())
