"""The events file as a spreadsheet: export events/events.yml to an Events sheet, import it back safely.

Owns the Events sheet (one row per event; titles, descriptions and audiences per language in their
own columns; start and end as "YYYY-MM-DD HH:MM" in Morocco's time, or "YYYY-MM-DD" for a whole
day) and its import, with the same rules as the FAQ (`bot.authoring.faq`): the file is checked before it
is parsed, every problem names its row and column, the diff is shown first, nothing is written
while there is an error, an event missing from the sheet is kept, and only the changed entries of
events/events.yml are rewritten (the others keep their exact text, comments included). The file's
format is the JSON/YAML schema of docs/events.md.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from bot.authoring.reading import (
    CASABLANCA,
    STAMP_COLUMNS,
    STAMP_SHEET,
    Row,
    SheetRejected,
    Table,
    error,
    format_when,
    has_arabic,
    is_web_address,
    parse_when,
    read_book,
    text_lines,
    warning,
)
from bot.authoring.report import (
    Change,
    ImportReport,
    decide,
    decision_problem,
    fingerprint,
    list_diff,
    map_diff,
    read_stamps,
    show,
    text_diff,
)
from bot.authoring.validate import Problem
from bot.authoring.writing import (
    add_readme,
    add_stamps,
    add_table,
    comment_head,
    dump_entry,
    export_kind,
    new_workbook,
    save_csv,
    save_workbook,
)
from bot.core.content import ContentError, load_yaml
from bot.core.languages import ANSWER_LANGS, lang_map
from bot.core.phrases import fold

EVENTS_SHEET = "Events"
EVENTS_FILE = Path("events") / "events.yml"
LANGS = ANSWER_LANGS
LANG_FIELDS = ("title", "description", "audience")
TEXT_FIELDS = ("city", "venue", "address", "organiser", "price", "registration", "url", "rrule")
LIST_FIELDS = ("topics", "languages", "exdates")
FIELD_ORDER = (
    "title",
    "description",
    "start",
    "end",
    "city",
    "venue",
    "address",
    "organiser",
    "topics",
    "audience",
    "languages",
    "price",
    "registration",
    "url",
    "rrule",
    "exdates",
)
ALIASES = {"title": ("titles",), "description": ("descriptions",), "organiser": ("organizer",), "topics": ("topic",)}
EVENT_WIDTHS = {  # the columns of the Events sheet, in order, with their widths
    "id": 30,
    "start": 17,
    "end": 17,
    "city": 12,
    "title_fr": 40,
    "title_ar": 40,
    "title_en": 40,
    "venue": 30,
    "address": 30,
    "organiser": 24,
    "topics": 16,
    "audience_fr": 28,
    "audience_ar": 28,
    "audience_en": 28,
    "languages": 11,
    "price": 10,
    "registration": 28,
    "url": 30,
    "description_fr": 50,
    "description_ar": 50,
    "description_en": 50,
    "rrule": 30,
    "exdates": 14,
}
EVENT_COLUMNS = tuple(EVENT_WIDTHS)
_When = tuple[dt.datetime, bool]  # a local time, and whether it is a whole day
_Bad = Callable[[Row, str, str, str], None]  # reports a problem in a cell: (row, column, message, fix)

README_EVENTS = (
    "Dalil — Events / Événements",
    "FR",
    "1. Une ligne par événement. Modifiez les cellules, enregistrez en .xlsx, puis importez le fichier : "
    "l'import montre d'abord les changements et les erreurs, et n'écrit rien tant qu'il y a une erreur.",
    "2. id : identifiant unique et stable (ne le changez pas ; pour un nouvel événement, inventez-en un, "
    "par ex. alcs-agadir-2027-01-14). title_fr est obligatoire ; "
    "title_ar et title_en sont affichés quand ils existent.",
    "3. start et end : AAAA-MM-JJ HH:MM, heure du Maroc (par ex. 2027-01-14 10:00). Pour une journée entière, "
    "la date seule ; end est alors le dernier jour, inclus. end ne peut pas être avant start.",
    "4. city : une ville de la liste de Dalil (casablanca, rabat, tanger, agadir, oujda, fes…). "
    "topics, languages et exdates : une valeur par ligne.",
    "5. rrule répète l'événement (par ex. FREQ=WEEKLY;BYDAY=TH;UNTIL=20270225T235959Z) ; "
    "exdates : jours sans séance (AAAA-MM-JJ).",
    "6. Pas de formule (rien qui commence par =). Un événement absent du fichier n'est pas supprimé.",
    "",
    "EN",
    "1. One row per event. Edit the cells, save as .xlsx, then import the file: the import first shows the changes "
    "and the errors, and writes nothing while there is an error.",
    "2. id: a unique, stable id (do not change it; for a new event make one up, e.g. alcs-agadir-2027-01-14). "
    "title_fr is required; title_ar and title_en are shown when present.",
    "3. start and end: YYYY-MM-DD HH:MM, Morocco's time (e.g. 2027-01-14 10:00). For a whole day, the date alone; "
    "end is then the last day, included. end may not be before start.",
    "4. city: a city Dalil knows (casablanca, rabat, tanger, agadir, oujda, fes…). "
    "topics, languages and exdates: one value per line.",
    "5. rrule repeats the event (e.g. FREQ=WEEKLY;BYDAY=TH;UNTIL=20270225T235959Z); "
    "exdates: days without a session (YYYY-MM-DD).",
    "6. No formulas (nothing starting with =). An event missing from the file is not deleted.",
)


# -- one event as comparable data --------------------------------------------------------------------
def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _values(value: Any) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(_when_value(v) if isinstance(v, dt.date) else str(v).strip() for v in value if v not in (None, ""))
    return tuple(v.strip() for v in str(value).split(",") if v.strip())


def _when_value(value: dt.date) -> str:
    return value.isoformat() if not isinstance(value, dt.datetime) else format_when(value, day=False)


def _when_text(value: Any, whole_day: bool) -> str:
    try:
        parsed = parse_when(value)
    except ValueError:
        return _text(value)  # shown as written, so the admin can correct it
    if parsed is None:
        return ""
    moment, is_day = parsed
    return format_when(moment, day=whole_day or is_day)


def event_record(item: Mapping[str, Any]) -> dict[str, Any]:
    """An entry of events.yml as the comparable data a sheet row holds."""
    record: dict[str, Any] = {"id": _text(item.get("id"))}
    for name in LANG_FIELDS:
        record[name] = lang_map(item.get(name, item.get(name + "s")), plain="fr")
    start = item.get("start")
    whole_day = bool(item.get("all_day", False))
    try:
        parsed = parse_when(start)
        whole_day = whole_day or bool(parsed and parsed[1])
    except ValueError:
        pass
    record["start"] = _when_text(start, whole_day)
    record["end"] = _when_text(item.get("end"), whole_day)
    for name in TEXT_FIELDS:
        raw = item.get(name, item.get("organizer")) if name == "organiser" else item.get(name)
        record[name] = _text(raw)
    record["topics"] = _values(item.get("topics", item.get("topic")))
    record["languages"] = _values(item.get("languages"))
    record["exdates"] = tuple(_when_text(x, True) for x in _values(item.get("exdates")))
    return record


def event_row(record: Mapping[str, Any]) -> list[str]:
    values: dict[str, str] = {"id": record["id"], "start": record["start"], "end": record["end"]}
    for name in LANG_FIELDS:
        for lang in LANGS:
            values[f"{name}_{lang}"] = record[name].get(lang, "")
    for name in TEXT_FIELDS:
        values[name] = record[name]
    for name in LIST_FIELDS:
        values[name] = "\n".join(record[name])
    return [values[c] for c in EVENT_COLUMNS]


# -- the events file ---------------------------------------------------------------------------------
def _load_events(root: Path) -> tuple[Any, list[Any]]:
    path = root / EVENTS_FILE
    if not path.exists():
        return None, []
    raw = load_yaml(path)
    if isinstance(raw, list):
        return raw, raw
    if isinstance(raw, Mapping) and isinstance(raw.get("events") or [], list):
        return raw, list(raw.get("events") or [])
    if raw is None:
        return None, []
    raise ContentError(f"{path}: expected a list of events or a mapping with an events list")


def export_events(root: Path, path: Path) -> Path:
    """Write events/events.yml to `path`: an .xlsx (sheet Events, README) or a .csv of the Events sheet."""
    root, path = Path(root), Path(path)
    kind = export_kind(path)
    _doc, items = _load_events(root)
    records = [event_record(item) for item in items if isinstance(item, Mapping)]
    records.sort(key=lambda r: (r["start"], r["id"]))
    rows = [event_row(r) for r in records]
    if kind == "csv":
        save_csv(path, EVENT_COLUMNS, rows)
        return path
    workbook = new_workbook()
    add_table(
        workbook,
        EVENTS_SHEET,
        EVENT_COLUMNS,
        rows,
        widths=EVENT_WIDTHS,
        freeze="B2",
        rtl=lambda _values, column: column.endswith("_ar"),
    )
    add_readme(workbook, [*README_EVENTS, "", f"Exported {dt.date.today().isoformat()}: {len(rows)} events."])
    add_stamps(workbook, [("event", r["id"], fingerprint(r)) for r in records])
    save_workbook(workbook, path)
    return path


class _Names:
    """City and topic names from content/cities.yml and content/event_topics.yml (when present)."""

    def __init__(self, content_dir: Path) -> None:
        self.cities: set[str] | None = None
        self.city_ids: list[str] = []
        self.topics: set[str] | None = None
        cities_path = content_dir / "cities.yml"
        if cities_path.exists():
            cities = (load_yaml(cities_path) or {}).get("cities") or {}
            self.city_ids = [str(c) for c in cities]
            self.cities = {fold(str(c)) for c in cities}
            for entry in cities.values():
                entry = entry or {}
                self.cities |= {
                    fold(str(n)) for n in [*(entry.get("name") or {}).values(), *(entry.get("aliases") or ())]
                }
        topics_path = content_dir / "event_topics.yml"
        if topics_path.exists():
            topics = load_yaml(topics_path) or {}
            self.topics = {fold(str(t)) for t in topics}
            for entry in topics.values():
                entry = entry or {}
                self.topics |= {
                    fold(str(n)) for n in [*(entry.get("name") or {}).values(), *(entry.get("words") or ())]
                }


def _records_from_table(table: Table, names: _Names) -> tuple[dict[str, tuple[dict[str, Any], int]], list[Problem]]:
    """The sheet's events by id, each with its row number, and the problems of the sheet's cells."""
    place = table.place
    problems: list[Problem] = []
    out: dict[str, tuple[dict[str, Any], int]] = {}

    def bad(row: Row, column: str, message: str, fix: str) -> None:
        problems.append(error(place.at(row.number, column), message, fix))

    def warn(row: Row, column: str, message: str, fix: str) -> None:
        problems.append(warning(place.at(row.number, column), message, fix))

    for row in table.rows:
        event_id = row.text("id")
        if not event_id or "\n" in event_id:
            bad(
                row,
                "id",
                "this row has no event id" if not event_id else "the id is on several lines",
                "Give each event a short unique id on one line, e.g. alcs-agadir-2027-01-14.",
            )
            continue
        if event_id in out:
            bad(
                row,
                "id",
                f"the event {event_id} appears twice (rows {out[event_id][1]} and {row.number})",
                "Keep one row per event, or give the second one its own id.",
            )
            continue
        record, start = _record_from_row(row, event_id, bad)
        _check_city_and_topics(row, record, names, bad, warn)
        _check_url_and_rrule(row, record, start, bad)
        out[event_id] = (record, row.number)
    return out, problems


def _record_from_row(row: Row, event_id: str, bad: _Bad) -> tuple[dict[str, Any], _When | None]:
    """The event a row describes, and its parsed start; its bad texts and dates are reported to `bad`."""
    record: dict[str, Any] = {"id": event_id, **_language_texts(row, bad)}
    start, end = _start_and_end(row, bad)
    whole_day = bool(start and start[1])
    record["start"] = format_when(start[0], day=whole_day) if start else row.text("start")
    record["end"] = format_when(end[0], day=whole_day) if end else row.text("end")
    for name in TEXT_FIELDS:
        record[name] = row.text(name)
    record["topics"] = text_lines(row.cells.get("topics"), commas=True)
    record["languages"] = text_lines(row.cells.get("languages"), commas=True)
    record["exdates"] = _exdates(row, bad)
    return record, start


def _language_texts(row: Row, bad: _Bad) -> dict[str, dict[str, str]]:
    """A row's title, description and audience by language; checks the French title is there and Arabic is Arabic."""
    texts: dict[str, dict[str, str]] = {}
    for name in LANG_FIELDS:
        texts[name] = {lang: row.text(f"{name}_{lang}") for lang in LANGS if row.text(f"{name}_{lang}")}
        arabic = texts[name].get("ar", "")
        if arabic and not has_arabic(arabic):
            bad(row, f"{name}_ar", "this Arabic cell contains no Arabic letters", "Write it in Arabic script.")
    if not texts["title"].get("fr"):
        bad(row, "title_fr", "the French title is missing", "Write the event's title in French (it is required).")
    return texts


