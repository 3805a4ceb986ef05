"""The FAQ as a spreadsheet: export faq/*.yml (with the contacts) for admins, and import it back safely.

Owns the FAQ sheet (one row per topic and way of writing; titles, answers, cautions and example
questions per row, family, sources, last check and contacts shared by the rows of a topic) and
the import of a whole workbook: read with `bot.authoring.reading`, contacts merged by
`bot.authoring.contacts`, topics validated with `bot.authoring.validate.validate` (places given as
file, sheet, row and column), compared with the project item by item, and written only when asked
and when nothing blocks. Used by `dalil faq export|import` (`bot.ops.cli`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.authoring.contacts import (
    CONTACT_COLUMNS,
    CONTACTS_SHEET,
    add_contacts_table,
    contact_changes,
    contact_data,
    contacts_text,
    merge_contacts,
)
from bot.authoring.reading import (
    ITEM_ID,
    STAMP_COLUMNS,
    STAMP_SHEET,
    Place,
    Row,
    SheetRejected,
    Table,
    cell_text,
    error,
    extra_texts,
    parse_day,
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
)
from bot.authoring.validate import (
    FAMILIES,
    Locator,
    Problem,
    contract_topics,
    validate,
    yaml_locator,
)
from bot.authoring.writing import (
    add_readme,
    add_stamps,
    add_table,
    export_kind,
    new_workbook,
    save_csv,
    save_workbook,
)
from bot.core.content import Contact, ContentError, Library, Source, Topic, dump_yaml
from bot.core.languages import ANSWER_LANGS, QUESTION_LANGS

FAQ_SHEET = "FAQ"
FAQ_COLUMNS = (
    "topic",
    "family",
    "language",
    "title",
    "answer",
    "caution",
    "questions",
    "sources",
    "last_checked",
    "contacts",
)
_LANGUAGE = FAQ_COLUMNS.index("language")
TOPIC_LEVEL_COLUMNS = ("family", "sources", "last_checked", "contacts")
FAQ_WIDTHS = {
    "topic": 18,
    "family": 12,
    "language": 10,
    "title": 28,
    "answer": 80,
    "caution": 40,
    "questions": 60,
    "sources": 45,
    "last_checked": 13,
    "contacts": 22,
}
# Which key of title/answer/caution a row of each way of writing holds (ary_latn has none:
# people who write Darija in Latin letters get the Darija answer in Arabic script).
TEXT_KEY: dict[str, str | None] = {"fr": "fr", "ar": "ar", "ary_arab": "ary", "ary_latn": None, "en": "en"}
RTL_LANGS = ("ar", "ary_arab")
RTL_FAQ_COLUMNS = ("title", "answer", "caution", "questions")

README_FAQ = (
    "Dalil — FAQ",
    "FR",
    "1. Modifiez les textes dans la feuille FAQ (et les contacts dans la feuille Contacts), enregistrez en .xlsx, "
    "puis importez le fichier : l'import montre d'abord les changements et les erreurs, "
    "et n'écrit rien tant qu'il y a une erreur.",
    "2. Une ligne par sujet (colonne topic) et par façon d'écrire (colonne language) : fr, ar (arabe standard), "
    "ary_arab (darija en lettres arabes), ary_latn (darija en lettres latines), en.",
    "3. Ne changez pas topic ni language sur les lignes existantes, ni le nom des colonnes ou des feuilles. "
    "Pour un nouveau sujet, ajoutez cinq lignes avec un nouvel identifiant (minuscules, chiffres et _).",
    "4. answer : une ligne contenant seulement --- commence une nouvelle page (700 caractères au plus par page). "
    "Sur la ligne ary_arab, answer est la réponse en darija ; "
    "sur la ligne ary_latn, laissez title, answer et caution vides.",
    "5. questions : une question par ligne (Alt+Entrée dans Excel). sources : une adresse https:// par ligne. "
    "contacts : un identifiant de la feuille Contacts par ligne.",
    "6. family, sources, last_checked (AAAA-MM-JJ) et contacts valent pour tout le sujet : "
    "gardez la même valeur sur toutes ses lignes (une cellule vide reprend celle des autres lignes).",
    "7. Pas de formule (rien qui commence par =) : tapez le texte lui-même. "
    "Un sujet ou un contact absent du fichier n'est pas supprimé. "
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
    "7. No formulas (nothing starting with =): type the text itself. "
    "A topic or contact missing from the file is not deleted. "
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
    add_table(
        workbook,
        FAQ_SHEET,
        FAQ_COLUMNS,
        rows,
        widths=FAQ_WIDTHS,
        freeze="D2",
        band_by="topic",
        rtl=lambda values, column: values[_LANGUAGE] in RTL_LANGS and column in RTL_FAQ_COLUMNS,
        dropdowns={"language": QUESTION_LANGS, "family": FAMILIES},
    )
    add_contacts_table(workbook, contacts)
    add_readme(
        workbook,
        [
            *README_FAQ,
            "",
            f"Exported {dt.date.today().isoformat()} from {len(topics)} topics and {len(contacts)} contacts.",
        ],
    )
    add_stamps(
        workbook,
        [
            *(("topic", t.id, fingerprint(topic_data(t))) for t in topics.values()),
            *(("contact", c.id, fingerprint(contact_data(c))) for c in contacts.values()),
        ],
    )
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


def topic_data(topic: Topic) -> dict[str, Any]:
    """A topic as comparable plain data (an empty list of questions counts as none)."""
    data = topic.to_dict()
    data["questions"] = {lang: items for lang, items in data["questions"].items() if items}
    return data


def import_faq(root: Path, path: Path, *, apply: bool = False, today: dt.date | None = None) -> ImportReport:
    """Read an exported FAQ file (.xlsx or .csv), validate it, diff it; write only when `apply`."""
    root, path = Path(root), Path(path)
    report = ImportReport(path, root)
    try:
        book = read_book(
            path,
            {FAQ_SHEET: FAQ_COLUMNS, CONTACTS_SHEET: CONTACT_COLUMNS, STAMP_SHEET: STAMP_COLUMNS},
            required=FAQ_SHEET,
            hints={"Events": "This is an events file: import it with the events import."},
        )
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
        report.problems.append(
            error(
                str(exc).split(":", 1)[0],
                "a project file cannot be read: " + str(exc),
                "Fix that file first (run the FAQ validation).",
            )
        )
        return report
    stamps = read_stamps(book.tables.get(STAMP_SHEET))
    today = today or dt.date.today()

    contacts_table = book.tables.get(CONTACTS_SHEET)
    changed_contacts: dict[str, Contact] = {}
    if contacts_table is not None:
        changed_contacts = merge_contacts(contacts_table, current_contacts, stamps, today, report.problems)
    elif path.suffix.lower() != ".csv":
        report.problems.append(
            warning(
                path.name,
                "the workbook has no Contacts sheet; contacts were not changed",
                "Nothing to do, unless you meant to edit contacts.",
            )
        )
    contacts = {**current_contacts, **changed_contacts}
    topics, locators, changed_topics = _merge_topics(
        book.tables[FAQ_SHEET], current_topics, stamps, root, report.problems
    )

    menu_topics = [t for family in (menu.get("families") or {}).values() for t in family.get("topics") or []]
    report.problems.extend(
        validate(
            topics,
            contacts,
            lambda topic: locators.get(topic.id) or yaml_locator(topic.path or root / "faq" / f"{topic.id}.yml", root),
            today=today,
            required_topics=contract_topics(root),
            menu_topics=menu_topics,
        )
    )

    report.changes.extend(_topic_changes(current_topics, changed_topics))
    report.changes.extend(contact_changes(current_contacts, changed_contacts))
    if report.ok:  # only a valid import has files to write
        _stage_files(report, changed_topics, current_contacts, contacts if changed_contacts else None)
    if apply:
        report.apply()
    return report


def _merge_topics(
    table: Table,
    current: Mapping[str, Topic],
    stamps: Mapping[tuple[str, str], str],
    root: Path,
    problems: list[Problem],
) -> tuple[dict[str, Topic], dict[str, Locator], list[Topic]]:
    """The project's topics with those of the sheet the import takes; where each sheet topic is;
    the new or changed topics. Adds to `problems` those of the sheet, the topics edited in faq/
    since the export (kept, or a conflict) and the topics missing from the sheet (kept)."""
    groups, found = _topics_from_table(table, current, root)
    problems.extend(found)
    topics = dict(current)
    locators: dict[str, Locator] = {}
    changed: list[Topic] = []
    for tid, group in groups.items():
        old_topic = current.get(tid)
        choice = decide(
            fingerprint(topic_data(group.topic)),
            fingerprint(topic_data(old_topic)) if old_topic else None,
            stamps.get(("topic", tid)),
        )
        problem = decision_problem(
            choice, table.place.at(group.first_row, "topic"), f"the topic {tid}", f"faq/{tid}.yml"
        )
        if problem:
            problems.append(problem)
        if choice in ("take", "conflict", "same"):
            topics[tid] = group.topic
            locators[tid] = group.locator(table.place)
        if choice in ("take", "conflict"):
            changed.append(group.topic)
    for tid in sorted(set(current) - set(groups)):
        problems.append(
            warning(
                table.place.at(),
                f"topic {tid} is not in the sheet; it was kept",
                f"Nothing to do (topics are removed by deleting faq/{tid}.yml).",
            )
        )
    return topics, locators, changed


def _topic_changes(current: Mapping[str, Topic], changed: list[Topic]) -> list[Change]:
    """One change per new or changed topic, by id, with the diff of its fields."""
    return [
        Change(
            f"faq/{topic.id}.yml",
            f"topic {topic.id}" if current.get(topic.id) else f"new topic {topic.id}",
            tuple(topic_diff(current.get(topic.id), topic)),
        )
        for topic in sorted(changed, key=lambda t: t.id)
    ]


def _stage_files(
    report: ImportReport,
    changed_topics: list[Topic],
    current_contacts: Mapping[str, Contact],
    contacts: Mapping[str, Contact] | None,
) -> None:
    """Plan the writes of a valid import: a file per changed topic, and content/contacts.yml when
    `contacts` (all of them, the sheet's changes included) is given."""
    root = report.root
    for topic in changed_topics:
        if not ITEM_ID.match(topic.id):  # validate() refuses such ids; never let one become a path
            raise ValueError(f"invalid topic id {topic.id!r}")
        report.stage(root / "faq" / f"{topic.id}.yml", _topic_text(topic))
    if contacts is not None:
        contacts_path = root / "content" / "contacts.yml"
        report.stage(contacts_path, contacts_text(contacts_path, current_contacts, contacts))


def _topic_text(topic: Topic) -> str:
    data = topic.to_dict()
    for name in ("title", "caution", "answer"):  # multi-line texts as `|` blocks, as people write them
        if name in data:
            data[name] = {k: v + "\n" if "\n" in v else v for k, v in data[name].items()}
    text = dump_yaml(data)
    if topic_data(Topic.from_dict(yaml.safe_load(text))) != topic_data(
        topic
    ):  # never write what reads back differently
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
                    return place.at(
                        None,
                        name,
                        f"topic {self.id} (rows {self.first_row}–{self.last_row}), no row for language {lang}",
                    )
                return place.at(row, name)
            column = "topic" if name == "id" else name
            detail = f"line {field_path[1]}" if len(field_path) > 1 else ""
            return place.at(self.shared_rows.get(column, self.first_row), column + (f", {detail}" if detail else ""))

        return locate


_Shared = dict[str, tuple[Any, int]]  # a topic's value of each topic-level column, and the row it is first on


def _topics_from_table(
    table: Table, current: Mapping[str, Topic], root: Path
) -> tuple[dict[str, _TopicGroup], list[Problem]]:
    problems: list[Problem] = []
    rows_by_topic, shared = _rows_by_topic(table, problems)
    groups = {
        tid: _topic_group(tid, by_lang, shared.get(tid, {}), current.get(tid), root)
        for tid, by_lang in rows_by_topic.items()
    }
    return groups, problems


def _rows_by_topic(table: Table, problems: list[Problem]) -> tuple[dict[str, dict[str, Row]], dict[str, _Shared]]:
    """The rows of each topic by language, and each topic's shared values; bad rows become problems."""
    place = table.place
    rows_by_topic: dict[str, dict[str, Row]] = {}
    shared: dict[str, _Shared] = {}
    for row in table.rows:
        tid = row.text("topic")
        if not tid:
            problems.append(
                error(
                    place.at(row.number, "topic"),
                    "this row has no topic id",
                    "Write the topic id (e.g. work) or delete the row.",
                )
            )
            continue
        lang = row.text("language")
        if lang not in QUESTION_LANGS:
            problems.append(
                error(
                    place.at(row.number, "language"),
                    f"unknown language {lang!r}" if lang else "the language is empty",
                    f"Use one of: {', '.join(QUESTION_LANGS)}.",
                )
            )
            continue
        by_lang = rows_by_topic.setdefault(tid, {})
        if lang in by_lang:
            problems.append(
                error(
                    place.at(row.number, "language"),
                    f"topic {tid} has two rows for language {lang} (rows {by_lang[lang].number} and {row.number})",
                    "Keep one row per topic and language; delete the other.",
                )
            )
            continue
        by_lang[lang] = row
        if TEXT_KEY[lang] is None:
            for column in ("title", "answer", "caution"):
                if row.text(column):
                    problems.append(
                        error(
                            place.at(row.number, column),
                            "the ary_latn row has no text of its own (Darija readers get the ary_arab answer)",
                            "Leave this cell empty; write the Darija text on the ary_arab row.",
                        )
                    )
        _collect_shared(row, tid, shared.setdefault(tid, {}), place, problems)
    return rows_by_topic, shared


def _collect_shared(row: Row, tid: str, values: _Shared, place: Place, problems: list[Problem]) -> None:
    """Add the topic-level cells of `row` to `values`; a date that is not one, or a value differing
    from the topic's other rows, is a problem."""
    for column in TOPIC_LEVEL_COLUMNS:
        raw = row.cells.get(column)
        if not cell_text(raw):
            continue
        try:
            value = _shared_value(column, raw)
        except ValueError:
            problems.append(
                error(
                    place.at(row.number, column),
                    f"{cell_text(raw)!r} is not a date",
                    "Write the date as YYYY-MM-DD, e.g. 2026-11-29.",
                )
            )
            continue
        if column in values and values[column][0] != value:
            first_row = values[column][1]
            problems.append(
                error(
                    place.at(row.number, column),
                    f"the {column} of topic {tid} differs from row {first_row}",
                    f"{column} belongs to the whole topic: write the same value on every row of "
                    f"{tid} (or leave the other rows empty).",
                )
            )
        else:
            values.setdefault(column, (value, row.number))


def _topic_group(tid: str, by_lang: Mapping[str, Row], values: _Shared, old: Topic | None, root: Path) -> _TopicGroup:
    """The topic the rows of `tid` describe; texts in keys the sheet has no row for are kept from `old`."""
    title = extra_texts(old.title if old else {})
    answer = extra_texts(old.answer if old else {})
    caution = extra_texts(old.caution if old else {})
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
    valid_id = bool(ITEM_ID.match(tid))
    title, answer, caution = (_in_order(m) for m in (title, answer, caution))
    topic = Topic(
        id=tid,
        family=values.get("family", ("", 0))[0],
        title=title,
        answer=answer,
        caution=caution,
        questions={lang: questions[lang] for lang in [*QUESTION_LANGS, *questions] if lang in questions},
        sources=values.get("sources", ((), 0))[0],
        contacts=values.get("contacts", ((), 0))[0],
        last_checked=values.get("last_checked", (None, 0))[0],
        path=root / "faq" / f"{tid}.yml" if valid_id else None,
    )
    numbers = [r.number for r in by_lang.values()]
    return _TopicGroup(
        tid,
        {lang: r.number for lang, r in by_lang.items()},
        {c: n for c, (_v, n) in values.items()},
        min(numbers),
        max(numbers),
        topic,
    )


def _in_order(mapping: Mapping[str, str]) -> dict[str, str]:
    """Texts in the order topic files list them: fr, ar, en, ary, then any other."""
    return {k: mapping[k] for k in ("fr", "ar", "en", "ary", *mapping) if k in mapping}


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
        return [
            f"family: {new.family}",
            f"title › fr: {show(new.title.get('fr', ''))}",
            "answers: " + (", ".join(sorted(new.answer)) or "(none)"),
            f"questions: {sum(len(q) for q in new.questions.values())} in {', '.join(languages) or 'no language'}",
        ]
    lines: list[str] = []
    if old.family != new.family:
        lines.append(f"family: {show(old.family)} → {show(new.family)}")
    lines += map_diff("title", old.title, new.title, ANSWER_LANGS)
    if old.last_checked != new.last_checked:
        lines.append(f"last_checked: {show(old.last_checked)} → {show(new.last_checked)}")
    lines += list_diff("sources", [x.cell() for x in old.sources], [x.cell() for x in new.sources])
    lines += list_diff("contacts", old.contacts, new.contacts)
    lines += map_diff("caution", old.caution, new.caution, ANSWER_LANGS)
    lines += map_diff("answer", old.answer, new.answer, ("fr", "ar", "en", "ary"))
    for lang in [*QUESTION_LANGS, *sorted((set(old.questions) | set(new.questions)) - set(QUESTION_LANGS))]:
        lines += list_diff(f"questions › {lang}", old.questions.get(lang, ()), new.questions.get(lang, ()))
    return lines
