"""FAQ validation: every problem an admin can make, with where it is and how to fix it.

Works on `Topic` objects whatever they were read from: each topic carries a `Locator` that turns
a field (e.g. ("answer", "ar")) into a place a person can find — `faq/work.yml, answer › ar`
for YAML files, `faq.xlsx, sheet FAQ, row 12, column "answer"` for a spreadsheet. Errors block
import and publish; warnings are shown but do not block.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import yaml

from bot.core.content import (
    MAX_PAGE_CHARS,
    Contact,
    Source,
    Topic,
    compact_contact,
    split_pages,
)
from bot.core.languages import ANSWER_LANGS, QUESTION_LANGS

Level = Literal["error", "warning"]
Locator = Callable[[tuple[str, ...]], str]

MIN_QUESTIONS = {"fr": 25, "ar": 25, "ary_arab": 10, "ary_latn": 10, "en": 10}
STALE_AFTER_DAYS = 180
MAX_FIRST_PAGE_CHARS = 500  # what arrives without pressing "more": the action and the number
MAX_TITLE_CHARS = 30
FAMILIES = ("asylum", "papers", "work_school", "health", "return", "support")
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F]")
_LATIN = re.compile(r"[A-Za-z]")
_TOPIC_ID = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


@dataclass(frozen=True)
class Problem:
    level: Level
    where: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.level.upper()}: {self.where}: {self.message}. {self.fix}"


def yaml_locator(path: Path, root: Path | None = None) -> Locator:
    shown = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
    return lambda field: f"{shown}, {' › '.join(field)}" if field else shown


def normalise_question(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def contract_topics(root: Path) -> set[str] | None:
    """FAQ topic ids that the intent taxonomy (spec/topics.yml) requires, when that file is present."""
    path = root / "spec" / "topics.yml"
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return set((data.get("faq_topics") or {}).keys())


def _is_web_address(text: str) -> bool:
    parsed = urlparse(text)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def source_problems(source: Source, today: dt.date) -> list[tuple[Level, str, str]]:
    """What is wrong with one source: its address, when it was published, when it was read."""
    out: list[tuple[Level, str, str]] = []
    if not _is_web_address(source.url):
        out.append(("error", f"{source.url!r} is not a web address", "Use a full address starting with https://."))
    if not source.published:
        out.append(
            (
                "error",
                "the date the source was published is missing",
                "Add `published:` as the page shows it (YYYY-MM-DD, YYYY-MM or YYYY), or `undated` if it shows none.",
            )
        )
    elif not source.published_ok():
        out.append(
            ("error", f"{source.published!r} is not a publication date", "Write YYYY-MM-DD, YYYY-MM, YYYY or undated.")
        )
    elif source.year and source.year > today.year:
        out.append(
            ("error", f"the publication date {source.published} is in the future", "Write the date the page shows.")
        )
    if source.read is None:
        out.append(
            ("error", "the date the source was read is missing", "Add `read:` YYYY-MM-DD, the day you read the page.")
        )
    elif source.read > today:
        out.append(("error", f"the reading date {source.read} is in the future", "Write the day you actually read it."))
    return out


def first_contact_line(topic: Topic, contacts: Mapping[str, Contact], lang: str) -> str | None:
    """The contact line the first page of the answer carries (see Library.first_contact_line)."""
    for cid in topic.contacts:
        contact = contacts.get(cid)
        line = compact_contact(contact, lang) if contact else None
        if line:
            return line
    return None


def validate_contacts(
    contacts: Mapping[str, Contact], today: dt.date, where: str = "content/contacts.yml"
) -> list[Problem]:
    """Every contact says how to reach it and where its details come from, with dates."""
    problems: list[Problem] = []
    for cid in sorted(contacts):
        contact = contacts[cid]
        at = f"{where}, {cid}"
        if not contact.reachable():
            problems.append(
                Problem(
                    "error",
                    at,
                    "no phone, WhatsApp, e-mail, address or `reach` text",
                    "Give the way to reach it, or a `reach` text saying the way that works.",
                )
            )
        if contact.source is None:
            problems.append(
                Problem(
                    "error",
                    at + " › source",
                    "no source",
                    "Add `source: {url, published, read}`: where these details come from.",
                )
            )
        else:
            for level, message, fix in source_problems(contact.source, today):
                problems.append(Problem(level, at + " › source", message, fix))
    return problems


def validate(
    topics: Mapping[str, Topic],
    contacts: Mapping[str, Contact],
    locate: Callable[[Topic], Locator],
    *,
    today: dt.date | None = None,
    required_topics: Iterable[str] | None = None,
    menu_topics: Iterable[str] = (),
) -> list[Problem]:
    """All problems in a set of topics (errors first)."""
    today = today or dt.date.today()
    problems: list[Problem] = []
    seen_questions: dict[str, tuple[str, str]] = {}

    for topic_id in sorted(topics):
        topic = topics[topic_id]
        problems += _topic_problems(topic, locate(topic), contacts, today, seen_questions)

    if required_topics is not None:
        for missing in sorted(set(required_topics) - set(topics)):
            problems.append(
                Problem(
                    "error",
                    f"faq/{missing}.yml",
                    f"the topic {missing!r} required by topics.yml is missing",
                    "Restore the topic file (topic ids are a contract).",
                )
            )
    for topic_id in sorted(set(menu_topics) - set(topics)):
        problems.append(
            Problem(
                "error",
                "content/menu.yml",
                f"the menu lists an unknown topic {topic_id!r}",
                "Remove it from the menu or add faq/<id>.yml.",
            )
        )
    return sorted(problems, key=lambda p: (p.level != "error", p.where))


# Reports one problem of a topic: its level, the field it is in, what is wrong, how to fix it.
_Add = Callable[[Level, tuple[str, ...], str, str], None]


def _topic_problems(
    topic: Topic,
    at: Locator,
    contacts: Mapping[str, Contact],
    today: dt.date,
    seen_questions: dict[str, tuple[str, str]],
) -> list[Problem]:
    """The problems of one topic, each at the place `at` gives its field; `seen_questions` (question
    -> topic and language) spots a question asked under two topics."""
    problems: list[Problem] = []

    def add(level: Level, field: tuple[str, ...], message: str, fix: str) -> None:
        problems.append(Problem(level, at(field), message, fix))

    _check_identity(topic, add)
    _check_titles(topic, add)
    _check_answers(topic, contacts, add)
    _check_scripts(topic, add)
    _check_sources_and_dates(topic, today, add)
    _check_contacts(topic, contacts, add)
    _check_questions(topic, seen_questions, add)
    _check_formulas(topic, add)
    return problems


def _check_identity(topic: Topic, add: _Add) -> None:
    """The id is valid, matches the file name, and the family is known."""
    if not _TOPIC_ID.match(topic.id):
        add(
            "error",
            ("id",),
            f"the topic id {topic.id!r} is not valid",
            "Use lowercase letters, digits and _ only, e.g. health_access.",
        )
    if topic.path is not None and topic.path.suffix == ".yml" and topic.path.stem != topic.id:
        add(
            "error",
            ("id",),
            f"the id {topic.id!r} differs from the file name {topic.path.stem!r}",
            "Rename the file or change the id so they match.",
        )
    if topic.family not in FAMILIES:
        add("error", ("family",), f"unknown family {topic.family!r}", f"Use one of: {', '.join(FAMILIES)}.")


def _check_titles(topic: Topic, add: _Add) -> None:
    """Every answer language has a title short enough for a button."""
    for lang in ANSWER_LANGS:
        title = topic.title.get(lang, "")
        if not title:
            add("error", ("title", lang), f"the {lang} title is missing", "Write a short menu label (≤ 30 characters).")
        elif len(title) > MAX_TITLE_CHARS:
            add(
                "warning",
                ("title", lang),
                f"the title has {len(title)} characters",
                f"Shorten it to {MAX_TITLE_CHARS} or fewer so it fits on a button.",
            )


def _check_answers(topic: Topic, contacts: Mapping[str, Contact], add: _Add) -> None:
    """The answers exist (English may fall back to French) and their pages fit on a phone screen."""
    for lang in ANSWER_LANGS:
        answer = topic.answer.get(lang, "")
        if not answer.strip():
            level: Level = "warning" if lang == "en" else "error"
            add(
                level,
                ("answer", lang),
                f"the {lang} answer is missing (missing translation)",
                "Write the answer in this language" + (" (users then see the French one)." if lang == "en" else "."),
            )
            continue
        pages = split_pages(answer)
        first_line = first_contact_line(topic, contacts, lang)
        first = len(pages[0]) + (len(first_line) + 2 if first_line else 0) if pages else 0
        if first > MAX_FIRST_PAGE_CHARS:
            add(
                "error",
                ("answer", lang),
                f"the first page has {first} characters with the contact line, more than {MAX_FIRST_PAGE_CHARS}",
                "Keep only what to do now and who to call on the first page; move details after a line ---.",
            )
        for number, page in enumerate(pages, 1):
            if len(page) > MAX_PAGE_CHARS:
                add(
                    "error",
                    ("answer", lang),
                    f"page {number} has {len(page)} characters, too long for one phone screen",
                    f"Shorten it or start a new page with a line containing only --- (max {MAX_PAGE_CHARS} per page).",
                )


def _check_scripts(topic: Topic, add: _Add) -> None:
    """Arabic texts are in Arabic script and the French answer is not."""
    for lang in ("ar", "ary"):
        text = topic.answer.get(lang, "")
        if text and not _ARABIC.search(text):
            add(
                "error",
                ("answer", lang),
                "this Arabic answer contains no Arabic letters",
                "Write it in Arabic script, not in Latin letters.",
            )
    if topic.title.get("ar") and not _ARABIC.search(topic.title["ar"]):
        add("error", ("title", "ar"), "the Arabic title contains no Arabic letters", "Write it in Arabic script.")
    if topic.answer.get("fr") and _ARABIC.search(topic.answer["fr"]) and not _LATIN.search(topic.answer["fr"]):
        add("error", ("answer", "fr"), "the French answer is written in Arabic letters", "Put it in the Arabic column.")


def _check_sources_and_dates(topic: Topic, today: dt.date, add: _Add) -> None:
    """The facts have dated sources, and the answer was checked against them, not too long ago."""
    if not topic.sources:
        add("error", ("sources",), "no source URL", "Add the web page the facts come from, so others can check them.")
    for number, source in enumerate(topic.sources, 1):
        for level, message, fix in source_problems(source, today):
            add(level, ("sources", str(number)), message, fix)
    if topic.last_checked is None:
        add(
            "error",
            ("last_checked",),
            "the date it was last checked is missing",
            "Write the date you compared the answer with its sources, as YYYY-MM-DD.",
        )
    elif topic.last_checked > today:
        add(
            "error",
            ("last_checked",),
            f"the date {topic.last_checked} is in the future",
            "Write the date the answer was actually checked (today or earlier).",
        )
    elif (today - topic.last_checked).days > STALE_AFTER_DAYS:
        add(
            "warning",
            ("last_checked",),
            f"last checked {(today - topic.last_checked).days} days ago",
            "Compare the answer with its sources again and update the date.",
        )


def _check_contacts(topic: Topic, contacts: Mapping[str, Contact], add: _Add) -> None:
    """Every contact the topic names exists and can be reached."""
    for number, contact_id in enumerate(topic.contacts, 1):
        if contact_id not in contacts:
            add(
                "error",
                ("contacts", str(number)),
                f"unknown contact {contact_id!r}",
                "Use an id from content/contacts.yml or add the contact there first.",
            )
        elif not contacts[contact_id].reachable():
            add(
                "error",
                ("contacts", str(number)),
                f"the contact {contact_id!r} has no way to reach it",
                "In content/contacts.yml give it a phone, WhatsApp, e-mail or address, or a `reach` text "
                "saying the way that works.",
            )


def _check_questions(topic: Topic, seen_questions: dict[str, tuple[str, str]], add: _Add) -> None:
    """Enough example questions per way of writing, in the right script, none under two topics."""
    for lang in QUESTION_LANGS:
        questions = topic.questions.get(lang, ())
        if len(questions) < MIN_QUESTIONS[lang]:
            add(
                "warning",
                ("questions", lang),
                f"only {len(questions)} example questions",
                f"Add more ways people ask this (at least {MIN_QUESTIONS[lang]}) so the assistant understands them.",
            )
        if lang in ("ar", "ary_arab"):
            latin_only = [q for q in questions if not _ARABIC.search(q)]
            if latin_only:
                add(
                    "error",
                    ("questions", lang),
                    f"{len(latin_only)} question(s) without Arabic letters, e.g. {latin_only[0]!r}",
                    "Move Latin-script Darija to ary_latn; write Arabic in Arabic script.",
                )
        for question in questions:
            key = normalise_question(question)
            if not key:
                continue
            other = seen_questions.get(key)
            if other and other[0] != topic.id:
                add(
                    "error",
                    ("questions", lang),
                    f"the question {question!r} is also under {other[0]}",
                    "Keep each question under one topic only, or the assistant cannot tell them apart.",
                )
            else:
                seen_questions[key] = (topic.id, lang)


def _check_formulas(topic: Topic, add: _Add) -> None:
    """No title or caution starts like a spreadsheet formula."""
    for field_name, mapping in (("title", topic.title), ("answer", topic.answer), ("caution", topic.caution)):
        for lang, text in mapping.items():
            if text.lstrip().startswith(("=", "+", "@")) and field_name != "answer":
                add(
                    "error",
                    (field_name, lang),
                    "the text starts like a spreadsheet formula",
                    "Remove the leading = + or @.",
                )


def validate_library(root: Path, *, today: dt.date | None = None) -> list[Problem]:
    """Validate the project's faq/ folder, contacts and menu."""
    from bot.core.content import ContentError, Library

    lib = Library(root)
    try:
        topics = lib.topics()
        contacts = lib.contacts()
        menu = lib.menu()
    except ContentError as exc:
        return [
            Problem(
                "error",
                str(exc).split(":", 1)[0],
                "the file cannot be read: " + str(exc).split(":", 1)[-1].strip(),
                "Fix the YAML syntax (indentation, quotes) at the place shown.",
            )
        ]
    menu_topics = [t for family in (menu.get("families") or {}).values() for t in family.get("topics") or []]
    problems = validate(
        topics,
        contacts,
        lambda topic: yaml_locator(topic.path or root / "faq" / f"{topic.id}.yml", root),
        today=today,
        required_topics=contract_topics(root),
        menu_topics=menu_topics,
    )
    problems += validate_contacts(contacts, today or dt.date.today())
    problems += hotline_problems(root)
    return sorted(problems, key=lambda p: (p.level != "error", p.where))


def hotline_problems(root: Path) -> list[Problem]:
    """content/hotline.yml `office_hours`: days, times, closures, open days (bot/core/hours.py)."""
    from bot.core.content import ContentError, load_yaml
    from bot.core.hours import problems

    path = root / "content" / "hotline.yml"
    try:
        office = (load_yaml(path) or {}).get("office_hours") if path.exists() else None
    except ContentError as exc:
        return [Problem("error", "content/hotline.yml", f"the file cannot be read ({exc})", "Fix the YAML syntax.")]
    where, fix = "content/hotline.yml", "Fix it as the comments above office_hours in content/hotline.yml show."
    return [Problem("error", where, message, fix) for message in problems(office)]