def _start_and_end(row: Row, bad: _Bad) -> tuple[_When | None, _When | None]:
    """The start and end of a row; not a date, no start, or an end before the start or written differently, is bad."""
    when: dict[str, _When | None] = {}
    for column in ("start", "end"):
        try:
            when[column] = parse_when(row.cells.get(column), from_sheet=True)
        except ValueError:
            when[column] = None
            bad(
                row,
                column,
                f"{row.text(column)!r} is not a date and time",
                "Write YYYY-MM-DD HH:MM in Morocco's time (e.g. 2027-01-14 10:00), or YYYY-MM-DD for a whole day.",
            )
    start, end = when["start"], when["end"]
    if start is None and not row.text("start"):
        bad(row, "start", "the start is missing", "Write when the event starts: YYYY-MM-DD HH:MM or YYYY-MM-DD.")
    if start and end:
        if start[1] != end[1]:
            bad(
                row,
                "end",
                "start and end are written differently (one is a whole day, the other has a time)",
                "Write both as days (whole-day event) or both as YYYY-MM-DD HH:MM.",
            )
        elif end[0] < start[0]:
            bad(
                row,
                "end",
                f"the end ({row.text('end')}) is before the start ({row.text('start')})",
                "Correct the dates: the end must be at or after the start.",
            )
    return start, end


