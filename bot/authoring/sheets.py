"""The FAQ and the contacts as a spreadsheet: export for admins, and a safe import back.

Owns turning `faq/*.yml` and `content/contacts.yml` into an .xlsx workbook (sheets FAQ, Contacts,
README) or a .csv of the FAQ sheet, and reading such a file back *without touching the project*:
the file is checked for hostile or broken content before a parser sees it (size, zip bomb,
formulas, huge cells, too many rows), read into `Topic` and `Contact` objects, validated with
`bot.authoring.validate.validate` (places given as file, sheet, row and column) and compared with the
project. Only when asked, and only when nothing blocks, are the changed files rewritten, each
atomically (temporary file, then rename). Nothing in a file is ever evaluated and external links
are never followed. An exported workbook carries a hidden sheet with a fingerprint of each topic
and contact as exported, so an import does not silently undo edits made in faq/ since the export.
The reading, reporting and writing machinery here is shared with `bot.authoring.events`.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import yaml

from bot.authoring.validate import FAMILIES, Problem, contract_topics, validate, yaml_locator
from bot.core.content import (
    QUESTION_LANGS,
    Contact,
    ContentError,
    Library,
    Source,
    Topic,
    dump_yaml,
    load_yaml,
)

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 10_000_000
MAX_UNZIPPED_BYTES = 50_000_000
MAX_ZIP_MEMBERS = 2_000
MAX_CELL_CHARS = 10_000
MAX_ROWS = 5_000
MAX_PHYSICAL_ROWS = 100_000  # rows the reader walks through, empty ones included
MAX_COLUMNS = 64
MAX_CELL_PROBLEMS = 50

FAQ_SHEET = "FAQ"
CONTACTS_SHEET = "Contacts"
README_SHEET = "README"
STAMP_SHEET = "_dalil"  # hidden: what each item looked like when exported
STAMP_COLUMNS = ("kind", "id", "fingerprint")

FAQ_COLUMNS = ("topic", "family", "language", "title", "answer", "caution", "questions",
               "sources", "last_checked", "contacts")
_LANGUAGE = FAQ_COLUMNS.index("language")
TOPIC_LEVEL_COLUMNS = ("family", "sources", "last_checked", "contacts")
FAQ_WIDTHS = {"topic": 18, "family": 12, "language": 10, "title": 28, "answer": 80, "caution": 40,
              "questions": 60, "sources": 45, "last_checked": 13, "contacts": 22}
# Which key of title/answer/caution a row of each way of writing holds (ary_latn has none:
# people who write Darija in Latin letters get the Darija answer in Arabic script).
TEXT_KEY: dict[str, str | None] = {"fr": "fr", "ar": "ar", "ary_arab": "ary", "ary_latn": None, "en": "en"}
RTL_LANGS = ("ar", "ary_arab")
RTL_FAQ_COLUMNS = ("title", "answer", "caution", "questions")

CONTACT_LANG_FIELDS = ("name", "address", "hours")
CONTACT_COLUMNS = ("id", "name_fr", "name_ar", "name_en", "phone", "whatsapp", "address_fr",
                   "address_ar", "address_en", "hours_fr", "hours_ar", "hours_en", "cities", "url",
                   "source", "checked", "check")
CONTACT_WIDTHS = {"id": 20, "phone": 20, "whatsapp": 20, "cities": 18, "url": 30, "source": 30,
                  "checked": 12, "check": 8}

_ID = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F]")
_PHONE = re.compile(r"^\+?[0-9][0-9 ]*$")
_YES = {"yes", "oui", "true", "1", "x", "نعم", "vrai"}
_NO = {"", "no", "non", "false", "0", "لا", "faux"}
_CSV_ESCAPED = ("=", "+", "-", "@", "\t", "\r")

Decision = Literal["same", "take", "keep", "conflict", "gone"]


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


def read_book(path: Path, wanted: Mapping[str, Sequence[str]], *, required: str,
              hints: Mapping[str, str] | None = None) -> Book:
    """Read the sheets `wanted` ({name: columns}) of an .xlsx or .csv; raise SheetRejected if unsafe.

    A .csv holds the `required` sheet alone. Every column listed is required in its sheet; other
    columns are ignored with a warning. No formula is evaluated and no link is followed. `hints`
    maps the sheet name of another kind of export to a sentence saying how to import that file.
    """
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SheetRejected([error(name, f"the file cannot be opened ({exc.strerror})",
                                   "Check the file name and that the file exists.")]) from exc
    if size > MAX_FILE_BYTES:
        raise SheetRejected([error(name, f"the file is {size / 1e6:.1f} MB, more than {MAX_FILE_BYTES // 1_000_000} MB",
                                   "Export a fresh file and only edit the text; do not paste images or other sheets.")])
    if size == 0:
        raise SheetRejected([error(name, "the file is empty", "Export a fresh file with the export command.")])
    if path.suffix.lower() == ".csv":
        book = _read_csv(path, wanted[required], required)
    else:
        book = _read_xlsx(path, wanted)
    if required not in book.tables:
        others = ", ".join(book.sheet_names) or "none"
        hint = next((h for s, h in (hints or {}).items() if s in book.sheet_names), None)
        raise SheetRejected([error(name, f"the workbook has no sheet named {required} (its sheets: {others})",
                                   hint or f"Import the file made by the export command, with its sheet {required} "
                                           "(do not rename it).")])
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
            workbook = openpyxl.load_workbook(path, read_only=True, keep_links=False, data_only=False,
                                              keep_vba=False)
        except Exception as exc:  # any parser failure means "not a workbook we can read"
            log.info("openpyxl could not open %s: %r", name, exc)
            raise SheetRejected([error(name, "the file cannot be read as an Excel workbook",
                                       "Save it from Excel or LibreOffice as “Excel Workbook (.xlsx)” and try again.")]) from exc
        try:
            sheet_names = list(workbook.sheetnames)
            tables: dict[str, Table] = {}
            for wanted_name, columns in wanted.items():
                actual = next((s for s in sheet_names if s.strip().casefold() == wanted_name.casefold()), None)
                if actual is None:
                    continue
                tables[wanted_name] = _read_rows(workbook[actual].iter_rows(max_col=MAX_COLUMNS),
                                                 Place(name, actual), columns, problems, cell_problems)
        except SheetRejected:
            raise
        except Exception as exc:  # a malformed part of the file
            log.info("openpyxl could not read %s: %r", name, exc)
            raise SheetRejected([error(name, "part of the workbook is damaged and cannot be read",
                                       "Open it in Excel or LibreOffice, save it as .xlsx again and retry.")]) from exc
        finally:
            workbook.close()
    _raise_if_errors(cell_problems)
    return Book(tables, sheet_names, problems)


def _check_container(path: Path) -> None:
    """Refuse what is not a plain .xlsx before openpyxl sees it (junk, .xls, .docx, zip bombs, DTDs)."""
    name = path.name
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise SheetRejected([error(name, "this is an old Excel 97–2003 file (.xls) or another Office format",
                                   "Save it as “Excel Workbook (.xlsx)” and import that file.")])
    if not head.startswith(b"PK"):
        raise SheetRejected([error(name, "this is not an Excel workbook (.xlsx): its content is not a spreadsheet",
                                   "Import the .xlsx made by the export command, or a .csv file.")])
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise SheetRejected([error(name, f"the workbook holds {len(members)} parts, far more than a spreadsheet has",
                                           "Export a fresh file and copy your edits into it.")])
            unzipped = sum(m.file_size for m in members)
            if unzipped > MAX_UNZIPPED_BYTES:
                raise SheetRejected([error(name, f"once unpacked the workbook would take {unzipped / 1e6:.0f} MB "
                                                 f"(more than {MAX_UNZIPPED_BYTES // 1_000_000} MB)",
                                           "This is not an ordinary FAQ file; export a fresh one.")])
            names = {m.filename for m in members}
            if "xl/workbook.xml" not in names:
                kind = ("a Word document" if "word/document.xml" in names
                        else "a PowerPoint file" if "ppt/presentation.xml" in names
                        else "an OpenDocument file" if "mimetype" in names
                        else "a zip archive")
                raise SheetRejected([error(name, f"this is {kind}, not an Excel workbook",
                                           "Import the .xlsx made by the export command (save as “Excel Workbook (.xlsx)”).")])
            if any(n.lower().endswith("vbaproject.bin") for n in names):
                raise SheetRejected([error(name, "the workbook contains macros",
                                           "Save it as a plain “Excel Workbook (.xlsx)”, without macros.")])
            for member in members:
                if member.filename.endswith((".xml", ".rels", ".vml")) and _declares_entities(archive, member):
                    raise SheetRejected([error(name, f"the part {member.filename} declares XML entities, which spreadsheets never do",
                                               "This file was crafted or damaged; export a fresh one.")])
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError, EOFError,
            zlib.error) as exc:
        raise SheetRejected([error(name, "the file is damaged or is not an Excel workbook",
                                   "Save it from Excel or LibreOffice as “Excel Workbook (.xlsx)”.")]) from exc


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
        raise SheetRejected([error(name, "this is an Excel or Office file with a .csv name",
                                   "Give it its real extension (.xlsx) or save it as “CSV UTF-8”.")])
    if b"\x00" in data:
        raise SheetRejected([error(name, "this is not a text file", "Save the sheet as “CSV UTF-8 (comma delimited)”.")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SheetRejected([error(name, "the file is not UTF-8 text, so Arabic would be garbled",
                                   "In Excel use “Save as → CSV UTF-8 (comma delimited)”.")]) from exc
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)  # Excel in French writes ";"
    problems: list[Problem] = []
    cell_problems: list[Problem] = []
    place = Place(name)
    try:
        records = [[_csv_unescape(v) for v in record]
                   for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:
        raise SheetRejected([error(name, f"the CSV cannot be read ({exc}); a cell may be longer than "
                                         f"{MAX_CELL_CHARS:,} characters or a quote is unbalanced",
                                   "Export a fresh file and copy your edits into it.")]) from exc
    table = _read_rows(([_CsvCell(v) for v in record[:MAX_COLUMNS]] for record in records),
                       place, columns, problems, cell_problems)
    _raise_if_errors(cell_problems)
    return Book({sheet: table}, [sheet], problems)


@dataclass(frozen=True)
class _CsvCell:
    value: str

    @property
    def data_type(self) -> str:
        return "s"


def _csv_escape(text: str) -> str:
    """Keep Excel from reading a CSV cell as a formula (a leading ' is removed again on import)."""
    return "'" + text if text.startswith(_CSV_ESCAPED) else text


def _csv_unescape(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_CSV_ESCAPED) else text


def _read_rows(rows: Iterable[Sequence[Any]], place: Place, columns: Sequence[str],
               problems: list[Problem], cell_problems: list[Problem]) -> Table:
    """Check every cell (formulas, errors, length, row count) and keep the known columns."""
    header: list[str] = []
    index: dict[int, str] = {}
    out: list[Row] = []
    skipped = 0
    for number, cells in enumerate(rows, 1):
        if number > MAX_PHYSICAL_ROWS:
            raise SheetRejected([error(place.at(), f"the sheet goes on past row {MAX_PHYSICAL_ROWS:,}",
                                       f"Keep at most {MAX_ROWS:,} rows; delete the rows below them.")])
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
            raise SheetRejected([error(place.at(), f"the sheet has more than {MAX_ROWS:,} rows",
                                       "This is not an ordinary file made by the export; export a fresh one.")])
        out.append(Row(number, known))
    if not header:
        cell_problems.append(error(place.at(1), "the first row should hold the column names and is empty",
                                   "Export a fresh file and copy your edits into it."))
    if skipped:
        cell_problems.append(error(place.at(), f"… and {skipped} more cells with problems", "Fix the cells above first."))
    return Table(place, header, out)


def _letter(col: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(col + 1)


def _cell_problem(place: Place, row: int, column: str, value: Any, data_type: str) -> Problem | None:
    where = place.at(row, column)
    if data_type == "f" or (isinstance(value, str) and value.startswith("=")):
        return error(where, "formulas are not allowed", "Type the text itself (a cell may not start with =).")
    if data_type == "e":
        return error(where, f"the cell shows an error ({value})", "Type the text itself instead.")
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        return error(where, f"the cell has {len(value):,} characters (at most {MAX_CELL_CHARS:,})",
                     "Shorten the text: an answer is read on a phone.")
    if not isinstance(value, (str, int, float, bool, dt.date, dt.time)):
        return error(where, "the cell holds something other than text", "Type the text itself.")
    return None


def _header_index(header: list[str], place: Place, columns: Sequence[str], problems: list[Problem],
                  cell_problems: list[Problem]) -> dict[int, str]:
    index: dict[int, str] = {}
    seen: dict[str, int] = {}
    for col, name in enumerate(header):
        if not name:
            continue
        if name not in columns:
            problems.append(warning(place.at(1, name), f"the column {name!r} is not known; it was ignored",
                                    f"Only these columns are read: {', '.join(columns)}."))
            continue
        if name in seen:
            cell_problems.append(error(place.at(1, name), f"the column {name} appears twice",
                                       "Keep one column of each name."))
            continue
        seen[name] = col
        index[col] = name
    missing = [c for c in columns if c not in seen]
    if missing and header:
        plural = "s are" if len(missing) > 1 else " is"
        cell_problems.append(error(place.at(1), f"the column{plural} missing: {', '.join(missing)}",
                                   "Do not delete or rename columns; export a fresh file and copy your edits into it."))
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


def is_web_address(text: str) -> bool:
    parsed = urlparse(text)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc) and " " not in text


def has_arabic(text: str) -> bool:
    return bool(_ARABIC.search(text))


# -- what an import found --------------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    """One changed item: which file, what (e.g. "topic work"), and the lines of its diff."""

    file: str
    what: str
    lines: tuple[str, ...]


@dataclass
class ImportReport:
    """The result of reading a spreadsheet: problems, a readable diff, the files to (re)write."""

    source: Path
    root: Path
    problems: list[Problem] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    writes: dict[Path, str] = field(default_factory=dict)
    applied: bool = False
    _before: dict[Path, bytes | None] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        """No error: the file can be applied (warnings do not block)."""
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]

    @property
    def changed_files(self) -> list[Path]:
        """Files the import rewrites (or rewrote, once applied)."""
        return sorted(self.writes)

    def diff_text(self) -> str:
        """The changes, per item and field; "no changes" when there are none."""
        if not self.changes:
            return "no changes"
        blocks = []
        for change in self.changes:
            blocks.append("\n".join([f"{change.what} ({change.file}):", *("  " + line for line in change.lines)]))
        return "\n\n".join(blocks)

    def problems_text(self) -> str:
        """Errors, then warnings, one per line."""
        return "\n".join(str(p) for p in [*self.errors, *self.warnings])

    def summary(self) -> str:
        """What a command prints: problems, the diff, and what was (or would be) written."""
        parts = []
        if self.problems:
            parts.append(self.problems_text())
        parts.append(self.diff_text())
        if not self.ok:
            parts.append(f"{len(self.errors)} error(s): nothing was written. Fix them in the file and import it again.")
        elif self.applied:
            parts.append("written: " + ", ".join(self._shown(p) for p in self.changed_files))
        elif self.writes:
            parts.append("would write: " + ", ".join(self._shown(p) for p in self.changed_files)
                         + " (import again with apply to write them)")
        return "\n\n".join(parts)

    def apply(self) -> list[Path]:
        """Write the changed files atomically; nothing when there are errors or a file moved meanwhile."""
        if not self.ok or self.applied or not self.writes:
            return []
        moved = [p for p, before in self._before.items() if _read_or_none(p) != before]
        if moved:
            self.problems.append(error(", ".join(self._shown(p) for p in moved),
                                       "changed on disk while the import was running; nothing was written",
                                       "Import the file again."))
            return []
        write_atomically(self.writes)
        self.applied = True
        log.info("import of %s wrote %d file(s)", self.source.name, len(self.writes))
        return self.changed_files

    def stage(self, path: Path, text: str) -> None:
        """Plan to write `text` to `path` (remembering what the file holds now)."""
        self._before[path] = _read_or_none(path)
        self.writes[path] = text

    def _shown(self, path: Path) -> str:
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def write_atomically(files: Mapping[Path, str]) -> None:
    """Write each file to a temporary file beside it, then rename them all into place."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((tmp, path))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _path in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


# -- diffs -----------------------------------------------------------------------------------------
def show(value: Any) -> str:
    if value in (None, "", (), []):
        return "(empty)"
    return f'"{value}"' if isinstance(value, str) else str(value)


def text_diff(label: str, old: str, new: str) -> list[str]:
    """A short "old → new", or unified-diff lines for long or multi-line texts."""
    if old == new:
        return []
    if "\n" in old or "\n" in new or max(len(old), len(new)) > 80:
        lines = [f"{label}:"]
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1):
            if not line.startswith(("---", "+++")):
                lines.append("  " + line)
        return lines
    return [f"{label}: {show(old)} → {show(new)}"]


def list_diff(label: str, old: Sequence[str], new: Sequence[str]) -> list[str]:
    """Added and removed items (and whether only the order changed)."""
    if list(old) == list(new):
        return []
    lines = [f"{label}: + {show(x)}" for x in new if x not in old]
    lines += [f"{label}: - {show(x)}" for x in old if x not in new]
    return lines or [f"{label}: order changed"]


def map_diff(label: str, old: Mapping[str, str], new: Mapping[str, str], order: Sequence[str] = ()) -> list[str]:
    keys = [*order, *sorted((set(old) | set(new)) - set(order))]
    out: list[str] = []
    for key in keys:
        out += text_diff(f"{label} › {key}", old.get(key, ""), new.get(key, ""))
    return out


# -- export stamps: do not undo edits made in the project since the export ---------------------------
def fingerprint(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def read_stamps(table: Table | None) -> dict[tuple[str, str], str]:
    if table is None:
        return {}
    return {(r.text("kind"), r.text("id")): r.text("fingerprint") for r in table.rows}


def decide(mine: str, current: str | None, exported: str | None) -> Decision:
    """Three-way: the sheet's item (mine), the project's (current), and the item as exported."""
    if mine == current:
        return "same"
    if exported is None or exported == current:
        return "take"
    if current is None:
        return "gone" if mine == exported else "conflict"
    return "keep" if mine == exported else "conflict"


def decision_problem(decision: Decision, where: str, what: str, file: str) -> Problem | None:
    if decision == "keep":
        return warning(where, f"{what} was changed in {file} since this file was exported and not in the sheet; "
                              "the newer version in the project was kept", "Nothing to do.")
    if decision == "gone":
        return warning(where, f"{what} was removed from {file} since this file was exported; it was not re-created",
                       "Nothing to do, unless you want it back: then edit its row in a fresh export.")
    if decision == "conflict":
        return error(where, f"{what} was changed both in this sheet and in {file} since the export, "
                            "so importing would undo the other change",
                     "Export a fresh file, redo your edit of this item there, and import that file.")
    return None


# -- writing spreadsheets --------------------------------------------------------------------------
class _SheetDumper(yaml.SafeDumper):
    """YAML in the hand-written style: short collections of plain values on one line."""

    flow_limit = 100  # characters; longer flat collections are written one item per line

    def quoted(self, key: Any, flow: bool) -> bool:
        """Whether the text under `key` is written in double quotes."""
        return False


class _ContactDumper(_SheetDumper):
    """As content/contacts.yml is written: names, addresses, hours on one line, texts and numbers quoted."""

    flow_limit = 100_000

    def quoted(self, key: Any, flow: bool) -> bool:
        return flow or key in ("phone", "whatsapp")


class _EventDumper(_SheetDumper):
    """As events/events.yml is written: texts quoted, ids, dates, cities and prices plain."""

    def quoted(self, key: Any, flow: bool) -> bool:
        return key not in ("id", "city", "price", "start", "end")


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


def _is_short_flat(values: Iterable[Any], limit: int) -> bool:
    items = list(values)
    plain = all(isinstance(v, (str, int, float, bool, dt.date)) and "\n" not in str(v) for v in items)
    return plain and sum(len(str(v)) + 4 for v in items) <= limit


def _represent_list(dumper: _SheetDumper, data: list[Any]) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data,
                                     flow_style=_is_short_flat(data, dumper.flow_limit))


def _represent_dict(dumper: _SheetDumper, data: dict[Any, Any]) -> yaml.MappingNode:
    """A mapping on one line when short and flat; one-line texts quoted where the dumper says so."""
    flow = _is_short_flat(data.values(), dumper.flow_limit) and _is_short_flat(data.keys(), dumper.flow_limit)
    pairs: list[tuple[yaml.Node, yaml.Node]] = []
    for key, value in data.items():
        if isinstance(value, str) and "\n" not in value and dumper.quoted(key, flow):
            node = dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
        else:
            node = dumper.represent_data(value)
        pairs.append((dumper.represent_data(key), node))
    return yaml.MappingNode("tag:yaml.org,2002:map", pairs, flow_style=flow)


class _BlockDict(dict):  # type: ignore[type-arg]
    """A mapping always written one key per line (a field rewritten inside a hand-written entry)."""


def _represent_block_dict(dumper: _SheetDumper, data: _BlockDict) -> yaml.MappingNode:
    node = _represent_dict(dumper, dict(data))
    node.flow_style = False
    return node


_SheetDumper.add_representer(_BlockDict, _represent_block_dict)
_SheetDumper.add_representer(str, _represent_str)
_SheetDumper.add_representer(dict, _represent_dict)
_SheetDumper.add_representer(list, _represent_list)


def dump_entry(data: Any, *, style: Literal["contacts", "events"]) -> str:
    """YAML for contacts or events, in the style of the hand-written files."""
    dumper = _ContactDumper if style == "contacts" else _EventDumper
    return yaml.dump(data, Dumper=dumper, allow_unicode=True, sort_keys=False, width=1000)


def new_workbook() -> Any:
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    return workbook


def add_table(workbook: Any, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], *,
              widths: Mapping[str, int], rtl: Callable[[Sequence[str], str], bool],
              dropdowns: Mapping[str, Sequence[str]] | None = None, freeze: str = "B2",
              band_by: str | None = None) -> Any:
    """A sheet with a bold frozen header, wrapped text cells, right-to-left Arabic, dropdowns."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    sheet = workbook.create_sheet(title)
    sheet.append(list(columns))
    header_fill = PatternFill("solid", fgColor="DDE4EE")
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(vertical="center")
    ltr = Alignment(wrap_text=True, vertical="top")
    rtl_alignment = Alignment(wrap_text=True, vertical="top", horizontal="right", readingOrder=2)
    band_fill = PatternFill("solid", fgColor="F3F6FA")
    band_index = columns.index(band_by) if band_by else None
    shade, previous = False, None
    for number, values in enumerate(rows, 2):
        if band_index is not None and values[band_index] != previous:
            shade, previous = not shade, values[band_index]
        tallest = 1
        for col, (column, value) in enumerate(zip(columns, values, strict=True), 1):
            cell = sheet.cell(row=number, column=col, value=value or None)
            if value and value.startswith("="):
                cell.data_type = "s"  # text, never a formula
            cell.number_format = "@"
            cell.alignment = rtl_alignment if rtl(values, column) else ltr
            if band_index is not None and shade:
                cell.fill = band_fill
            width = widths.get(column, 18)
            tallest = max(tallest, sum(max(1, -(-len(line) // width)) for line in (value or "").split("\n")))
        sheet.row_dimensions[number].height = min(15 * tallest, 300)
    for col, column in enumerate(columns, 1):
        letter = get_column_letter(col)
        sheet.column_dimensions[letter].width = widths.get(column, 18)
        sheet.column_dimensions[letter].number_format = "@"  # typed dates and phone numbers stay text
    for column, choices in (dropdowns or {}).items():
        letter = get_column_letter(columns.index(column) + 1)
        validation = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True,
                                    showErrorMessage=True, errorTitle=column,
                                    error="Choose one of: " + ", ".join(choices))
        validation.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
        sheet.add_data_validation(validation)
    sheet.freeze_panes = freeze
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(len(rows) + 1, 2)}"
    return sheet


def add_readme(workbook: Any, lines: Sequence[str]) -> None:
    from openpyxl.styles import Alignment, Font

    sheet = workbook.create_sheet(README_SHEET)
    sheet.column_dimensions["A"].width = 120
    for number, line in enumerate(lines, 1):
        cell = sheet.cell(row=number, column=1, value=line or None)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if line.startswith(("Dalil", "EN", "FR")):
            cell.font = Font(bold=True)


def add_stamps(workbook: Any, stamps: Iterable[tuple[str, str, str]]) -> None:
    sheet = workbook.create_sheet(STAMP_SHEET)
    sheet.append(list(STAMP_COLUMNS))
    for row in stamps:
        sheet.append(list(row))
    sheet.sheet_state = "hidden"


def save_workbook(workbook: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        workbook.save(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """UTF-8 with a byte-order mark, so Excel shows Arabic; cells that look like formulas escaped."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for values in rows:
        writer.writerow([_csv_escape(v) for v in values])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as handle:
            handle.write(buffer.getvalue())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def export_kind(path: Path) -> Literal["xlsx", "csv"]:
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise ValueError(f"{path.name}: export to a .xlsx or .csv file")
    return "xlsx" if suffix == ".xlsx" else "csv"


# -- keeping the look of hand-written YAML when rewriting one entry ----------------------------------
@dataclass
class _Block:
    key: str
    body: str
    tail: str


def _top_level_blocks(text: str) -> tuple[str, list[_Block]] | None:
    """Split a YAML mapping file into its head (comments) and one block per top-level key."""
    head: list[str] = []
    blocks: list[_Block] = []
    for line in text.splitlines(keepends=True):
        match = re.match(r"^([A-Za-z0-9_][^:#\s]*):", line)
        if match:
            blocks.append(_Block(match.group(1), line, ""))
        elif not blocks:
            head.append(line)
        elif not line.strip() or line.lstrip().startswith("#"):
            blocks[-1].tail += line
        elif line.startswith((" ", "\t")):
            blocks[-1].body += blocks[-1].tail + line
            blocks[-1].tail = ""
        else:
            return None
    return "".join(head), blocks


def _rewrite_entry(block: _Block, old: Any, new: Any) -> str:
    """One changed top-level entry: its unchanged fields keep their exact lines, changed ones are
    written again (so a new phone number is a one-line change); the whole entry when its layout
    is not one field per `  key:` line."""
    whole = dump_entry({block.key: new}, style="contacts")
    lines = block.body.splitlines(keepends=True)
    if not (isinstance(old, Mapping) and isinstance(new, Mapping)) or not lines:
        return whole
    fields: dict[str, str] = {}
    current: str | None = None
    for line in lines[1:]:
        match = re.match(r"^  ([A-Za-z0-9_]+):", line)
        if match:
            current = match.group(1)
            fields[current] = line
        elif current is not None and (line.startswith("    ") or not line.strip()):
            fields[current] += line
        else:
            return whole
    if list(fields) != [str(k) for k in old]:
        return whole
    out = [lines[0]]
    for key, value in new.items():
        if key in old and old[key] == value:
            out.append(fields[str(key)])
        else:
            dumped = dump_entry(_BlockDict({key: value}), style="contacts")
            out.append("".join("  " + line if line.strip() else line
                               for line in dumped.splitlines(keepends=True)))
    return "".join(out)


def rewrite_mapping(text: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    """The YAML mapping file `text` (parsed: `old`) with changed or added top-level entries from `new`.

    Unchanged entries keep their exact text (comments, quotes, blank lines); None when the file's
    layout is not the plain one expected, so the caller writes the whole file instead.
    """
    split = _top_level_blocks(text)
    if split is None:
        return None
    head, blocks = split
    if [b.key for b in blocks] != [str(k) for k in old]:
        return None
    out = [head]
    for block in blocks:
        if block.key in new and new[block.key] != old[block.key]:
            out.append(_rewrite_entry(block, old[block.key], new[block.key]))
        else:
            out.append(block.body)
        out.append(block.tail)
    added = [k for k in new if k not in old]
    if added and out and not "".join(out).endswith("\n"):
        out.append("\n")
    for key in added:
        out.append(dump_entry({key: new[key]}, style="contacts"))
    return "".join(out)


def comment_head(text: str) -> str:
    """The leading comment lines of a YAML file (kept when the whole file must be rewritten)."""
    lines = []
    for line in text.splitlines(keepends=True):
        if line.startswith("#") or not line.strip():
            lines.append(line)
        else:
            break
    return "".join(lines)


# -- the FAQ and the contacts ----------------------------------------------------------------------
README_FAQ = (
    "Dalil — FAQ",
    "FR",
    "1. Modifiez les textes dans la feuille FAQ (et les contacts dans la feuille Contacts), enregistrez en .xlsx, "
    "puis importez le fichier : l'import montre d'abord les changements et les erreurs, et n'écrit rien tant qu'il y a une erreur.",
    "2. Une ligne par sujet (colonne topic) et par façon d'écrire (colonne language) : fr, ar (arabe standard), "
    "ary_arab (darija en lettres arabes), ary_latn (darija en lettres latines), en.",
    "3. Ne changez pas topic ni language sur les lignes existantes, ni le nom des colonnes ou des feuilles. "
    "Pour un nouveau sujet, ajoutez cinq lignes avec un nouvel identifiant (minuscules, chiffres et _).",
    "4. answer : une ligne contenant seulement --- commence une nouvelle page (700 caractères au plus par page). "
    "Sur la ligne ary_arab, answer est la réponse en darija ; sur la ligne ary_latn, laissez title, answer et caution vides.",
    "5. questions : une question par ligne (Alt+Entrée dans Excel). sources : une adresse https:// par ligne. "
    "contacts : un identifiant de la feuille Contacts par ligne.",
    "6. family, sources, last_checked (AAAA-MM-JJ) et contacts valent pour tout le sujet : "
    "gardez la même valeur sur toutes ses lignes (une cellule vide reprend celle des autres lignes).",
    "7. Pas de formule (rien qui commence par =) : tapez le texte lui-même. Un sujet ou un contact absent du fichier n'est pas supprimé. "
    "Un numéro changé dans Contacts change dans toutes les réponses qui citent ce contact.",
    "",
    "EN",
    "1. Edit the texts in the FAQ sheet (and contacts in the Contacts sheet), save as .xlsx, then import the file: "
    "the import first shows the changes and the errors, and writes nothing while there is an error.",
    "2. One row per topic (column topic) and way of writing (column language): fr, ar (Modern Standard Arabic), "
    "ary_arab (Darija in Arabic letters), ary_latn (Darija in Latin letters), en.",
    "3. Do not change topic or language on existing rows, nor the names of columns or sheets. "
    "For a new topic, add five rows with a new id (lowercase letters, digits and _).",
    "4. answer: a line with only --- starts a new page (at most 700 characters per page). "
    "On the ary_arab row, answer is the Darija answer; on the ary_latn row leave title, answer and caution empty.",
    "5. questions: one question per line (Alt+Enter in Excel). sources: one https:// address per line. "
    "contacts: one id from the Contacts sheet per line.",
    "6. family, sources, last_checked (YYYY-MM-DD) and contacts belong to the whole topic: "
    "keep the same value on all its rows (an empty cell takes the value of the other rows).",
    "7. No formulas (nothing starting with =): type the text itself. A topic or contact missing from the file is not deleted. "
    "A number changed in Contacts changes in every answer that names this contact.",
)


def export_faq(root: Path, path: Path) -> Path:
    """Write the FAQ (and, for .xlsx, the contacts and instructions) to `path` (.xlsx or .csv)."""
    root, path = Path(root), Path(path)
    kind = export_kind(path)
    library = Library(root)
    topics = library.topics()
    rows = faq_rows(topics)
    if kind == "csv":
        save_csv(path, FAQ_COLUMNS, rows)
        return path
    contacts = library.contacts()
    workbook = new_workbook()
    add_table(workbook, FAQ_SHEET, FAQ_COLUMNS, rows, widths=FAQ_WIDTHS, freeze="D2", band_by="topic",
              rtl=lambda values, column: values[_LANGUAGE] in RTL_LANGS and column in RTL_FAQ_COLUMNS,
              dropdowns={"language": QUESTION_LANGS, "family": FAMILIES})
    add_table(workbook, CONTACTS_SHEET, CONTACT_COLUMNS, [contact_row(c) for c in contacts.values()],
              widths={**CONTACT_WIDTHS, **{c: 30 for c in CONTACT_COLUMNS if c[-3:] in ("_fr", "_ar", "_en")}},
              rtl=lambda _values, column: column.endswith("_ar"), dropdowns={"check": ("yes", "no")})
    add_readme(workbook, [*README_FAQ, "", f"Exported {dt.date.today().isoformat()} from {len(topics)} topics "
                                           f"and {len(contacts)} contacts."])
    add_stamps(workbook, [*(("topic", t.id, fingerprint(topic_data(t))) for t in topics.values()),
                          *(("contact", c.id, fingerprint(contact_data(c))) for c in contacts.values())])
    save_workbook(workbook, path)
    return path


def faq_rows(topics: Mapping[str, Topic]) -> list[list[str]]:
    """One row per topic and way of writing, topics grouped by family."""
    order = {family: n for n, family in enumerate(FAMILIES)}
    rows = []
    for topic in sorted(topics.values(), key=lambda t: (order.get(t.family, len(order)), t.id)):
        shared = {
            "family": topic.family,
            "sources": "\n".join(source.cell() for source in topic.sources),
            "last_checked": topic.last_checked.isoformat() if topic.last_checked else "",
            "contacts": "\n".join(topic.contacts),
        }
        for lang in QUESTION_LANGS:
            key = TEXT_KEY[lang]
            values = {
                "topic": topic.id,
                "language": lang,
                "title": topic.title.get(key, "") if key else "",
                "answer": topic.answer.get(key, "") if key else "",
                "caution": topic.caution.get(key, "") if key else "",
                "questions": "\n".join(topic.questions.get(lang, ())),
                **shared,
            }
            rows.append([values[c] for c in FAQ_COLUMNS])
    return rows


def contact_row(contact: Contact) -> list[str]:
    values: dict[str, str] = {"id": contact.id, "phone": contact.phone or "", "whatsapp": contact.whatsapp or "",
                              "cities": "\n".join(contact.cities), "url": contact.url or "",
                              "source": contact.source.cell() if contact.source else "",
                              "checked": contact.checked.isoformat() if contact.checked else "",
                              "check": "yes" if contact.check else ""}
    for name in CONTACT_LANG_FIELDS:
        for lang in ("fr", "ar", "en"):
            values[f"{name}_{lang}"] = getattr(contact, name).get(lang, "")
    return [values[c] for c in CONTACT_COLUMNS]


def topic_data(topic: Topic) -> dict[str, Any]:
    """A topic as comparable plain data (an empty list of questions counts as none)."""
    data = topic.to_dict()
    data["questions"] = {lang: items for lang, items in data["questions"].items() if items}
    return data


def contact_data(contact: Contact) -> dict[str, Any]:
    """A contact as comparable plain data (every field but the id)."""
    return {f.name: _plain(getattr(contact, f.name)) for f in fields(Contact) if f.name != "id"}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, tuple):
        return list(value)
    return value


def import_faq(root: Path, path: Path, *, apply: bool = False, today: dt.date | None = None) -> ImportReport:
    """Read an exported FAQ file (.xlsx or .csv), validate it, diff it; write only when `apply`."""
    root, path = Path(root), Path(path)
    report = ImportReport(path, root)
    try:
        book = read_book(path, {FAQ_SHEET: FAQ_COLUMNS, CONTACTS_SHEET: CONTACT_COLUMNS, STAMP_SHEET: STAMP_COLUMNS},
                         required=FAQ_SHEET, hints={"Events": "This is an events file: import it with the events import."})
    except SheetRejected as exc:
        report.problems.extend(exc.problems)
        return report
    report.problems.extend(book.problems)
    library = Library(root)
    try:
        current_topics = library.topics()
        current_contacts = library.contacts()
        menu = library.menu()
    except ContentError as exc:
        report.problems.append(error(str(exc).split(":", 1)[0], "a project file cannot be read: " + str(exc),
                                     "Fix that file first (run the FAQ validation)."))
        return report
    stamps = read_stamps(book.tables.get(STAMP_SHEET))
    today = today or dt.date.today()

    contacts = dict(current_contacts)
    contacts_table = book.tables.get(CONTACTS_SHEET)
    changed_contacts: dict[str, Contact] = {}
    if contacts_table is not None:
        sheet_contacts, problems = _contacts_from_table(contacts_table, current_contacts, today)
        report.problems.extend(problems)
        for cid, (contact, row) in sheet_contacts.items():
            old = current_contacts.get(cid)
            choice = decide(fingerprint(contact_data(contact)), fingerprint(contact_data(old)) if old else None,
                            stamps.get(("contact", cid)))
            problem = decision_problem(choice, contacts_table.place.at(row, "id"), f"the contact {cid}",
                                       "content/contacts.yml")
            if problem:
                report.problems.append(problem)
            if choice in ("take", "conflict"):
                contacts[cid] = contact
                changed_contacts[cid] = contact
        for cid in current_contacts:
            if cid not in sheet_contacts:
                report.problems.append(warning(contacts_table.place.at(), f"contact {cid} is not in the sheet; it was kept",
                                               "Nothing to do (contacts are removed in content/contacts.yml)."))
    elif path.suffix.lower() != ".csv":
        report.problems.append(warning(path.name, "the workbook has no Contacts sheet; contacts were not changed",
                                       "Nothing to do, unless you meant to edit contacts."))

    faq_table = book.tables[FAQ_SHEET]
    groups, problems = _topics_from_table(faq_table, current_topics, root)
    report.problems.extend(problems)
    topics = dict(current_topics)
    locators: dict[str, Callable[[tuple[str, ...]], str]] = {}
    changed_topics: list[Topic] = []
    for tid, group in groups.items():
        old_topic = current_topics.get(tid)
        choice = decide(fingerprint(topic_data(group.topic)), fingerprint(topic_data(old_topic)) if old_topic else None,
                        stamps.get(("topic", tid)))
        problem = decision_problem(choice, faq_table.place.at(group.first_row, "topic"), f"the topic {tid}",
                                   f"faq/{tid}.yml")
        if problem:
            report.problems.append(problem)
        if choice in ("take", "conflict", "same"):
            topics[tid] = group.topic
            locators[tid] = group.locator(faq_table.place)
        if choice in ("take", "conflict"):
            changed_topics.append(group.topic)
    for tid in sorted(set(current_topics) - set(groups)):
        report.problems.append(warning(faq_table.place.at(), f"topic {tid} is not in the sheet; it was kept",
                                       f"Nothing to do (topics are removed by deleting faq/{tid}.yml)."))

    menu_topics = [t for family in (menu.get("families") or {}).values() for t in family.get("topics") or []]
    report.problems.extend(validate(
        topics, contacts,
        lambda topic: locators.get(topic.id) or yaml_locator(topic.path or root / "faq" / f"{topic.id}.yml", root),
        today=today, required_topics=contract_topics(root), menu_topics=menu_topics))

    for topic in sorted(changed_topics, key=lambda t: t.id):
        old_topic = current_topics.get(topic.id)
        report.changes.append(Change(f"faq/{topic.id}.yml", f"topic {topic.id}" if old_topic else f"new topic {topic.id}",
                                     tuple(topic_diff(old_topic, topic))))
    for cid, contact in changed_contacts.items():
        old = current_contacts.get(cid)
        report.changes.append(Change("content/contacts.yml", f"contact {cid}" if old else f"new contact {cid}",
                                     tuple(contact_diff(old, contact))))
    if report.ok:  # only a valid import has files to write
        for topic in changed_topics:
            if not _ID.match(topic.id):  # validate() refuses such ids; never let one become a path
                raise ValueError(f"invalid topic id {topic.id!r}")
            report.stage(root / "faq" / f"{topic.id}.yml", _topic_text(topic))
        if changed_contacts:
            contacts_path = root / "content" / "contacts.yml"
            report.stage(contacts_path, _contacts_text(contacts_path, current_contacts, contacts))
    if apply:
        report.apply()
    return report


def _topic_text(topic: Topic) -> str:
    data = topic.to_dict()
    for name in ("title", "caution", "answer"):  # multi-line texts as `|` blocks, as people write them
        if name in data:
            data[name] = {k: v + "\n" if "\n" in v else v for k, v in data[name].items()}
    text = dump_yaml(data)
    if topic_data(Topic.from_dict(yaml.safe_load(text))) != topic_data(topic):  # never write what reads back differently
        raise RuntimeError(f"faq/{topic.id}.yml would not read back as written")
    return text


@dataclass
class _TopicGroup:
    id: str
    rows: dict[str, int]
    shared_rows: dict[str, int]
    first_row: int
    last_row: int
    topic: Topic

    def locator(self, place: Place) -> Callable[[tuple[str, ...]], str]:
        def locate(field_path: tuple[str, ...]) -> str:
            if not field_path:
                return place.at(self.first_row, "topic")
            name = field_path[0]
            if name in ("title", "answer", "caution", "questions") and len(field_path) > 1:
                lang = "ary_arab" if field_path[1] == "ary" else field_path[1]
                row = self.rows.get(lang)
                if row is None:
                    return place.at(None, name, f"topic {self.id} (rows {self.first_row}–{self.last_row}), "
                                                f"no row for language {lang}")
                return place.at(row, name)
            column = "topic" if name == "id" else name
            detail = f"line {field_path[1]}" if len(field_path) > 1 else ""
            return place.at(self.shared_rows.get(column, self.first_row), column + (f", {detail}" if detail else ""))

        return locate


def _topics_from_table(table: Table, current: Mapping[str, Topic], root: Path) -> tuple[dict[str, _TopicGroup], list[Problem]]:
    place = table.place
    problems: list[Problem] = []
    rows_by_topic: dict[str, dict[str, Row]] = {}
    shared: dict[str, dict[str, tuple[Any, int]]] = {}
    for row in table.rows:
        tid = row.text("topic")
        if not tid:
            problems.append(error(place.at(row.number, "topic"), "this row has no topic id",
                                  "Write the topic id (e.g. work) or delete the row."))
            continue
        lang = row.text("language")
        if lang not in QUESTION_LANGS:
            problems.append(error(place.at(row.number, "language"), f"unknown language {lang!r}" if lang else "the language is empty",
                                  f"Use one of: {', '.join(QUESTION_LANGS)}."))
            continue
        by_lang = rows_by_topic.setdefault(tid, {})
        if lang in by_lang:
            problems.append(error(place.at(row.number, "language"),
                                  f"topic {tid} has two rows for language {lang} (rows {by_lang[lang].number} and {row.number})",
                                  "Keep one row per topic and language; delete the other."))
            continue
        by_lang[lang] = row
        if TEXT_KEY[lang] is None:
            for column in ("title", "answer", "caution"):
                if row.text(column):
                    problems.append(error(place.at(row.number, column),
                                          "the ary_latn row has no text of its own (Darija readers get the ary_arab answer)",
                                          "Leave this cell empty; write the Darija text on the ary_arab row."))
        values = shared.setdefault(tid, {})
        for column in TOPIC_LEVEL_COLUMNS:
            raw = row.cells.get(column)
            if not cell_text(raw):
                continue
            try:
                value = _shared_value(column, raw)
            except ValueError:
                problems.append(error(place.at(row.number, column), f"{cell_text(raw)!r} is not a date",
                                      "Write the date as YYYY-MM-DD, e.g. 2026-11-29."))
                continue
            if column in values and values[column][0] != value:
                first_value, first_row = values[column]
                problems.append(error(place.at(row.number, column),
                                      f"the {column} of topic {tid} differs from row {first_row}",
                                      f"{column} belongs to the whole topic: write the same value on every row of "
                                      f"{tid} (or leave the other rows empty)."))
            else:
                values.setdefault(column, (value, row.number))

    groups: dict[str, _TopicGroup] = {}
    for tid, by_lang in rows_by_topic.items():
        numbers = [r.number for r in by_lang.values()]
        values = shared.get(tid, {})
        old = current.get(tid)
        title = _extra(old.title if old else {})
        answer = _extra(old.answer if old else {})
        caution = _extra(old.caution if old else {})
        questions = {k: v for k, v in (old.questions if old else {}).items() if k not in QUESTION_LANGS}
        for lang in QUESTION_LANGS:
            row = by_lang.get(lang)
            if row is None:
                continue
            key = TEXT_KEY[lang]
            if key is not None:
                for target, column in ((title, "title"), (answer, "answer"), (caution, "caution")):
                    text = row.text(column)
                    if text:
                        target[key] = text
            lines = text_lines(row.cells.get("questions"))
            if lines:
                questions[lang] = lines
        valid_id = bool(_ID.match(tid))
        title, answer, caution = (_in_order(m) for m in (title, answer, caution))
        topic = Topic(
            id=tid,
            family=values.get("family", ("", 0))[0],
            title=title, answer=answer, caution=caution,
            questions={lang: questions[lang] for lang in [*QUESTION_LANGS, *questions] if lang in questions},
            sources=values.get("sources", ((), 0))[0],
            contacts=values.get("contacts", ((), 0))[0],
            last_checked=values.get("last_checked", (None, 0))[0],
            path=root / "faq" / f"{tid}.yml" if valid_id else None,
        )
        groups[tid] = _TopicGroup(tid, {lang: r.number for lang, r in by_lang.items()},
                                  {c: n for c, (_v, n) in values.items()}, min(numbers), max(numbers), topic)
    return groups, problems


def _in_order(mapping: Mapping[str, str]) -> dict[str, str]:
    """Texts in the order topic files list them: fr, ar, en, ary, then any other."""
    return {k: mapping[k] for k in ("fr", "ar", "en", "ary", *mapping) if k in mapping}


def _extra(mapping: Mapping[str, str]) -> dict[str, str]:
    """Texts in keys the sheet has no row for (kept as they are)."""
    return {k: v for k, v in mapping.items() if k not in ("fr", "ar", "ary", "en")}


def _shared_value(column: str, raw: Any) -> Any:
    if column == "family":
        return cell_text(raw)
    if column == "last_checked":
        return parse_day(raw)
    if column == "sources":
        return tuple(Source.parse(line) for line in text_lines(raw))
    return text_lines(raw, commas=column == "contacts")


def topic_diff(old: Topic | None, new: Topic) -> list[str]:
    """The changed fields of a topic, in the file's order."""
    if old is None:
        languages = [lang for lang in QUESTION_LANGS if new.questions.get(lang)]
        return [f"family: {new.family}", f"title › fr: {show(new.title.get('fr', ''))}",
                "answers: " + (", ".join(sorted(new.answer)) or "(none)"),
                f"questions: {sum(len(q) for q in new.questions.values())} in {', '.join(languages) or 'no language'}"]
    lines: list[str] = []
    if old.family != new.family:
        lines.append(f"family: {show(old.family)} → {show(new.family)}")
    lines += map_diff("title", old.title, new.title, ("fr", "ar", "en"))
    if old.last_checked != new.last_checked:
        lines.append(f"last_checked: {show(old.last_checked)} → {show(new.last_checked)}")
    lines += list_diff("sources", [x.cell() for x in old.sources], [x.cell() for x in new.sources])
    lines += list_diff("contacts", old.contacts, new.contacts)
    lines += map_diff("caution", old.caution, new.caution, ("fr", "ar", "en"))
    lines += map_diff("answer", old.answer, new.answer, ("fr", "ar", "en", "ary"))
    for lang in [*QUESTION_LANGS, *sorted((set(old.questions) | set(new.questions)) - set(QUESTION_LANGS))]:
        lines += list_diff(f"questions › {lang}", old.questions.get(lang, ()), new.questions.get(lang, ()))
    return lines


def _contacts_from_table(table: Table, current: Mapping[str, Contact],
                         today: dt.date) -> tuple[dict[str, tuple[Contact, int]], list[Problem]]:
    place = table.place
    problems: list[Problem] = []
    out: dict[str, tuple[Contact, int]] = {}

    def bad(row: Row, column: str, message: str, fix: str) -> None:
        problems.append(error(place.at(row.number, column), message, fix))

    for row in table.rows:
        cid = row.text("id")
        if not _ID.match(cid):
            bad(row, "id", f"{cid!r} is not a contact id" if cid else "this row has no contact id",
                "Use lowercase letters, digits and _ only (e.g. unhcr_rabat).")
            continue
        if cid in out:
            bad(row, "id", f"the contact {cid} appears twice (rows {out[cid][1]} and {row.number})", "Keep one row per contact.")
            continue
        old = current.get(cid)
        texts: dict[str, dict[str, str]] = {}
        for name in CONTACT_LANG_FIELDS:
            values = _extra(getattr(old, name)) if old else {}
            for lang in ("fr", "ar", "en"):
                text = row.text(f"{name}_{lang}")
                if text:
                    values[lang] = text
                if lang == "ar" and text and not has_arabic(text):
                    bad(row, f"{name}_ar", "this Arabic cell contains no Arabic letters", "Write it in Arabic script.")
            texts[name] = values
        if not texts["name"].get("fr"):
            bad(row, "name_fr", "the French name is missing", "Write who this contact is.")
        numbers: dict[str, str | None] = {}
        for column in ("phone", "whatsapp"):
            raw = row.cells.get(column)
            text = row.text(column)
            if isinstance(raw, (int, float)) and not isinstance(raw, bool) and len(text) > 4:
                bad(row, column, f"the number {text} was read as a number, so a leading 0 or + may be lost",
                    "Format the cell as Text and type the number again, e.g. +212 5 37 54 54 00.")
            elif text and not _PHONE.match(text):
                bad(row, column, f"{text!r} is not a phone number", "Use digits and spaces only, with + in front, e.g. +212 5 37 54 54 00.")
            numbers[column] = text or None
        for column in ("url", "source"):
            text = row.text(column)
            if column == "source":
                text = Source.parse(text).url if text else ""
            if text and not is_web_address(text):
                bad(row, column, f"{text!r} is not a web address", "Use a full address starting with https://.")
        try:
            checked = parse_day(row.cells.get("checked"))
        except ValueError:
            checked = None
            bad(row, "checked", f"{row.text('checked')!r} is not a date", "Write the date as YYYY-MM-DD.")
        if checked and checked > today:
            bad(row, "checked", f"the date {checked} is in the future", "Write the date the details were actually confirmed.")
        check_text = row.text("check").casefold()
        if check_text not in _YES | _NO:
            bad(row, "check", f"{row.text('check')!r} is neither yes nor empty",
                "Write yes when the details may be out of date, else leave it empty.")
        # Fields the sheet has no column for (offices, reach, what...) are kept from the file.
        out[cid] = (replace(
            old or Contact(id=cid, name={}),
            id=cid, name=texts["name"], phone=numbers["phone"], whatsapp=numbers["whatsapp"],
            address=texts["address"], hours=texts["hours"], cities=text_lines(row.cells.get("cities"), commas=True),
            url=row.text("url") or None, source=Source.parse(row.text("source")) if row.text("source") else None,
            checked=checked, check=check_text in _YES,
        ), row.number)
    return out, problems


def contact_diff(old: Contact | None, new: Contact) -> list[str]:
    if old is None:
        return [f"name › fr: {show(new.name.get('fr', ''))}", f"phone: {show(new.phone)}"]
    lines: list[str] = []
    for f in fields(Contact):
        before, after = getattr(old, f.name), getattr(new, f.name)
        if before == after:
            continue
        if isinstance(before, Mapping):
            lines += map_diff(f.name, before, after, ("fr", "ar", "en"))
        elif isinstance(before, tuple):
            lines += list_diff(f.name, before, after)
        else:
            lines.append(f"{f.name}: {show(before)} → {show(after)}")
    return lines


def _contact_yaml(contact: Contact, raw: Mapping[str, Any] | None, old: Contact | None) -> dict[str, Any]:
    """The contact as YAML data: the original entry with only the changed fields replaced."""
    out = dict(raw or {})
    for f in fields(Contact):
        if f.name == "id" or (old is not None and getattr(old, f.name) == getattr(contact, f.name)):
            continue
        value = getattr(contact, f.name)
        if isinstance(value, Source):
            value = value.to_yaml() if (value.published or value.read) else value.url
        elif isinstance(value, Mapping):
            value = {k: value[k] for k in [*("fr", "ar", "en"), *value] if k in value} or None
        elif isinstance(value, tuple):
            value = [asdict(v) if is_dataclass(v) else v for v in value] or None
        elif value is False:
            value = None
        if value is None:
            out.pop(f.name, None)
        else:
            out[f.name] = value
    return out


def _contacts_text(path: Path, current: Mapping[str, Contact], contacts: Mapping[str, Contact]) -> str:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    raw_old = (load_yaml(path) if path.exists() else None) or {}
    raw_new = {str(k): v for k, v in raw_old.items()}
    for cid, contact in contacts.items():
        if current.get(cid) != contact:
            raw_new[cid] = _contact_yaml(contact, raw_old.get(cid), current.get(cid))
    wanted = {cid: contact_data(c) for cid, c in contacts.items()}

    def reads_back(candidate: str | None) -> bool:
        if candidate is None:
            return False
        loaded = yaml.safe_load(candidate) or {}
        return {str(k): contact_data(Contact.from_dict(str(k), v or {})) for k, v in loaded.items()} == wanted

    candidate = rewrite_mapping(text, {str(k): v for k, v in raw_old.items()}, raw_new)
    if reads_back(candidate):
        return str(candidate)
    candidate = comment_head(text) + dump_entry(raw_new, style="contacts")
    if reads_back(candidate):
        return candidate
    raise RuntimeError("content/contacts.yml would not read back as written")
