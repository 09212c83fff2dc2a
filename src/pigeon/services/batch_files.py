"""Reading a Batch Sending upload: a CSV or XLSX file as a header row and data rows of text.

CSV may come in UTF-8 with or without BOM, UTF-16 with BOM (Excel's "Unicode text"), or GBK —
Excel in China saves "CSV" in the system's code page, GB18030 being the superset decoded here;
the delimiter is the one the header uses most of ``,``, ``;`` and tab.  XLSX is the first
sheet, read with openpyxl in read-only mode; numbers typed as numbers read as their digits.
Every refusal is an ``isv.INVALID_PARAMETERS`` saying what to fix; nothing here touches the
database (:mod:`pigeon.services.batches` checks and stores what is read).
"""

from __future__ import annotations

import codecs
import csv
import io
import warnings
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time

from pigeon.core.errors import PigeonError

MAX_ROWS = 10_000
"""Data rows a file may hold (the header not counted); split a longer list."""
MAX_FILE_BYTES = 4 * 1024 * 1024
"""The largest file accepted: 10,000 rows with a few variables take well under 1 MB."""
MAX_COLUMNS = 50
"""Columns read; any further are ignored (a template has a handful of variables)."""
MAX_XLSX_EXPANDED = 64 * 1024 * 1024
"""What an XLSX (a zip) may expand to: far more than a 10,000-row sheet takes."""


def _invalid(message: str) -> PigeonError:
    return PigeonError("isv.INVALID_PARAMETERS", message)


@dataclass(frozen=True)
class Sheet:
    """A file's cells as text: the first row and the rows after it, with their line
    numbers (1-based, as a spreadsheet shows them); empty rows are left out."""

    file_format: str  # "CSV (UTF-8)", "CSV (GBK)", "XLSX" …
    first: list[str]
    rows: list[tuple[int, list[str]]]


def read_file(file_name: str, data: bytes) -> Sheet:
    """Read an uploaded CSV or XLSX file, or raise ``isv.INVALID_PARAMETERS`` saying what is
    wrong with it (too large, empty, not a CSV or XLSX file, more than :data:`MAX_ROWS`)."""
    if len(data) > MAX_FILE_BYTES:
        raise _invalid(f"The file is larger than {MAX_FILE_BYTES // 1024 // 1024} MB; at most "
                       f"{MAX_FILE_BYTES // 1024 // 1024} MB and {MAX_ROWS:,} rows are accepted. "
                       "Split it into several batches.")
    if not data.strip():
        raise _invalid("The file is empty. Upload a CSV or XLSX file with a header row and "
                       "one row per number.")
    lowered = file_name.lower()
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    if data.startswith(b"\xd0\xcf\x11\xe0") or lowered.endswith(".xls"):
        raise _invalid("This is an old Excel .xls file (or a password-protected workbook). "
                       "Save it as .xlsx or as CSV and upload that.")
    if lowered.endswith((".xlsx", ".xlsm")):
        raise _invalid("The file is named .xlsx but is not an Excel workbook. Save it again "
                       "from Excel as .xlsx or as CSV.")
    return _read_csv(data)


def _decode(data: bytes) -> tuple[str, str]:
    for bom, encoding, name in ((codecs.BOM_UTF8, "utf-8", "UTF-8"),
                                (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
                                (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16")):
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(encoding), name
            except UnicodeDecodeError:
                break
    else:
        if b"\x00" not in data:
            try:
                return data.decode("utf-8"), "UTF-8"
            except UnicodeDecodeError:
                pass
            try:
                # GB18030 is the superset of GBK (and GB2312) that Excel's "CSV" writes in China.
                return data.decode("gb18030"), "GBK"
            except UnicodeDecodeError:
                pass
    raise _invalid("The file is neither a CSV text file (UTF-8 or GBK) nor an XLSX workbook. "
                   "Save your sheet as CSV or XLSX and upload that.")


def _read_csv(data: bytes) -> Sheet:
    text, encoding = _decode(data)
    first_line = text.split("\n", 1)[0]
    # The delimiter the header uses most: Excel writes "," (";" in some locales), a "text"
    # export uses tabs.  A single-column file has none: ",".
    delimiter = max(",\t;", key=first_line.count) if any(d in first_line for d in ",\t;") \
        else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    cells: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            if _keep(row, cells, reader.line_num):
                break
    except csv.Error as exc:
        raise _invalid(f"Line {reader.line_num} of the CSV file cannot be read ({exc}). "
                       "Check its quotes, or save the sheet as CSV again.") from None
    return _sheet(f"CSV ({encoding})", cells)


def _read_xlsx(data: bytes) -> Sheet:
    import openpyxl  # imported here: only XLSX uploads pay for it

    cells: list[tuple[int, list[str]]] = []
    try:
        # An XLSX is a zip: refuse one that would expand to far more than a 10,000-row sheet
        # needs before openpyxl inflates it (its shared strings are read whole).
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            expanded = sum(item.file_size for item in archive.infolist())
        if expanded > MAX_XLSX_EXPANDED:
            raise _invalid(f"The workbook expands to {expanded // 1024 // 1024} MB; at most "
                           f"{MAX_XLSX_EXPANDED // 1024 // 1024} MB are read. Keep only the "
                           "sheet with the numbers, or save it as CSV.")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Workbook contains no default style" …
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                sheet = workbook.worksheets[0]
                for line, row in enumerate(sheet.iter_rows(values_only=True,
                                                           max_col=MAX_COLUMNS), start=1):
                    if _keep([_xlsx_text(value) for value in row], cells, line):
                        break
            finally:
                workbook.close()
    except PigeonError:
        raise
    except Exception as exc:  # zipfile's, openpyxl's (InvalidFileException …), XML errors
        raise _invalid(f"The XLSX workbook cannot be read ({type(exc).__name__}). Save it "
                       "again from Excel, or save it as CSV.") from None
    return _sheet("XLSX", cells)


def _xlsx_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a number typed into a cell: 13800138000, not 13800138000.0
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M" if value.time() != time() else "%Y-%m-%d")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _keep(row: list[str], cells: list[tuple[int, list[str]]], line: int) -> bool:
    """Add a non-empty row; True once there are more rows than a file may have."""
    row = [cell.strip() for cell in row[:MAX_COLUMNS]]
    while row and not row[-1]:
        row.pop()
    if row:
        cells.append((line, row))
    return len(cells) > MAX_ROWS + 1  # the header and MAX_ROWS data rows


def _sheet(file_format: str, cells: list[tuple[int, list[str]]]) -> Sheet:
    if not cells:
        raise _invalid("The file has no rows. Put a header row (PhoneNumber and the "
                       "template's variables) and one row per number.")
    if len(cells) > MAX_ROWS + 1:
        raise _invalid(f"The file has more than {MAX_ROWS:,} rows; split it into several "
                       "batches.")
    (_line, first), *rows = cells
    return Sheet(file_format=file_format, first=first, rows=rows)
