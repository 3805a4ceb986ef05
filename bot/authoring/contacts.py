"""The contacts as a spreadsheet: the Contacts sheet of the FAQ workbook, read back and merged safely.

Owns the Contacts sheet (one row per contact of content/contacts.yml; names, addresses and hours
per language in their own columns), reading it back into `Contact` objects with a problem for
each bad cell (ids, phone numbers Excel turned into numbers, web addresses, dates), the diff of a
contact, and the new text of content/contacts.yml in which only the changed entries are rewritten.
Used by the FAQ export and import (`bot.authoring.faq`), which handles both sheets of the workbook.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from bot.authoring.reading import (
    ITEM_ID,
    Row,
    Table,
    error,
    extra_texts,
    has_arabic,
    is_web_address,
    parse_day,
    text_lines,
    warning,
)
from bot.authoring.report import (
    Change,
    decide,
    decision_problem,
    fingerprint,
    list_diff,
    map_diff,
    show,
)
from bot.authoring.validate import Problem
from bot.authoring.writing import add_table, comment_head, dump_entry, rewrite_mapping
from bot.core.content import Contact, Source, load_yaml
from bot.core.languages import ANSWER_LANGS

CONTACTS_SHEET = "Contacts"
CONTACTS_FILE = "content/contacts.yml"
CONTACT_LANG_FIELDS = ("name", "address", "hours")
CONTACT_COLUMNS = (
    "id",
    "name_fr",
    "name_ar",
    "name_en",
    "phone",
    "whatsapp",
    "address_fr",
    "address_ar",
    "address_en",
    "hours_fr",
    "hours_ar",
    "hours_en",
    "cities",
    "url",
    "source",
    "checked",
    "check",
)
CONTACT_WIDTHS = {
    "id": 20,
    "phone": 20,
    "whatsapp": 20,
    "cities": 18,
    "url": 30,
    "source": 30,
    "checked": 12,
    "check": 8,
}

_PHONE = re.compile(r"^\+?[0-9][0-9 ]*$")
_YES = {"yes", "oui", "true", "1", "x", "نعم", "vrai"}
_NO = {"", "no", "non", "false", "0", "لا", "faux"}
_Bad = Callable[[Row, str, str, str], None]  # reports an error in a cell: (row, column, message, fix)


def add_contacts_table(workbook: Any, contacts: Mapping[str, Contact]) -> None:
    """The Contacts sheet of an exported workbook: one row per contact, Arabic columns right-to-left."""
    add_table(
        workbook,
        CONTACTS_SHEET,
        CONTACT_COLUMNS,
        [contact_row(c) for c in contacts.values()],
        widths={**CONTACT_WIDTHS, **{c: 30 for c in CONTACT_COLUMNS if c[-3:] in ("_fr", "_ar", "_en")}},
        rtl=lambda _values, column: column.endswith("_ar"),
        dropdowns={"check": ("yes", "no")},
    )


def contact_row(contact: Contact) -> list[str]:
    values: dict[str, str] = {
        "id": contact.id,
        "phone": contact.phone or "",
        "whatsapp": contact.whatsapp or "",
        "cities": "\n".join(contact.cities),
        "url": contact.url or "",
        "source": contact.source.cell() if contact.source else "",
        "checked": contact.checked.isoformat() if contact.checked else "",
        "check": "yes" if contact.check else "",
    }
    for name in CONTACT_LANG_FIELDS:
        for lang in ANSWER_LANGS:
            values[f"{name}_{lang}"] = getattr(contact, name).get(lang, "")
    return [values[c] for c in CONTACT_COLUMNS]


def contact_data(contact: Contact) -> dict[str, Any]:
    """A contact as comparable plain data (every field but the id)."""
    return {f.name: _plain(getattr(contact, f.name)) for f in fields(Contact) if f.name != "id"}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, tuple):
        return list(value)
    return value


def merge_contacts(
    table: Table,
    current: Mapping[str, Contact],
    stamps: Mapping[tuple[str, str], str],
    today: dt.date,
    problems: list[Problem],
) -> dict[str, Contact]:
    """The contacts of the sheet an import takes (new or changed), in the order of the sheet.

    Adds to `problems` those of the sheet, the contacts edited in content/contacts.yml since the
    export (kept, or a conflict) and the contacts missing from the sheet (kept).
    """
    sheet_contacts, found = _contacts_from_table(table, current, today)
    problems.extend(found)
    changed: dict[str, Contact] = {}
    for cid, (contact, row) in sheet_contacts.items():
        old = current.get(cid)
        choice = decide(
            fingerprint(contact_data(contact)),
            fingerprint(contact_data(old)) if old else None,
            stamps.get(("contact", cid)),
        )
        problem = decision_problem(choice, table.place.at(row, "id"), f"the contact {cid}", CONTACTS_FILE)
        if problem:
            problems.append(problem)
        if choice in ("take", "conflict"):
            changed[cid] = contact
    for cid in current:
        if cid not in sheet_contacts:
            problems.append(
                warning(
                    table.place.at(),
                    f"contact {cid} is not in the sheet; it was kept",
                    f"Nothing to do (contacts are removed in {CONTACTS_FILE}).",
                )
            )
    return changed


def contact_changes(current: Mapping[str, Contact], changed: Mapping[str, Contact]) -> list[Change]:
    """One change per new or changed contact, with the diff of its fields."""
    return [
        Change(
            CONTACTS_FILE,
            f"contact {cid}" if current.get(cid) else f"new contact {cid}",
            tuple(contact_diff(current.get(cid), contact)),
        )
        for cid, contact in changed.items()
    ]


def _contacts_from_table(
    table: Table, current: Mapping[str, Contact], today: dt.date
) -> tuple[dict[str, tuple[Contact, int]], list[Problem]]:
    """The sheet's contacts by id, each with its row number, and the problems of the sheet's cells."""
    place = table.place
    problems: list[Problem] = []
    out: dict[str, tuple[Contact, int]] = {}

    def bad(row: Row, column: str, message: str, fix: str) -> None:
        problems.append(error(place.at(row.number, column), message, fix))

    for row in table.rows:
        cid = row.text("id")
        if not ITEM_ID.match(cid):
            bad(
                row,
                "id",
                f"{cid!r} is not a contact id" if cid else "this row has no contact id",
                "Use lowercase letters, digits and _ only (e.g. unhcr_rabat).",
            )
            continue
        if cid in out:
            bad(
                row,
                "id",
                f"the contact {cid} appears twice (rows {out[cid][1]} and {row.number})",
                "Keep one row per contact.",
            )
            continue
        out[cid] = (_contact_from_row(row, cid, current.get(cid), today, bad), row.number)
    return out, problems


def _contact_from_row(row: Row, cid: str, old: Contact | None, today: dt.date, bad: _Bad) -> Contact:
    """The contact a row describes, its bad cells reported to `bad`; fields without a column come from `old`."""
    texts = _contact_texts(row, old, bad)
    numbers = _phone_numbers(row, bad)
    _check_addresses(row, bad)
    checked = _checked_day(row, today, bad)
    check_text = row.text("check").casefold()
    if check_text not in _YES | _NO:
        bad(
            row,
            "check",
            f"{row.text('check')!r} is neither yes nor empty",
            "Write yes when the details may be out of date, else leave it empty.",
        )
    # Fields the sheet has no column for (offices, reach, what...) are kept from the file.
    return replace(
        old or Contact(id=cid, name={}),
        id=cid,
        name=texts["name"],
        phone=numbers["phone"],
        whatsapp=numbers["whatsapp"],
        address=texts["address"],
        hours=texts["hours"],
        cities=text_lines(row.cells.get("cities"), commas=True),
        url=row.text("url") or None,
        source=Source.parse(row.text("source")) if row.text("source") else None,
        checked=checked,
        check=check_text in _YES,
    )


def _contact_texts(row: Row, old: Contact | None, bad: _Bad) -> dict[str, dict[str, str]]:
    """The name, address and hours of a row by language (other keys kept from `old`); checks the Arabic and French."""
    texts: dict[str, dict[str, str]] = {}
    for name in CONTACT_LANG_FIELDS:
        values = extra_texts(getattr(old, name)) if old else {}
        for lang in ANSWER_LANGS:
            text = row.text(f"{name}_{lang}")
            if text:
                values[lang] = text
            if lang == "ar" and text and not has_arabic(text):
                bad(row, f"{name}_ar", "this Arabic cell contains no Arabic letters", "Write it in Arabic script.")
        texts[name] = values
    if not texts["name"].get("fr"):
        bad(row, "name_fr", "the French name is missing", "Write who this contact is.")
    return texts


def _phone_numbers(row: Row, bad: _Bad) -> dict[str, str | None]:
    """The phone and WhatsApp numbers of a row; a number Excel read as a number, or not a number, is bad."""
    numbers: dict[str, str | None] = {}
    for column in ("phone", "whatsapp"):
        raw = row.cells.get(column)
        text = row.text(column)
        if isinstance(raw, (int, float)) and not isinstance(raw, bool) and len(text) > 4:
            bad(
                row,
                column,
                f"the number {text} was read as a number, so a leading 0 or + may be lost",
                "Format the cell as Text and type the number again, e.g. +212 5 37 54 54 00.",
            )
        elif text and not _PHONE.match(text):
            bad(
                row,
                column,
                f"{text!r} is not a phone number",
                "Use digits and spaces only, with + in front, e.g. +212 5 37 54 54 00.",
            )
        numbers[column] = text or None
    return numbers


def _check_addresses(row: Row, bad: _Bad) -> None:
    """Check that the url and the source's address of a row are web addresses."""
    for column in ("url", "source"):
        text = row.text(column)
        if column == "source":
            text = Source.parse(text).url if text else ""
        if text and not is_web_address(text):
            bad(row, column, f"{text!r} is not a web address", "Use a full address starting with https://.")