def _exdates(row: Row, bad: _Bad) -> tuple[str, ...]:
    """The days without a session of a row, as YYYY-MM-DD; one that is not a date is kept as written, and bad."""
    exdates = []
    for value in text_lines(row.cells.get("exdates"), commas=True):
        try:
            parsed = parse_when(value, from_sheet=True)
            exdates.append(format_when(parsed[0], day=True) if parsed else value)
        except ValueError:
            exdates.append(value)
            bad(
                row,
                "exdates",
                f"{value!r} is not a date",
                "Write each day without a session as YYYY-MM-DD, one per line.",
            )
    return tuple(exdates)


def _check_city_and_topics(row: Row, record: Mapping[str, Any], names: _Names, bad: _Bad, warn: _Bad) -> None:
    """Check the city and the topics of an event against the names Dalil knows (an unknown topic is a warning)."""
    city = record["city"]
    if city and names.cities is not None and fold(city) not in names.cities:
        bad(
            row,
            "city",
            f"unknown city {city!r}",
            f"Use one of: {', '.join(names.city_ids)} (or add it to content/cities.yml).",
        )
    if names.topics is not None:
        for topic in record["topics"]:
            if fold(topic) not in names.topics:
                warn(
                    row,
                    "topics",
                    f"unknown topic {topic!r} (it will be ignored)",
                    "Use ids of content/event_topics.yml: health, hiv, women, youth, jobs_training, "
                    "rights, return, community, culture.",
                )


