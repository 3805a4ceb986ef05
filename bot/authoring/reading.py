"""Reading a spreadsheet safely: limits, problems with their places, and the cells of an .xlsx or .csv.

A file is checked for hostile or broken content before a parser sees it (size, zip bomb, macros,
XML entities, formulas, huge cells, too many rows); nothing in it is ever evaluated and external
links are never followed. Also the helpers that turn a cell into text, lines, a date, a date and
time in Morocco's time. Used by the FAQ and contacts import (`bot.authoring.faq`,
`bot.authoring.contacts`) and the events import (`bot.authoring.events`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from bot.authoring.validate import Problem

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 10_000_000
MAX_UNZIPPED_BYTES = 50_000_000
MAX_ZIP_MEMBERS = 2_000
MAX_CELL_CHARS = 10_000
MAX_ROWS = 5_000
MAX_PHYSICAL_ROWS = 100_000  # rows the reader walks through, empty ones included
MAX_COLUMNS = 64
MAX_CELL_PROBLEMS = 50

STAMP_SHEET = "_dalil"  # hidden: what each item looked like when exported
STAMP_COLUMNS = ("kind", "id", "fingerprint")

ITEM_ID = re.compile(r"^[a-z][a-z0-9_]{1,40}$")  # a topic or contact id (also a file name)
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F]")
_WHEN = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{1,2}:\d{2}(:\d{2})?)?$")  # a date, or a date and time
CSV_ESCAPED = ("=", "+", "-", "@", "\t", "\r")  # a CSV cell starting so gets a leading '
CASABLANCA = ZoneInfo("Africa/Casablanca")  # dates and times in the sheets are Morocco's


# -- problems and places ---------------------------------------------------------------------------
class SheetRejected(Exception):
    """The file cannot be imported at all; `problems` say why, in sentences."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def error(where: str, message: str, fix: str) -> Problem:
    return Problem("error", where, message, fix)


def warning(where: str, message: str, fix: str) -> Problem:
    return Problem("warning", where, message, fix)


@dataclass(frozen=True)
class Place:
    """Where a cell is, said the way an admin finds it: "faq.xlsx, sheet FAQ, row 12, column answer"."""

    file: str
    sheet: str | None = None

    def at(self, row: int | None = None, column: str | None = None, detail: str = "") -> str:
        parts = [self.file]
        if self.sheet:
            parts.append(f"sheet {self.sheet}")
        if row is not None:
            parts.append(f"row {row}")
        if detail:
            parts.append(detail)
        if column:
            parts.append(f"column {column}")
        return ", ".join(parts)


# -- reading a file safely -------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One non-empty row: its number as the spreadsheet shows it, and its raw cell values."""

    number: int
    cells: Mapping[str, Any]

    def text(self, column: str) -> str:
        return cell_text(self.cells.get(column))


@dataclass
class Table:
    place: Place
    columns: list[str]
    rows: list[Row]


@dataclass
class Book:
    tables: dict[str, Table]
    sheet_names: list[str]
    problems: list[Problem] = field(default_factory=list)  # warnings only; errors raise


