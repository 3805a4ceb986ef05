"""`dalil report export FILE.xlsx [--since YYYY-MM-DD] [--until YYYY-MM-DD]`: the anonymous daily
figures (bot/storage/figures.py) as a workbook with charts, for a monthly report.

Sheets: README (what each column means, in French and in English; no personal data anywhere),
Daily (one row per day, one column per figure, a line chart of messages and people and a bar
chart of the rest), then Languages, Topics and Campaigns (one row per day, one column per key,
a total row, a bar chart of the totals). The figures outlive the retention of conversations,
so a report of last year works as well as one of last week. Texts: content/messages_figures.yml.

By default the report starts on the first day of the previous month and ends today (Morocco's
day), so running it early in a month covers the whole month before.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the rest is imported when a report is written: `dalil --help` stays quick
    import argparse

    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

    from bot.core.content import Library
    from bot.core.settings import Settings
    from bot.storage.figures import Row, Summary

# The Daily sheet: (column, metric it adds up); first_reply_minutes is computed.
DAILY = (
    ("messages", "messages"),
    ("people", "people"),
    ("not_understood", "not_understood"),
    ("urgent", "urgent"),
    ("handoffs", "handoffs"),
    ("first_replies", "first_replies"),
    ("first_reply_minutes", ""),
    ("campaign", "campaign"),
    ("alerts_sent", "alerts_sent"),
)
BY_KEY = (("Languages", "languages"), ("Topics", "topics"), ("Campaigns", "campaign"))
DATE_FORMAT = "yyyy-mm-dd"


def default_since(day: dt.date) -> dt.date:
    """The first day of the month before `day`'s."""
    first = day.replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1)


def parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise SystemExit(f"not a date (YYYY-MM-DD): {text}") from exc


async def read_rows(database_url: str, since: dt.date, until: dt.date) -> list[Row]:
    from bot.storage.db import create_engine
    from bot.storage.figures import Figures

    engine = create_engine(database_url)
    try:
        return await Figures(engine).rows(since, until)
    finally:
        await engine.dispose()


def _cell(value: Any) -> Any:
    """Keys come from deep links and content ids; a text starting with "=" must stay text."""
    return "'" + value if isinstance(value, str) and value.startswith("=") else value


def _header(sheet: Worksheet, names: list[str]) -> None:
    from openpyxl.styles import Font

    sheet.append(names)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "B2"
    sheet.column_dimensions["A"].width = 12


def _daily(book: Workbook, summary: Summary, library: Library) -> None:
    from openpyxl.chart import BarChart, LineChart, Reference

    sheet = book.create_sheet("Daily")
    _header(sheet, ["day", *(name for name, _ in DAILY)])
    for day in summary.days:
        counts = summary.per_day[day]
        mean = summary.mean_first_reply_minutes(day)
        values = [counts[metric] if metric else ("" if mean is None else round(mean, 1)) for _, metric in DAILY]
        sheet.append([day, *values])
        sheet.cell(row=sheet.max_row, column=1).number_format = DATE_FORMAT
    last = len(summary.days) + 1
    dates = Reference(sheet, min_col=1, min_row=2, max_row=last)
    lines = LineChart()
    lines.title, lines.y_axis.title = library.text("report_chart_daily", "fr"), ""
    lines.height, lines.width = 9, 22
    lines.add_data(Reference(sheet, min_col=2, max_col=3, min_row=1, max_row=last), titles_from_data=True)
    lines.set_categories(dates)
    lines.x_axis.number_format = "dd/mm"
    sheet.add_chart(lines, "L2")
    bars = BarChart()
    bars.title, bars.height, bars.width = library.text("report_chart_problems", "fr"), 9, 22
    bars.add_data(Reference(sheet, min_col=4, max_col=6, min_row=1, max_row=last), titles_from_data=True)
    bars.set_categories(dates)
    sheet.add_chart(bars, "L21")


