"""Spreadsheet files in and out: CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) and xlsx, streamed both ways.

Reading sniffs the content, not the file name (a PDF renamed .csv is refused by what it is),
decodes CSV in whatever encoding Chinese Excel produced, refuses merged header cells, caps every
cell, and yields rows one at a time so a million-row file costs no more memory than ten.
Writing escapes cells a spreadsheet would run as a formula (`=`, `+`, `-`, `@`).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import decimal
import io
import re
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.utils.translation import gettext as _

from pharmacrm.core.errors import DomainError

# Excel's own limit for one cell; anything longer did not come from a spreadsheet.
MAX_CELL_CHARS = 32_767
# The csv module refuses longer fields outright; we read up to this so a 10 MB cell is reported
# against its row and column instead of stopping the file, and no further so memory stays bounded.
CSV_FIELD_LIMIT = 16 * 1024 * 1024
# A zip whose sheets unpack to more than this is refused before openpyxl inflates it.
XLSX_MAX_UNPACKED = 2 * 1024 * 1024 * 1024
XLSX_MAX_SHARED_STRINGS = 256 * 1024 * 1024

csv.field_size_limit(min(CSV_FIELD_LIMIT, sys.maxsize))


class SpreadsheetError(DomainError):
    """The file as a whole cannot be read (wrong type, undecodable, no header…)."""

    code = "bad_file"

    def __init__(self, message: Any, *, row: int | None = None):
        super().__init__(message)
        self.row = row


@dataclass
class Sheet:
    """An opened file: its header and a one-pass iterator of (row number, cells).

    Row numbers are what the user sees in Excel: the header is row 1, data starts at row 2.
    Cells are stripped strings ("" when empty); over-long cells are passed through untouched so
    the caller can name the row and column when refusing them.
    """

    format: str
    encoding: str
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    _progress: Any = field(default=None, repr=False)

    def progress(self) -> float:
        """Fraction of the file read so far (0–1), for progress bars."""
        return float(self._progress()) if self._progress else 0.0


_WHITESPACE = "\u3000\u00a0\ufeff"


def clean_cell(value: Any) -> str:
    """A cell as text: numbers without a spurious '.0', dates as ISO, surrounding (full-width) spaces dropped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = value if isinstance(value, str) else str(value)
    return text.strip().strip(_WHITESPACE).strip()


def sniff_format(head: bytes) -> str:
    """'csv' or 'xlsx' from the first bytes; anything else is refused with what it looks like."""
    if not head:
        raise SpreadsheetError(_("文件是空的。"))
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"%PDF"):
        raise SpreadsheetError(
            _("这是一个 PDF 文件，不是 CSV 或 xlsx 表格。请从 Excel 另存为 .xlsx 或 CSV 后再上传。")
        )
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise SpreadsheetError(_("不支持旧版 Excel（.xls）文件，请另存为 .xlsx 或 CSV 后再上传。"))
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "csv"
    for magic, what in (
        (b"\x89PNG", "PNG"),
        (b"\xff\xd8\xff", "JPEG"),
        (b"GIF8", "GIF"),
        (b"\x1f\x8b", "gzip"),
    ):
        if head.startswith(magic):
            raise SpreadsheetError(_("这是一个 {what} 文件，不是 CSV 或 xlsx 表格。").format(what=what))
    if b"\x00" in head:
        raise SpreadsheetError(_("文件不是文本格式的 CSV，也不是 xlsx 表格。"))
    return "csv"


def open_sheet(fileobj: IO[bytes]) -> Sheet:
    """Open a seekable binary file as a Sheet, whatever its extension says."""
    fileobj.seek(0)
    head = fileobj.read(8)
    fmt = sniff_format(head)
    fileobj.seek(0)
    sheet = _open_xlsx(fileobj) if fmt == "xlsx" else _open_csv(fileobj)
    if not any(sheet.header):
        raise SpreadsheetError(_("第 1 行（表头）是空的：请把列名放在第 1 行。"), row=1)
    return sheet


# --- CSV ---------------------------------------------------------------------------------------------