def _check_url_and_rrule(row: Row, record: Mapping[str, Any], start: _When | None, bad: _Bad) -> None:
    """Check that an event's url is a web address and that its repeat rule can be read."""
    for column in ("url",):
        if record[column] and not is_web_address(record[column]):
            bad(
                row,
                column,
                f"{record[column]!r} is not a web address",
                "Use a full address starting with https://.",
            )
    if record["rrule"] and start:
        reason = _rrule_problem(record["rrule"], start[0])
        if reason:
            bad(
                row,
                "rrule",
                f"the repeat rule cannot be read ({reason})",
                "Write an RFC 5545 rule such as FREQ=WEEKLY;BYDAY=TH;UNTIL=20270225T235959Z "
                "(UNTIL in UTC, ending in Z).",
            )


def _past(record: Mapping[str, Any], today: dt.date) -> dt.date | None:
    """The event's last day when it is before `today` (and it does not repeat)."""
    try:
        last = parse_when(record["end"] or record["start"])
    except ValueError:
        return None
    if last is None or record["rrule"] or last[0].date() >= today:
        return None
    return last[0].date()


def _rrule_problem(rule: str, start: dt.datetime) -> str | None:
    try:
        from dateutil.rrule import rrulestr  # type: ignore[import-untyped]
    except ImportError:  # the action server's dependency; without it the rule is checked when served
        return None
    try:
        rrulestr(rule.removeprefix("RRULE:"), dtstart=start.replace(tzinfo=CASABLANCA))
    except (ValueError, TypeError) as exc:
        return (str(exc) or type(exc).__name__).splitlines()[0][:120]
    return None