def cell_text(value: Any) -> str:
    """A cell as text: newlines normalised, surrounding blanks removed, dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S" if value.second else "%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("\r\n", "\n").replace("\r", "\n").strip()


def read_book(
    path: Path, wanted: Mapping[str, Sequence[str]], *, required: str, hints: Mapping[str, str] | None = None
) -> Book:
    """Read the sheets `wanted` ({name: columns}) of an .xlsx or .csv; raise SheetRejected if unsafe.

    A .csv holds the `required` sheet alone. Every column listed is required in its sheet; other
    columns are ignored with a warning. No formula is evaluated and no link is followed. `hints`
    maps the sheet name of another kind of export to a sentence saying how to import that file.
    """
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SheetRejected(
            [
                error(
                    name, f"the file cannot be opened ({exc.strerror})", "Check the file name and that the file exists."
                )
            ]
        ) from exc
    if size > MAX_FILE_BYTES:
        raise SheetRejected(
            [
                error(
                    name,
                    f"the file is {size / 1e6:.1f} MB, more than {MAX_FILE_BYTES // 1_000_000} MB",
                    "Export a fresh file and only edit the text; do not paste images or other sheets.",
                )
            ]
        )
    if size == 0:
        raise SheetRejected([error(name, "the file is empty", "Export a fresh file with the export command.")])
    if path.suffix.lower() == ".csv":
        book = _read_csv(path, wanted[required], required)
    else:
        book = _read_xlsx(path, wanted)
    if required not in book.tables:
        others = ", ".join(book.sheet_names) or "none"
        hint = next((h for s, h in (hints or {}).items() if s in book.sheet_names), None)
        raise SheetRejected(
            [
                error(
                    name,
                    f"the workbook has no sheet named {required} (its sheets: {others})",
                    hint
                    or f"Import the file made by the export command, with its sheet {required} (do not rename it).",
                )
            ]
        )
    return book


def _read_xlsx(path: Path, wanted: Mapping[str, Sequence[str]]) -> Book:
    import openpyxl  # imported here: only admins' commands need it

    name = path.name
    _check_container(path)
    problems: list[Problem] = []
    cell_problems: list[Problem] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about extensions it drops; not our concern
        try:
            workbook = openpyxl.load_workbook(path, read_only=True, keep_links=False, data_only=False, keep_vba=False)
        except Exception as exc:  # any parser failure means "not a workbook we can read"
            log.info("openpyxl could not open %s: %r", name, exc)
            raise SheetRejected(
                [
                    error(
                        name,
                        "the file cannot be read as an Excel workbook",
                        "Save it from Excel or LibreOffice as “Excel Workbook (.xlsx)” and try again.",
                    )
                ]
            ) from exc
        try:
            sheet_names = list(workbook.sheetnames)
            tables: dict[str, Table] = {}
            for wanted_name, columns in wanted.items():
                actual = next((s for s in sheet_names if s.strip().casefold() == wanted_name.casefold()), None)
                if actual is None:
                    continue
                tables[wanted_name] = _read_rows(
                    workbook[actual].iter_rows(max_col=MAX_COLUMNS),
                    Place(name, actual),
                    columns,
                    problems,
                    cell_problems,
                )
        except SheetRejected:
            raise
        except Exception as exc:  # a malformed part of the file
            log.info("openpyxl could not read %s: %r", name, exc)
            raise SheetRejected(
                [
                    error(
                        name,
                        "part of the workbook is damaged and cannot be read",
                        "Open it in Excel or LibreOffice, save it as .xlsx again and retry.",
                    )
                ]
            ) from exc
        finally:
            workbook.close()
    _raise_if_errors(cell_problems)
    return Book(tables, sheet_names, problems)


def _check_container(path: Path) -> None:
    """Refuse what is not a plain .xlsx before openpyxl sees it (junk, .xls, .docx, zip bombs, DTDs)."""
    name = path.name
    _check_head(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            _check_size(name, members)
            _check_parts(name, {m.filename for m in members})
            _check_entities(name, archive, members)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        RuntimeError,
        OSError,
        EOFError,
        zlib.error,
    ) as exc:
        raise SheetRejected(
            [
                error(
                    name,
                    "the file is damaged or is not an Excel workbook",
                    "Save it from Excel or LibreOffice as “Excel Workbook (.xlsx)”.",
                )
            ]
        ) from exc


def _check_head(path: Path) -> None:
    """Refuse an old Office file (.xls) or anything that is not a zip, from the file's first bytes."""
    name = path.name
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise SheetRejected(
            [
                error(
                    name,
                    "this is an old Excel 97–2003 file (.xls) or another Office format",
                    "Save it as “Excel Workbook (.xlsx)” and import that file.",
                )
            ]
        )
    if not head.startswith(b"PK"):
        raise SheetRejected(
            [
                error(
                    name,
                    "this is not an Excel workbook (.xlsx): its content is not a spreadsheet",
                    "Import the .xlsx made by the export command, or a .csv file.",
                )
            ]
        )


