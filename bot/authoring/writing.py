"""Writing spreadsheets and YAML: workbooks for admins, and YAML that keeps the look of hand-written files.

Builds the exported .xlsx (bold frozen header, wrapped text, right-to-left Arabic, dropdowns, a
README sheet and the hidden sheet of export stamps) or .csv (UTF-8 with a byte-order mark, cells
that look like formulas escaped), each saved atomically. When an import rewrites one entry of a
YAML file, the other entries keep their exact text, comments included. Used by the FAQ and
contacts (`bot.authoring.faq`, `bot.authoring.contacts`) and the events (`bot.authoring.events`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from bot.authoring.reading import CSV_ESCAPED, MAX_ROWS, STAMP_COLUMNS, STAMP_SHEET

README_SHEET = "README"


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
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=_is_short_flat(data, dumper.flow_limit))


def _represent_dict(dumper: _SheetDumper, data: dict[Any, Any]) -> yaml.MappingNode:
    """A mapping on one line when short and flat; one-line texts quoted where the dumper says so."""
    flow = _is_short_flat(data.values(), dumper.flow_limit) and _is_short_flat(data.keys(), dumper.flow_limit)
    pairs: list[tuple[yaml.Node, yaml.Node]] = []
    for key, value in data.items():
        if isinstance(value, str) and "\n" not in value and dumper.quoted(key, flow):
            node: yaml.Node = dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
        else:
            node = dumper.represent_data(value)
        pairs.append((dumper.represent_data(key), node))
    return yaml.MappingNode("tag:yaml.org,2002:map", pairs, flow_style=flow)


class _BlockDict(dict[Any, Any]):
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


def add_table(
    workbook: Any,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    widths: Mapping[str, int],
    rtl: Callable[[Sequence[str], str], bool],
    dropdowns: Mapping[str, Sequence[str]] | None = None,
    freeze: str = "B2",
    band_by: str | None = None,
) -> Any:
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
        validation = DataValidation(
            type="list",
            formula1='"' + ",".join(choices) + '"',
            allow_blank=True,
            showErrorMessage=True,
            errorTitle=column,
            error="Choose one of: " + ", ".join(choices),
        )
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


def _csv_escape(text: str) -> str:
    """Keep Excel from reading a CSV cell as a formula (a leading ' is removed again on import)."""
    return "'" + text if text.startswith(CSV_ESCAPED) else text


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
            out.append("".join("  " + line if line.strip() else line for line in dumped.splitlines(keepends=True)))
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