def event_diff(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    if old is None:
        return [
            f"title › fr: {show(new['title'].get('fr', ''))}",
            f"start: {show(new['start'])}",
            f"city: {show(new['city'])}",
        ]
    lines: list[str] = []
    for name in FIELD_ORDER:
        before, after = old[name], new[name]
        if isinstance(before, Mapping):
            lines += map_diff(name, before, after, LANGS)
        elif isinstance(before, tuple):
            lines += list_diff(name, before, after)
        else:
            lines += text_diff(name, before, after)
    return lines


def _yaml_value(name: str, value: Any) -> Any:
    if name in LANG_FIELDS:
        return {k: value[k] for k in (*LANGS, *value) if k in value} or None
    if name in ("start", "end"):
        if not value:
            return None
        return dt.date.fromisoformat(value) if len(value) == 10 else value.replace(" ", "T")
    if name == "exdates":
        return [dt.date.fromisoformat(v) if len(v) == 10 else v for v in value] or None
    if name in LIST_FIELDS:
        return list(value) or None
    return value or None


def event_yaml(
    record: Mapping[str, Any], raw: Mapping[str, Any] | None, old: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The entry for events.yml: the original one with only the changed fields replaced."""
    out: dict[str, Any] = dict(raw) if raw is not None else {"id": record["id"]}
    for name in FIELD_ORDER:
        if old is not None and old[name] == record[name]:
            continue
        for alias in ALIASES.get(name, ()):
            out.pop(alias, None)
        value = _yaml_value(name, record[name])
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
        if name == "start" and value is not None and not isinstance(value, dt.date):
            out.pop("all_day", None)
    return out


def _rewrite_list(text: str, old_items: Sequence[Any], new_items: Sequence[Any]) -> str | None:
    """events.yml with only the changed or added entries rewritten; None when its layout is unusual."""
    lines = text.splitlines(keepends=True)
    top = next((i for i, line in enumerate(lines) if re.match(r"^events:\s*(#.*)?$", line)), None)
    if top is None:
        return None
    starts: list[int] = []
    indent: str | None = None
    end = len(lines)
    for i in range(top + 1, len(lines)):
        line = lines[i]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if indent is None:
            match = re.match(r"^( *)- ", line)
            if match is None:
                return None
            indent = match.group(1)
        if line.startswith(indent + "- "):
            starts.append(i)
        elif len(line) - len(line.lstrip(" ")) <= len(indent):
            end = i
            break
    if indent is None or len(starts) != len(old_items):
        return None
    out = lines[: starts[0]]
    bounds = [*starts, end]
    for k, old in enumerate(old_items):
        chunk = lines[bounds[k] : bounds[k + 1]]
        body_end = len(chunk)
        while body_end > 1 and (not chunk[body_end - 1].strip() or chunk[body_end - 1].lstrip().startswith("#")):
            body_end -= 1
        if new_items[k] is old or new_items[k] == old:
            out += chunk[:body_end]
        else:
            out.append(_indent(dump_entry([new_items[k]], style="events"), indent))
        out += chunk[body_end:]
    separator = "\n" if any(not line.strip() for line in lines[starts[0] : end]) else ""
    for item in new_items[len(old_items) :]:
        if out and not out[-1].endswith("\n"):
            out.append("\n")
        out.append(separator + _indent(dump_entry([item], style="events"), indent))
    out += lines[end:]
    return "".join(out)


def _indent(text: str, indent: str) -> str:
    return "".join(indent + line if line.strip() else line for line in text.splitlines(keepends=True))


def _events_text(path: Path, doc: Any, old_items: list[Any], new_items: list[Any]) -> str:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    wanted = [event_record(i) for i in new_items]
    rest = {k: v for k, v in doc.items() if k != "events"} if isinstance(doc, Mapping) else {}

    def reads_back(candidate: str | None) -> bool:
        if candidate is None:
            return False
        loaded = yaml.safe_load(candidate)
        items = loaded if isinstance(loaded, list) else (loaded or {}).get("events") or []
        others = {k: v for k, v in loaded.items() if k != "events"} if isinstance(loaded, Mapping) else {}
        return [event_record(i) for i in items] == wanted and others == rest

    candidate = _rewrite_list(text, old_items, new_items) if text else None
    if reads_back(candidate):
        return str(candidate)
    whole = new_items if isinstance(doc, list) else {**rest, "events": new_items}
    candidate = comment_head(text) + dump_entry(whole, style="events")
    if reads_back(candidate):
        return candidate
    raise RuntimeError(f"{EVENTS_FILE} would not read back as written")


def import_events(root: Path, path: Path, *, apply: bool = False, today: dt.date | None = None) -> ImportReport:
    """Read an exported events file (.xlsx or .csv), validate it, diff it; write only when `apply`."""
    root, path = Path(root), Path(path)
    report = ImportReport(path, root)
    try:
        book = read_book(
            path,
            {EVENTS_SHEET: EVENT_COLUMNS, STAMP_SHEET: STAMP_COLUMNS},
            required=EVENTS_SHEET,
            hints={"FAQ": "This is a FAQ file: import it with the FAQ import."},
        )
    except SheetRejected as exc:
        report.problems.extend(exc.problems)
        return report
    report.problems.extend(book.problems)
    try:
        doc, items = _load_events(root)
        names = _Names(root / "content")
    except ContentError as exc:
        report.problems.append(
            error(
                str(exc).split(":", 1)[0],
                "a project file cannot be read: " + str(exc),
                "Fix that file first (run the events check).",
            )
        )
        return report
    today = today or dt.date.today()
    table = book.tables[EVENTS_SHEET]
    stamps = read_stamps(book.tables.get(STAMP_SHEET))
    sheet, problems = _records_from_table(table, names)
    report.problems.extend(problems)

    current: dict[str, tuple[int, dict[str, Any]]] = {}
    for position, item in enumerate(items):
        if isinstance(item, Mapping):
            current.setdefault(_text(item.get("id")), (position, event_record(item)))
    new_items, changed = _merge_events(table, items, current, sheet, stamps, today, report.problems)
    for event_id, record in changed:
        old = current.get(event_id, (None, None))[1]
        report.changes.append(
            Change(
                str(EVENTS_FILE),
                f"event {event_id}" if old else f"new event {event_id}",
                tuple(event_diff(old, record)),
            )
        )
    if report.ok and changed:
        target = root / EVENTS_FILE
        report.stage(target, _events_text(target, doc, items, new_items))
    if apply:
        report.apply()
    return report


def _merge_events(
    table: Table,
    items: list[Any],
    current: Mapping[str, tuple[int, dict[str, Any]]],
    sheet: Mapping[str, tuple[dict[str, Any], int]],
    stamps: Mapping[tuple[str, str], str],
    today: dt.date,
    problems: list[Problem],
) -> tuple[list[Any], list[tuple[str, dict[str, Any]]]]:
    """The entries of events.yml with those of the sheet the import takes, and the new or changed events.

    Adds to `problems` the events edited in events.yml since the export (kept, or a conflict), the
    taken events that are over, and the events missing from the sheet (kept).
    """
    new_items = list(items)
    changed: list[tuple[str, dict[str, Any]]] = []
    for event_id, (record, row) in sheet.items():
        index, old = current.get(event_id, (None, None))
        choice = decide(fingerprint(record), fingerprint(old) if old else None, stamps.get(("event", event_id)))
        problem = decision_problem(choice, table.place.at(row, "id"), f"the event {event_id}", str(EVENTS_FILE))
        if problem:
            problems.append(problem)
        if choice not in ("take", "conflict"):
            continue
        changed.append((event_id, record))
        past = _past(record, today)
        if past:
            problems.append(
                warning(
                    table.place.at(row, "end" if record["end"] else "start"),
                    f"the event {event_id} is over ({past})",
                    "Check the year: past events are not shown to users.",
                )
            )
        if index is None:
            new_items.append(event_yaml(record, None, None))
        else:
            new_items[index] = event_yaml(record, items[index], old)
    for event_id in current:
        if event_id not in sheet:
            problems.append(
                warning(
                    table.place.at(),
                    f"event {event_id} is not in the sheet; it was kept",
                    f"Nothing to do (events are removed in {EVENTS_FILE}).",
                )
            )
    return new_items, changed