def _check_size(name: str, members: Sequence[zipfile.ZipInfo]) -> None:
    """Refuse a zip with far more parts than a spreadsheet has, or too big once unpacked (a zip bomb)."""
    if len(members) > MAX_ZIP_MEMBERS:
        raise SheetRejected(
            [
                error(
                    name,
                    f"the workbook holds {len(members)} parts, far more than a spreadsheet has",
                    "Export a fresh file and copy your edits into it.",
                )
            ]
        )
    unzipped = sum(m.file_size for m in members)
    if unzipped > MAX_UNZIPPED_BYTES:
        raise SheetRejected(
            [
                error(
                    name,
                    f"once unpacked the workbook would take {unzipped / 1e6:.0f} MB "
                    f"(more than {MAX_UNZIPPED_BYTES // 1_000_000} MB)",
                    "This is not an ordinary FAQ file; export a fresh one.",
                )
            ]
        )


def _check_parts(name: str, names: set[str]) -> None:
    """Refuse a zip whose parts (`names`) are not a workbook's (Word, PowerPoint, OpenDocument) or hold macros."""
    if "xl/workbook.xml" not in names:
        kind = (
            "a Word document"
            if "word/document.xml" in names
            else "a PowerPoint file"
            if "ppt/presentation.xml" in names
            else "an OpenDocument file"
            if "mimetype" in names
            else "a zip archive"
        )
        raise SheetRejected(
            [
                error(
                    name,
                    f"this is {kind}, not an Excel workbook",
                    "Import the .xlsx made by the export command (save as “Excel Workbook (.xlsx)”).",
                )
            ]
        )
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise SheetRejected(
            [
                error(
                    name,
                    "the workbook contains macros",
                    "Save it as a plain “Excel Workbook (.xlsx)”, without macros.",
                )
            ]
        )


def _check_entities(name: str, archive: zipfile.ZipFile, members: Sequence[zipfile.ZipInfo]) -> None:
    """Refuse a workbook with an XML part that declares entities (spreadsheets never do)."""
    for member in members:
        if member.filename.endswith((".xml", ".rels", ".vml")) and _declares_entities(archive, member):
            raise SheetRejected(
                [
                    error(
                        name,
                        f"the part {member.filename} declares XML entities, which spreadsheets never do",
                        "This file was crafted or damaged; export a fresh one.",
                    )
                ]
            )