def _by_key(book: Workbook, title: str, summary: Summary, metric: str, rows: list[Row]) -> None:
    from openpyxl.chart import BarChart, Reference

    totals = summary.keys.get(metric) or Counter()
    keys = [key for key, _ in totals.most_common()]
    sheet = book.create_sheet(title)
    _header(sheet, ["day", *(_cell(key or "—") for key in keys)])
    per_day: dict[dt.date, Counter[str]] = {day: Counter() for day in summary.days}
    for row in rows:
        if row.metric == metric and row.day in per_day:
            per_day[row.day][row.key] += row.count
    for day in summary.days:
        sheet.append([day, *(per_day[day][key] for key in keys)])
        sheet.cell(row=sheet.max_row, column=1).number_format = DATE_FORMAT
    sheet.append(["total", *(totals[key] for key in keys)])
    if not keys:
        return
    chart = BarChart()
    chart.type, chart.title, chart.legend, chart.height, chart.width = "bar", f"{title} (total)", None, 10, 18
    total_row = sheet.max_row
    chart.add_data(Reference(sheet, min_col=2, max_col=len(keys) + 1, min_row=total_row), from_rows=True)
    chart.set_categories(Reference(sheet, min_col=2, max_col=len(keys) + 1, min_row=1))
    sheet.add_chart(chart, sheet.cell(row=2, column=len(keys) + 3).coordinate)


def _readme(book: Workbook, library: Library, since: dt.date, until: dt.date) -> None:
    from openpyxl.styles import Alignment, Font

    sheet = book.active
    sheet.title = "README"
    for lang in ("fr", "en"):
        sheet.append([library.text("report_readme_title", lang, since=since.isoformat(), until=until.isoformat())])
        sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True, size=13)
        sheet.append([library.text("report_readme_intro", lang)])
    sheet.append([])
    sheet.append(["Daily", "Français", "English"])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for name in ("day", *(name for name, _ in DAILY)):
        key = f"report_col_{name}"
        sheet.append([name, library.text(key, "fr"), library.text(key, "en")])
    sheet.append([])
    for _, metric in BY_KEY:
        key = "report_sheet_" + ("campaigns" if metric == "campaign" else metric)
        sheet.append(["", library.text(key, "fr"), library.text(key, "en")])
    sheet.column_dimensions["A"].width = 22
    for column in ("B", "C"):
        sheet.column_dimensions[column].width = 70
    for row in sheet.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def workbook(rows: list[Row], since: dt.date, until: dt.date, library: Library) -> Workbook:
    from openpyxl import Workbook

    from bot.storage.figures import summarise

    book = Workbook()
    summary = summarise(rows, since, until)
    _readme(book, library, since, until)
    _daily(book, summary, library)
    for title, metric in BY_KEY:
        _by_key(book, title, summary, metric, rows)
    return book


def export(settings: Settings, out: Path, since: dt.date | None = None, until: dt.date | None = None) -> int:
    from bot.core.content import Library
    from bot.storage.figures import today

    if out.suffix.lower() != ".xlsx":
        print(f"the report is a spreadsheet: give a FILE.xlsx, not {out.name}", file=sys.stderr)
        return 2
    until = until or today()
    since = since or default_since(until)
    if since > until:
        print(f"--since {since} is after {until}", file=sys.stderr)
        return 2
    try:
        rows = asyncio.run(read_rows(settings.database_url, since, until))
    except Exception as exc:  # noqa: BLE001 - a database without the table, unreachable...
        print(f"could not read the figures ({type(exc).__name__}); is DATABASE_URL right?", file=sys.stderr)
        return 1
    book = workbook(rows, since, until, Library(settings.root))
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    print(f"{out}: {len(rows)} figures, {since} to {until} (sheets: {', '.join(book.sheetnames)})")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """`dalil report export FILE.xlsx [--since] [--until]`, for bot/ops/cli.py."""
    report = sub.add_parser(
        "report",
        help="the anonymous daily figures as a spreadsheet with charts",
        description="Write the anonymous daily figures (kept beyond the retention of conversations: messages, "
        "people per day, languages, topics, not understood, urgent, handoffs, time to the first staff reply, "
        "campaigns, alerts) to FILE.xlsx with charts, for a monthly report. By default from the first day "
        "of the previous month to today (days are Morocco's). Reads DATABASE_URL.",
    )
    report.add_argument("action", choices=["export"])
    report.add_argument("file", help="the .xlsx file to write")
    report.add_argument("--since", help="first day, YYYY-MM-DD (default: the first day of the previous month)")
    report.add_argument("--until", help="last day, YYYY-MM-DD (default: today)")
    return report


def run(settings: Settings, args: argparse.Namespace) -> int:
    since = parse_day(args.since) if args.since else None
    until = parse_day(args.until) if args.until else None
    return export(settings, Path(args.file), since, until)