def detect_encoding(fileobj: IO[bytes]) -> str:
    """utf-8-sig / utf-16 by BOM; else UTF-8 if the whole file decodes, else GB18030 (a superset of GBK)."""
    fileobj.seek(0)
    head = fileobj.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "gb18030"):
        fileobj.seek(0)
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for chunk in iter(lambda: fileobj.read(1 << 20), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise SpreadsheetError(_("无法识别文件编码：请在 Excel 中另存为“CSV UTF-8（逗号分隔）”后再上传。"))


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _open_csv(fileobj: IO[bytes]) -> Sheet:
    encoding = detect_encoding(fileobj)
    fileobj.seek(0, io.SEEK_END)
    size = fileobj.tell() or 1
    fileobj.seek(0)
    text = io.TextIOWrapper(fileobj, encoding=encoding, newline="")
    first = text.readline()
    text.seek(0)
    reader = csv.reader(text, delimiter=_delimiter(first))
    try:
        header = [clean_cell(h) for h in next(reader)]
    except StopIteration:
        raise SpreadsheetError(_("文件是空的。")) from None
    except csv.Error as exc:
        raise SpreadsheetError(_("第 1 行无法解析：{error}").format(error=exc), row=1) from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 1
        while True:
            number += 1
            try:
                raw = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if "field larger than field limit" in str(exc):
                    raise SpreadsheetError(
                        _("第 {row} 行有一个单元格超过 {limit} MB，文件无法继续读取。").format(
                            row=number, limit=CSV_FIELD_LIMIT // (1024 * 1024)
                        ),
                        row=number,
                    ) from None
                raise SpreadsheetError(
                    _("第 {row} 行无法解析：{error}").format(row=number, error=exc), row=number
                ) from None
            # csv gives text only: clean_cell's text branch, without its type tests (a tenth of a
            # 10^6-row flow import's checking time)
            yield number, [c.strip().strip(_WHITESPACE).strip() for c in raw]

    def progress() -> float:
        try:
            return min(fileobj.tell() / size, 1.0)
        except (ValueError, OSError):
            return 1.0

    return Sheet(format="csv", encoding=encoding, header=header, rows=rows(), _progress=progress)


# --- xlsx --------------------------------------------------------------------------------------------

_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*\bref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')


def _first_sheet_path(archive: zipfile.ZipFile) -> str:
    """The part name of the first worksheet, the one openpyxl reads as worksheets[0]."""
    names = set(archive.namelist())
    try:
        workbook = archive.read("xl/workbook.xml")
        rels = archive.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        raise SpreadsheetError(_("文件不是有效的 xlsx 表格。")) from None
    first = re.search(rb'<(?:\w+:)?sheet\b[^>]*\br:id="([^"]+)"', workbook) or re.search(
        rb'<(?:\w+:)?sheet\b[^>]*\bid="([^"]+)"', workbook
    )
    if first:
        target = re.search(
            rb'Id="' + re.escape(first.group(1)) + rb'"[^>]*Target="([^"]+)"', rels
        ) or re.search(rb'Target="([^"]+)"[^>]*Id="' + re.escape(first.group(1)) + rb'"', rels)
        if target:
            path = target.group(1).decode()
            path = path.lstrip("/") if path.startswith("/") else "xl/" + path
            if path in names:
                return path
    return "xl/worksheets/sheet1.xml"


def _header_merges(archive: zipfile.ZipFile, sheet_path: str) -> list[str]:
    """Merged ranges touching row 1. <mergeCells> follows the sheet data, so this scans the whole
    (decompressed, streamed) part with a byte regex: a fraction of a second even for 10^6 rows."""
    found: list[str] = []
    tail = b""
    try:
        with archive.open(sheet_path) as part:
            for chunk in iter(lambda: part.read(1 << 20), b""):
                data = tail + chunk
                for m in _MERGE.finditer(data):
                    c1, r1, c2, r2 = m.groups()
                    if int(r1) <= 1 <= int(r2 or r1):
                        found.append(
                            f"{c1.decode()}{r1.decode()}" + (f":{c2.decode()}{r2.decode()}" if c2 else "")
                        )
                tail = data[-200:]
    except KeyError:
        return []
    return sorted(set(found))


def _open_xlsx(fileobj: IO[bytes]) -> Sheet:
    from openpyxl import load_workbook

    try:
        archive = zipfile.ZipFile(fileobj)
    except zipfile.BadZipFile:
        raise SpreadsheetError(_("文件不是有效的 xlsx 表格（压缩包已损坏）。")) from None
    infos = archive.infolist()
    if sum(i.file_size for i in infos) > XLSX_MAX_UNPACKED or any(
        i.filename == "xl/sharedStrings.xml" and i.file_size > XLSX_MAX_SHARED_STRINGS for i in infos
    ):
        raise SpreadsheetError(_("xlsx 文件解压后过大，请拆分后再上传，或另存为 CSV。"))
    if "xl/workbook.xml" not in archive.namelist():
        raise SpreadsheetError(_("文件是压缩包，但不是 xlsx 表格。"))
    merges = _header_merges(archive, _first_sheet_path(archive))
    if merges:
        raise SpreadsheetError(
            _("表头（第 1 行）有合并单元格 {ranges}：请取消合并，每列一个列名。").format(
                ranges="、".join(merges)
            ),
            row=1,
        )
    fileobj.seek(0)
    try:
        workbook = load_workbook(fileobj, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises a zoo of types for broken files
        raise SpreadsheetError(_("xlsx 文件无法读取：{error}").format(error=exc.__class__.__name__)) from None
    if not workbook.worksheets:
        raise SpreadsheetError(_("xlsx 文件里没有工作表。"))
    worksheet = workbook.worksheets[0]
    total = worksheet.max_row if isinstance(getattr(worksheet, "max_row", None), int) else None
    it = worksheet.iter_rows(values_only=True)
    try:
        header = [clean_cell(h) for h in next(it)]
    except StopIteration:
        workbook.close()
        raise SpreadsheetError(_("文件是空的。")) from None
    state = {"row": 1}

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for number, values in enumerate(it, start=2):
                state["row"] = number
                yield number, [clean_cell(v) for v in values]
        finally:
            workbook.close()

    def progress() -> float:
        return min(state["row"] / total, 1.0) if total else 0.0

    return Sheet(format="xlsx", encoding="", header=header, rows=rows(), _progress=progress)


# --- Writing -----------------------------------------------------------------------------------------

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def escape_formula(value: Any) -> Any:
    """Text a spreadsheet would evaluate gets a leading apostrophe (OWASP CSV injection advice).

    Plain numbers such as "-5" stay as they are: they are data, not formulas.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _NUMBER.match(value):
        return "'" + value
    return value


def _cell_out(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return escape_formula(value if isinstance(value, int | float) else str(value))


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_chunks(header: list[str], rows: Iterable[Iterable[Any]], *, chunk_rows: int = 500) -> Iterator[bytes]:
    """UTF-8 with BOM (so Chinese Excel opens it correctly), escaped, in chunks for a streaming response."""
    writer = csv.writer(_Echo())
    yield codecs.BOM_UTF8 + writer.writerow([escape_formula(h) for h in header]).encode()
    buffer: list[str] = []
    for row in rows:
        buffer.append(writer.writerow([_cell_out(v) for v in row]))
        if len(buffer) >= chunk_rows:
            yield "".join(buffer).encode()
            buffer.clear()
    if buffer:
        yield "".join(buffer).encode()


def write_xlsx(
    target: IO[bytes],
    header: list[str],
    rows: Iterable[Iterable[Any]],
    *,
    title: str = "Sheet1",
    notes: list[list[str]] | None = None,
) -> int:
    """A write-only (streamed) workbook: the data sheet first, then an optional notes sheet. Returns rows written."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    bold = Font(bold=True)
    header_cells = []
    for h in header:
        cell = WriteOnlyCell(sheet, value=escape_formula(h))
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    count = 0
    for row in rows:
        sheet.append([_cell_out(v) for v in row])
        count += 1
    if notes:
        info = workbook.create_sheet(title=_("说明"))
        for line in notes:
            info.append([escape_formula(v) for v in line])
    workbook.save(target)
    return count


def xlsx_file(header: list[str], rows: Iterable[Iterable[Any]], **kwargs: Any) -> tuple[IO[bytes], int]:
    """The workbook in a temporary file (spilled to disk past a few MB), rewound for reading."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (handed to the response)
    count = write_xlsx(spool, header, rows, **kwargs)
    spool.seek(0)
    return spool, count