def _declares_entities(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bool:
    """Whether an XML part has a DOCTYPE or ENTITY declaration (entity-expansion attacks)."""
    tail = b""
    with archive.open(member) as handle:  # zipfile stops at the declared size, checked above
        while chunk := handle.read(1 << 16):
            window = (tail + chunk).upper()
            if b"<!DOCTYPE" in window or b"<!ENTITY" in window:
                return True
            tail = chunk[-16:]
    return False


def _read_csv(path: Path, columns: Sequence[str], sheet: str) -> Book:
    name = path.name
    data = path.read_bytes()
    if data.startswith(b"PK") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise SheetRejected(
            [
                error(
                    name,
                    "this is an Excel or Office file with a .csv name",
                    "Give it its real extension (.xlsx) or save it as “CSV UTF-8”.",
                )
            ]
        )
    if b"\x00" in data:
        raise SheetRejected(
            [error(name, "this is not a text file", "Save the sheet as “CSV UTF-8 (comma delimited)”.")]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SheetRejected(
            [
                error(
                    name,
                    "the file is not UTF-8 text, so Arabic would be garbled",
                    "In Excel use “Save as → CSV UTF-8 (comma delimited)”.",
                )
            ]
        ) from exc
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)  # Excel in French writes ";"
    problems: list[Problem] = []
    cell_problems: list[Problem] = []
    place = Place(name)
    try:
        records = [
            [_csv_unescape(v) for v in record]
            for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        ]
    except csv.Error as exc:
        raise SheetRejected(
            [
                error(
                    name,
                    f"the CSV cannot be read ({exc}); a cell may be longer than "
                    f"{MAX_CELL_CHARS:,} characters or a quote is unbalanced",
                    "Export a fresh file and copy your edits into it.",
                )
            ]
        ) from exc
    table = _read_rows(
        ([_CsvCell(v) for v in record[:MAX_COLUMNS]] for record in records), place, columns, problems, cell_problems
    )
    _raise_if_errors(cell_problems)
    return Book({sheet: table}, [sheet], problems)


@dataclass(frozen=True)
class _CsvCell:
    value: str

    @property
    def data_type(self) -> str:
        return "s"


def _csv_unescape(text: str) -> str:
    """A CSV cell as typed: the ' that kept Excel from reading it as a formula removed."""
    return text[1:] if text.startswith("'") and text[1:].startswith(CSV_ESCAPED) else text


def _read_rows(
    rows: Iterable[Sequence[Any]],
    place: Place,
    columns: Sequence[str],
    problems: list[Problem],
    cell_problems: list[Problem],
) -> Table:
    """Check every cell (formulas, errors, length, row count) and keep the known columns."""
    header: list[str] = []
    index: dict[int, str] = {}
    out: list[Row] = []
    skipped = 0
    for number, cells in enumerate(rows, 1):
        if number > MAX_PHYSICAL_ROWS:
            raise SheetRejected(
                [
                    error(
                        place.at(),
                        f"the sheet goes on past row {MAX_PHYSICAL_ROWS:,}",
                        f"Keep at most {MAX_ROWS:,} rows; delete the rows below them.",
                    )
                ]
            )
        values: dict[int, Any] = {}
        for col, cell in enumerate(cells):
            value = cell.value
            if value is None or value == "":
                continue
            column = header[col] if number > 1 and col < len(header) and header[col] else _letter(col)
            problem = _cell_problem(place, number, column, value, cell.data_type)
            if problem is not None:
                if len(cell_problems) < MAX_CELL_PROBLEMS:
                    cell_problems.append(problem)
                else:
                    skipped += 1
                continue
            values[col] = value
        if number == 1:
            header = [cell_text(values.get(c)).lower() for c in range(max(values, default=-1) + 1)]
            index = _header_index(header, place, columns, problems, cell_problems)
            continue
        known = {index[c]: v for c, v in values.items() if c in index}
        if not any(cell_text(v) for v in known.values()):
            continue
        if len(out) >= MAX_ROWS:
            raise SheetRejected(
                [
                    error(
                        place.at(),
                        f"the sheet has more than {MAX_ROWS:,} rows",
                        "This is not an ordinary file made by the export; export a fresh one.",
                    )
                ]
            )
        out.append(Row(number, known))
    if not header:
        cell_problems.append(
            error(
                place.at(1),
                "the first row should hold the column names and is empty",
                "Export a fresh file and copy your edits into it.",
            )
        )
    if skipped:
        cell_problems.append(
            error(place.at(), f"… and {skipped} more cells with problems", "Fix the cells above first.")
        )
    return Table(place, header, out)


def _letter(col: int) -> str:
    from openpyxl.utils import get_column_letter

    letter: str = get_column_letter(col + 1)
    return letter


def _cell_problem(place: Place, row: int, column: str, value: Any, data_type: str) -> Problem | None:
    where = place.at(row, column)
    if data_type == "f" or (isinstance(value, str) and value.startswith("=")):
        return error(where, "formulas are not allowed", "Type the text itself (a cell may not start with =).")
    if data_type == "e":
        return error(where, f"the cell shows an error ({value})", "Type the text itself instead.")
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        return error(
            where,
            f"the cell has {len(value):,} characters (at most {MAX_CELL_CHARS:,})",
            "Shorten the text: an answer is read on a phone.",
        )
    if not isinstance(value, (str, int, float, bool, dt.date, dt.time)):
        return error(where, "the cell holds something other than text", "Type the text itself.")
    return None


def _header_index(
    header: list[str], place: Place, columns: Sequence[str], problems: list[Problem], cell_problems: list[Problem]
) -> dict[int, str]:
    index: dict[int, str] = {}
    seen: dict[str, int] = {}
    for col, name in enumerate(header):
        if not name:
            continue
        if name not in columns:
            problems.append(
                warning(
                    place.at(1, name),
                    f"the column {name!r} is not known; it was ignored",
                    f"Only these columns are read: {', '.join(columns)}.",
                )
            )
            continue
        if name in seen:
            cell_problems.append(
                error(place.at(1, name), f"the column {name} appears twice", "Keep one column of each name.")
            )
            continue
        seen[name] = col
        index[col] = name
    missing = [c for c in columns if c not in seen]
    if missing and header:
        plural = "s are" if len(missing) > 1 else " is"
        cell_problems.append(
            error(
                place.at(1),
                f"the column{plural} missing: {', '.join(missing)}",
                "Do not delete or rename columns; export a fresh file and copy your edits into it.",
            )
        )
    return index


def _raise_if_errors(problems: list[Problem]) -> None:
    if problems:
        raise SheetRejected(problems)


def text_lines(value: Any, *, commas: bool = False) -> tuple[str, ...]:
    """A cell holding one item per line (or comma-separated when `commas`), blanks dropped."""
    text = cell_text(value)
    parts = re.split(r"[\n,]" if commas else r"\n", text)
    return tuple(p.strip() for p in parts if p.strip())


def parse_day(value: Any) -> dt.date | None:
    """A YYYY-MM-DD cell (text or a date Excel recognised); None when empty; ValueError when wrong."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = cell_text(value)
    if not text:
        return None
    if not re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
        raise ValueError(text)
    year, month, day = (int(x) for x in text.split("-"))
    return dt.date(year, month, day)


def parse_when(value: Any, *, from_sheet: bool = False) -> tuple[dt.datetime, bool] | None:
    """(local time, whether it is a whole day) from a cell or a YAML value; None when empty.

    Raises ValueError when the value is not a date. A date Excel recognised by itself (a cell not
    formatted as text) arrives as a datetime: at midnight it counts as a whole day.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        moment = value.astimezone(CASABLANCA).replace(tzinfo=None) if value.tzinfo else value
        return moment, from_sheet and moment.time() == dt.time() and value.tzinfo is None
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time()), True
    text = cell_text(value)
    if not text:
        return None
    if not _WHEN.match(text) and not re.match(r"^\d{4}-\d{2}-\d{2}T", text):
        raise ValueError(text)
    if len(text) == 10:
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time()), True
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(CASABLANCA).replace(tzinfo=None)
    return parsed, False


def format_when(moment: dt.datetime, *, day: bool) -> str:
    """Morocco's local time as the sheet shows it."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(CASABLANCA).replace(tzinfo=None)
    if day:
        return moment.date().isoformat()
    return moment.strftime("%Y-%m-%d %H:%M:%S" if moment.second else "%Y-%m-%d %H:%M")


def is_web_address(text: str) -> bool:
    parsed = urlparse(text)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc) and " " not in text


def has_arabic(text: str) -> bool:
    return bool(_ARABIC.search(text))


def extra_texts(mapping: Mapping[str, str]) -> dict[str, str]:
    """Texts in keys the sheet has no row or column for (kept as they are)."""
    return {k: v for k, v in mapping.items() if k not in ("fr", "ar", "ary", "en")}