def _checked_day(row: Row, today: dt.date, bad: _Bad) -> dt.date | None:
    """The day a row's details were checked; not a date, or a day after `today`, is bad."""
    try:
        checked = parse_day(row.cells.get("checked"))
    except ValueError:
        checked = None
        bad(row, "checked", f"{row.text('checked')!r} is not a date", "Write the date as YYYY-MM-DD.")
    if checked and checked > today:
        bad(
            row,
            "checked",
            f"the date {checked} is in the future",
            "Write the date the details were actually confirmed.",
        )
    return checked


def contact_diff(old: Contact | None, new: Contact) -> list[str]:
    """The changed fields of a contact (for a new one: its French name and phone)."""
    if old is None:
        return [f"name › fr: {show(new.name.get('fr', ''))}", f"phone: {show(new.phone)}"]
    lines: list[str] = []
    for f in fields(Contact):
        before, after = getattr(old, f.name), getattr(new, f.name)
        if before == after:
            continue
        if isinstance(before, Mapping):
            lines += map_diff(f.name, before, after, ANSWER_LANGS)
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
            value = {k: value[k] for k in [*ANSWER_LANGS, *value] if k in value} or None
        elif isinstance(value, tuple):
            value = [asdict(v) if is_dataclass(v) and not isinstance(v, type) else v for v in value] or None
        elif value is False:
            value = None
        if value is None:
            out.pop(f.name, None)
        else:
            out[f.name] = value
    return out


def contacts_text(path: Path, current: Mapping[str, Contact], contacts: Mapping[str, Contact]) -> str:
    """The new text of content/contacts.yml: only the changed entries rewritten, checked to read back as `contacts`."""
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
