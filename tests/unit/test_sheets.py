"""The spreadsheet round-trip: what an admin exports, edits and imports, and files that must be refused.

Every test works on a copy of faq/, content/ and events/; an import that must not write is
checked by comparing the bytes of every file before and after.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from bot.authoring.events import export_events, import_events
from bot.authoring.faq import export_faq, import_faq
from bot.authoring.report import ImportReport
from bot.core.content import Library
from tests.conftest import ROOT

TODAY = dt.date(2026, 12, 7)


# -- helpers -----------------------------------------------------------------------------------------
def copy_project(target: Path) -> Path:
    for folder in ("faq", "content", "events"):
        if (ROOT / folder).exists():
            shutil.copytree(ROOT / folder, target / folder)
    return target


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files exported once from a pristine copy (exports take about a second each)."""
    base = tmp_path_factory.mktemp("exported")
    project = copy_project(base / "project")
    shutil.copy(project / "events" / "demo.yml", project / "events" / "events.yml")
    return {
        "faq.xlsx": export_faq(project, base / "faq.xlsx"),
        "faq.csv": export_faq(project, base / "faq.csv"),
        "events.xlsx": export_events(project, base / "events.xlsx"),
        "events.csv": export_events(project, base / "events.csv"),
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = copy_project(tmp_path / "project")
    # The events sheet tests edit the demonstration events as if they were the project's own.
    shutil.copy(root / "events" / "demo.yml", root / "events" / "events.yml")
    return root


@pytest.fixture
def sheet(tmp_path: Path, exported: dict[str, Path]) -> Callable[[str], Path]:
    """A fresh copy of an exported file that the test may edit."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copy(exported[name], target)
        return target

    return copy


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def edit(path: Path, change: Callable[[Any], None], sheet: str = "FAQ") -> None:
    workbook = openpyxl.load_workbook(path)
    change(workbook[sheet])
    workbook.save(path)


def column(ws: Any, name: str) -> int:
    return [c.value for c in ws[1]].index(name) + 1


def row_of(ws: Any, **match: str) -> int:
    columns = {name: column(ws, name) for name in match}
    for number in range(2, ws.max_row + 1):
        if all(ws.cell(number, columns[k]).value == v for k, v in match.items()):
            return number
    raise LookupError(match)


def set_cell(ws: Any, match: dict[str, str], name: str, value: Any) -> int:
    number = row_of(ws, **match)
    ws.cell(number, column(ws, name)).value = value
    return number


def messages(report: ImportReport, level: str = "error") -> list[str]:
    return [str(p) for p in report.problems if p.level == level]


def refused(project: Path, path: Path, importer: Callable[..., ImportReport] = import_faq) -> list[str]:
    """Import with apply=True and check that nothing in the project changed; return the errors."""
    before = snapshot(project)
    report = importer(project, path, apply=True, today=TODAY)
    assert not report.ok
    assert report.changed_files == []
    assert snapshot(project) == before
    return messages(report)


# -- round trips ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["faq.xlsx", "faq.csv"])
def test_export_then_import_unchanged_reports_no_changes_and_writes_nothing(
    project: Path, sheet: Callable[[str], Path], name: str
) -> None:
    before = snapshot(project)
    report = import_faq(project, sheet(name), apply=True, today=TODAY)
    assert messages(report) == []
    assert report.ok
    assert report.diff_text() == "no changes"
    assert report.changed_files == []
    assert snapshot(project) == before


def test_the_csv_has_a_byte_order_mark_so_excel_reads_arabic(sheet: Callable[[str], Path]) -> None:
    data = sheet("faq.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert "طلب اللجوء" in data.decode("utf-8-sig")


def test_a_csv_saved_by_excel_in_french_with_semicolons_reads_the_same(
    project: Path, sheet: Callable[[str], Path]
) -> None:
    path = sheet("faq.csv")
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8-sig", newline="")
    report = import_faq(project, path, today=TODAY)
    assert report.ok, messages(report)
    assert report.diff_text() == "no changes"


# -- edits -----------------------------------------------------------------------------------------------
def test_a_new_phone_number_changes_contacts_yml_and_every_answer_naming_the_contact(
    project: Path, sheet: Callable[[str], Path]
) -> None:
    path = sheet("faq.xlsx")
    edit(path, lambda ws: set_cell(ws, {"id": "unhcr_helpline"}, "phone", "+212 5 37 00 00 01"), "Contacts")
    contacts_yml = project / "content" / "contacts.yml"
    old_lines = contacts_yml.read_text(encoding="utf-8").splitlines()

    report = import_faq(project, path, apply=True, today=TODAY)

    assert report.ok, messages(report)
    assert 'phone: "+212 5 37 54 54 00" → "+212 5 37 00 00 01"' in report.diff_text()
    assert report.changed_files == [contacts_yml]
    new_lines = contacts_yml.read_text(encoding="utf-8").splitlines()
    assert [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b] == [
        ('  phone: "+212 5 37 54 54 00"', '  phone: "+212 5 37 00 00 01"')
    ]
    library = Library(project)
    naming = [t for t in library.topics().values() if "unhcr_helpline" in t.contacts]
    assert naming
    for topic in naming:
        for lang in ("fr", "ar", "en"):
            text, _used = library.answer(topic.id, lang)
            assert "+212 5 37 00 00 01" in text and "+212 5 37 54 54 00" not in text


def test_an_edited_answer_shows_in_the_diff_and_is_written_only_when_applied(
    project: Path, sheet: Callable[[str], Path]
) -> None:
    path = sheet("faq.xlsx")
    old_answer = Library(project).topics()["work"].answer["fr"]
    new_answer = old_answer.replace("Ce visa vaut 1 an.", "Ce visa vaut un an.")
    edit(path, lambda ws: set_cell(ws, {"topic": "work", "language": "fr"}, "answer", new_answer))
    before = snapshot(project)

    dry = import_faq(project, path, today=TODAY)
    assert dry.ok and not dry.applied
    assert snapshot(project) == before
    diff = dry.diff_text()
    assert diff.startswith("topic work (faq/work.yml):")
    assert (
        "-2. Le ministère de l'Emploi doit ensuite viser (approuver) votre contrat de travail. Ce visa vaut 1 an."
        in diff
    )
    assert (
        "+2. Le ministère de l'Emploi doit ensuite viser (approuver) votre contrat de travail. Ce visa vaut un an."
        in diff
    )
    assert dry.changed_files == [project / "faq" / "work.yml"]

    applied = import_faq(project, path, apply=True, today=TODAY)
    assert applied.applied
    after = snapshot(project)
    assert {k for k in after if after[k] != before[k]} == {"faq/work.yml"}
    assert Library(project).topics()["work"].answer["fr"] == new_answer
    assert import_faq(project, path, today=TODAY).diff_text() == "no changes"


def test_a_new_question_is_added_to_the_topic(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("faq.xlsx")

    def add_question(ws: Any) -> None:
        number = row_of(ws, topic="work", language="ary_latn")
        cell = ws.cell(number, column(ws, "questions"))
        cell.value += "\nwach n9der nkhdem bla carte de sejour"

    edit(path, add_question)
    report = import_faq(project, path, apply=True, today=TODAY)
    assert report.ok, messages(report)
    assert 'questions › ary_latn: + "wach n9der nkhdem bla carte de sejour"' in report.diff_text()
    assert Library(project).topics()["work"].questions["ary_latn"][-1] == "wach n9der nkhdem bla carte de sejour"


def test_new_rows_with_a_new_id_create_a_topic_file(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("faq.xlsx")
    texts = {
        "fr": (
            "Cours de langue",
            "Des cours d'arabe et de français sont gratuits dans certaines associations.",
            "cours de darija gratuit\napprendre le français gratuitement",
        ),
        "ar": ("دروس اللغة", "توجد دروس مجانية في العربية والفرنسية لدى بعض الجمعيات.", "دروس مجانية في اللغة العربية"),
        "ary_arab": ("", "كاينين دروس ديال العربية والفرنسية بلاش عند شي جمعيات.", "بغيت نتعلم الدارجة بلاش"),
        "ary_latn": ("", "", "bghit nt3allem darija bla flous"),
        "en": ("Language classes", "Some associations give free Arabic and French classes.", "free darija classes"),
    }

    def add_topic(ws: Any) -> None:
        for lang, (title, answer, questions) in texts.items():
            ws.append(
                [
                    "language_classes",
                    "support",
                    lang,
                    title,
                    answer,
                    "",
                    questions,
                    "https://example.org/classes | undated | 2026-11-20",
                    "2026-11-20",
                    "foo",
                ]
            )

    edit(path, add_topic)
    report = import_faq(project, path, apply=True, today=TODAY)
    assert report.ok, messages(report)
    assert "new topic language_classes (faq/language_classes.yml):" in report.diff_text()
    created = Library(project).topics()["language_classes"]
    assert created.answer["ary"].startswith("كاينين")
    assert created.questions["fr"] == ("cours de darija gratuit", "apprendre le français gratuitement")
    assert created.contacts == ("foo",)
    assert created.last_checked == dt.date(2026, 11, 20)


def test_a_topic_missing_from_the_sheet_is_kept(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("faq.xlsx")

    def remove_work(ws: Any) -> None:
        for number in sorted((r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == "work"), reverse=True):
            ws.delete_rows(number)

    edit(path, remove_work)
    before = snapshot(project)
    report = import_faq(project, path, apply=True, today=TODAY)
    assert report.ok
    assert any("topic work is not in the sheet; it was kept" in m for m in messages(report, "warning"))
    assert snapshot(project) == before


def test_problems_name_the_row_and_column(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("faq.xlsx")
    numbers: dict[str, int] = {}

    def break_things(ws: Any) -> None:
        numbers["ar"] = set_cell(ws, {"topic": "work", "language": "ar"}, "answer", None)
        numbers["date"] = set_cell(ws, {"topic": "work", "language": "en"}, "last_checked", "2026-11-01")
        numbers["lang"] = set_cell(ws, {"topic": "gbv", "language": "en"}, "language", "english")

    edit(path, break_things)
    errors = refused(project, path)
    assert (
        f"ERROR: faq.xlsx, sheet FAQ, row {numbers['ar']}, column answer: "
        "the ar answer is missing (missing translation). Write the answer in this language."
    ) in errors
    assert any(
        m.startswith(
            f"ERROR: faq.xlsx, sheet FAQ, row {numbers['date']}, column last_checked: "
            "the last_checked of topic work differs from row"
        )
        for m in errors
    )
    assert any(
        m.startswith(f"ERROR: faq.xlsx, sheet FAQ, row {numbers['lang']}, column language: unknown language 'english'")
        for m in errors
    )


def test_an_unknown_column_is_ignored_with_a_warning(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("faq.xlsx")
    edit(path, lambda ws: ws.cell(1, ws.max_column + 1, "notes"))
    report = import_faq(project, path, today=TODAY)
    assert report.ok and report.diff_text() == "no changes"
    assert any("the column 'notes' is not known; it was ignored" in m for m in messages(report, "warning"))


# -- edits made in the project since the export are not undone ---------------------------------------------
def test_an_import_does_not_undo_a_change_made_in_faq_since_the_export(
    project: Path, sheet: Callable[[str], Path]
) -> None:
    path = sheet("faq.xlsx")
    work = project / "faq" / "work.yml"
    work.write_text(
        work.read_text(encoding="utf-8").replace("Travailler au Maroc", "Le travail au Maroc"), encoding="utf-8"
    )
    before = snapshot(project)

    untouched = import_faq(project, path, apply=True, today=TODAY)
    assert untouched.ok and untouched.diff_text() == "no changes"
    assert any("was changed in faq/work.yml since this file was exported" in m for m in messages(untouched, "warning"))
    assert snapshot(project) == before

    edit(path, lambda ws: set_cell(ws, {"topic": "work", "language": "en"}, "title", "Jobs in Morocco"))
    errors = refused(project, path)
    assert any(
        "the topic work was changed both in this sheet and in faq/work.yml since the export" in m for m in errors
    )


def test_apply_refuses_when_a_file_changed_after_the_import_read_it(
    project: Path, sheet: Callable[[str], Path]
) -> None:
    path = sheet("faq.xlsx")
    edit(path, lambda ws: set_cell(ws, {"topic": "work", "language": "en"}, "title", "Jobs in Morocco"))
    report = import_faq(project, path, today=TODAY)
    work = project / "faq" / "work.yml"
    work.write_text(work.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert report.apply() == []
    assert not report.applied and not report.ok
    assert work.read_text(encoding="utf-8").endswith("\n\n")


# -- hostile or broken files ---------------------------------------------------------------------------
def test_junk_bytes_are_refused(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "faq.xlsx"
    path.write_bytes(bytes(range(256)) * 64)
    [message] = refused(project, path)
    assert "this is not an Excel workbook (.xlsx)" in message


def test_a_renamed_word_document_is_refused(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "faq.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    [message] = refused(project, path)
    assert "this is a Word document, not an Excel workbook" in message


def test_a_file_over_10_mb_is_refused(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "faq.xlsx"
    with path.open("wb") as handle:
        handle.write(b"PK")
        handle.truncate(10_000_001)
    [message] = refused(project, path)
    assert "more than 10 MB" in message


def test_a_zip_bomb_is_refused_before_openpyxl_opens_it(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "faq.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            for _ in range(60):
                member.write(b"\0" * 1_000_000)
    assert path.stat().st_size < 1_000_000

    def must_not_open(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("openpyxl opened the zip bomb")

    monkeypatch.setattr(openpyxl, "load_workbook", must_not_open)
    [message] = refused(project, path)
    assert "once unpacked the workbook would take 60 MB" in message


def test_xml_entity_declarations_are_refused(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("faq.xlsx")
    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    parts["xl/workbook.xml"] = (
        b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">]>' + parts["xl/workbook.xml"].split(b"?>", 1)[-1]
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    [message] = refused(project, path)
    assert "declares XML entities" in message


def test_a_formula_is_refused_with_its_row_and_column(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("faq.xlsx")
    numbers = {}

    def add_formulas(ws: Any) -> None:
        numbers["formula"] = set_cell(ws, {"topic": "work", "language": "fr"}, "answer", '=HYPERLINK("http://x","y")')
        numbers["text"] = set_cell(ws, {"topic": "gbv", "language": "fr"}, "caution", "=1+1")
        ws.cell(numbers["text"], column(ws, "caution")).data_type = "s"  # typed as text: refused all the same

    edit(path, add_formulas)
    errors = refused(project, path)
    assert (
        f"ERROR: faq.xlsx, sheet FAQ, row {numbers['formula']}, column answer: formulas are not allowed. "
        "Type the text itself (a cell may not start with =)."
    ) in errors
    assert any(f"row {numbers['text']}, column caution: formulas are not allowed" in m for m in errors)


def test_a_huge_cell_is_refused(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("faq.xlsx")
    number = {}
    edit(
        path,
        lambda ws: number.setdefault("n", set_cell(ws, {"topic": "work", "language": "en"}, "answer", "a" * 10_001)),
    )
    [message] = refused(project, path)
    assert message.startswith(
        f"ERROR: faq.xlsx, sheet FAQ, row {number['n']}, column answer: the cell has 10,001 characters"
    )


def test_more_than_5000_rows_are_refused(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "faq.xlsx"
    workbook = openpyxl.Workbook(write_only=True)
    ws = workbook.create_sheet("FAQ")
    ws.append(
        [
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
        ]
    )
    for number in range(5_001):
        ws.append([f"topic_{number}", "support", "fr", "t", "a", "", "q", "https://example.org", "2026-11-01", ""])
    workbook.save(path)
    [message] = refused(project, path)
    assert "the sheet has more than 5,000 rows" in message


def test_a_workbook_without_a_faq_sheet_is_refused(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("faq.xlsx")
    edit(path, lambda ws: setattr(ws, "title", "Sheet1"))
    [message] = refused(project, path)
    assert "the workbook has no sheet named FAQ (its sheets: Sheet1, Contacts, README, _dalil)" in message


def test_an_events_file_imported_as_faq_says_so(project: Path, sheet: Callable[[str], Path]) -> None:
    [message] = refused(project, sheet("events.xlsx"))
    assert "This is an events file: import it with the events import." in message


def test_a_missing_column_is_refused(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("faq.xlsx")
    edit(path, lambda ws: ws.delete_cols(column(ws, "answer")))
    [message] = refused(project, path)
    assert "ERROR: faq.xlsx, sheet FAQ, row 1: the column is missing: answer" in message


def test_a_duplicate_topic_and_language_row_is_refused(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("faq.xlsx")

    def duplicate(ws: Any) -> None:
        number = row_of(ws, topic="work", language="en")
        ws.append([c.value for c in ws[number]])

    edit(path, duplicate)
    errors = refused(project, path)
    assert any("topic work has two rows for language en" in m for m in errors)


def test_an_unknown_contact_id_is_refused(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("faq.xlsx")
    numbers = {}
    edit(
        path,
        lambda ws: numbers.setdefault(
            "n", set_cell(ws, {"topic": "work", "language": "fr"}, "contacts", "police_foreigners\nnobody")
        ),
    )
    errors = refused(project, path)
    assert any(
        m.startswith("ERROR: faq.xlsx, sheet FAQ, row ") and "column contacts, line 2: unknown contact 'nobody'" in m
        for m in errors
    )


def test_a_phone_number_excel_turned_into_a_number_is_refused(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("faq.xlsx")
    edit(path, lambda ws: set_cell(ws, {"id": "unhcr_helpline"}, "phone", 537545400), "Contacts")
    errors = refused(project, path)
    assert any("column phone: the number 537545400 was read as a number" in m for m in errors)


def test_a_csv_that_is_not_utf8_is_refused(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_bytes("topic,family,language\nwork,work_school,fr,é".encode("latin-1"))
    [message] = refused(project, path)
    assert "the file is not UTF-8 text" in message


def test_a_csv_formula_is_refused(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("faq.csv")
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
    rows[1][rows[0].index("title")] = "=cmd|' /C calc'!A0"
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8-sig", newline="")
    [message] = refused(project, path)
    assert "ERROR: faq.csv, row 2, column title: formulas are not allowed" in message


# -- how the export looks ----------------------------------------------------------------------------
def test_arabic_cells_read_right_to_left_and_the_header_is_frozen(sheet: Callable[[str], Path]) -> None:
    workbook = openpyxl.load_workbook(sheet("faq.xlsx"))
    ws = workbook["FAQ"]
    for lang in ("ar", "ary_arab"):
        cell = ws.cell(row_of(ws, topic="work", language=lang), column(ws, "answer"))
        assert cell.alignment.readingOrder == 2 and cell.alignment.horizontal == "right"
        assert cell.alignment.wrap_text
    french = ws.cell(row_of(ws, topic="work", language="fr"), column(ws, "answer"))
    assert french.alignment.readingOrder != 2
    assert ws.freeze_panes == "D2" and ws["A1"].font.b
    [language_list] = [dv for dv in ws.data_validations.dataValidation if dv.formula1 == '"fr,ar,ary_arab,ary_latn,en"']
    assert "C2" in str(language_list.sqref)
    contacts = workbook["Contacts"]
    name_ar = contacts.cell(row_of(contacts, id="omdh"), column(contacts, "name_ar"))
    assert name_ar.alignment.readingOrder == 2
    readme = [c.value for c in workbook["README"]["A"] if c.value]
    french = readme[readme.index("FR") + 1 : readme.index("EN")]
    english = readme[readme.index("EN") + 1 : readme.index("EN") + 1 + len(french)]
    assert 5 <= len(french) == len(english) <= 10
    assert french[0].startswith("1. Modifiez") and english[0].startswith("1. Edit")
    assert workbook["_dalil"].sheet_state == "hidden"


# -- events ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["events.xlsx", "events.csv"])
def test_events_round_trip_reports_no_changes_and_writes_nothing(
    project: Path, sheet: Callable[[str], Path], name: str
) -> None:
    before = snapshot(project)
    report = import_events(project, sheet(name), apply=True, today=TODAY)
    assert messages(report) == []
    assert report.diff_text() == "no changes"
    assert snapshot(project) == before


def test_events_sheet_has_times_in_morocco_and_arabic_right_to_left(sheet: Callable[[str], Path]) -> None:
    ws = openpyxl.load_workbook(sheet("events.xlsx"))["Events"]
    number = row_of(ws, id="sample-2026-12-01-world-aids-day-casablanca")
    assert ws.cell(number, column(ws, "start")).value == "2026-12-01 14:00"
    assert ws.cell(number, column(ws, "end")).value == "2026-12-01 16:30"
    assert ws.cell(row_of(ws, id="sample-2026-12-01-world-aids-day-agadir"), column(ws, "start")).value == "2026-12-01"
    assert ws.cell(number, column(ws, "title_ar")).alignment.readingOrder == 2


def test_an_edited_event_rewrites_only_its_lines(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("events.xlsx")
    event = "sample-2026-12-01-world-aids-day-casablanca"
    edit(path, lambda ws: set_cell(ws, {"id": event}, "end", "2026-12-01 17:00"), "Events")
    events_yml = project / "events" / "events.yml"
    old_lines = events_yml.read_text(encoding="utf-8").splitlines()

    report = import_events(project, path, apply=True, today=TODAY)

    assert report.ok, messages(report)
    assert f'event {event} (events/events.yml):\n  end: "2026-12-01 16:30" → "2026-12-01 17:00"' in report.diff_text()
    new_lines = events_yml.read_text(encoding="utf-8").splitlines()
    assert [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b] == [
        ("    end: 2026-12-01T16:30", "    end: 2026-12-01T17:00")
    ]


def test_a_new_event_is_appended(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("events.xlsx")

    def add(ws: Any) -> None:
        values = {
            "id": "alcs-agadir-2027-01-14",
            "start": "2027-01-14 10:00",
            "end": "2027-01-14 12:00",
            "city": "Agadir",
            "title_fr": "Séance IST",
            "title_ar": "جلسة توعية",
            "topics": "hiv\nhealth",
        }
        ws.append([values.get(c.value, "") for c in ws[1]])

    edit(path, add, "Events")
    report = import_events(project, path, apply=True, today=TODAY)
    assert report.ok, messages(report)
    assert "new event alcs-agadir-2027-01-14 (events/events.yml):" in report.diff_text()
    text = (project / "events" / "events.yml").read_text(encoding="utf-8")
    assert text.rstrip().endswith(
        '- id: alcs-agadir-2027-01-14\n    title: {fr: "Séance IST", ar: "جلسة توعية"}\n'
        "    start: 2027-01-14T10:00\n    end: 2027-01-14T12:00\n    city: Agadir\n"
        "    topics: [hiv, health]"
    )


def test_without_an_events_file_the_sheet_is_empty_and_an_import_creates_it(project: Path, tmp_path: Path) -> None:
    (project / "events" / "events.yml").unlink()
    path = export_events(project, tmp_path / "empty.xlsx")
    assert openpyxl.load_workbook(path)["Events"].max_row == 1
    edit(
        path,
        lambda ws: ws.append(
            [
                {"id": "x-1", "start": "2027-01-14", "title_fr": "Journée portes ouvertes"}.get(c.value, "")
                for c in ws[1]
            ]
        ),
        "Events",
    )
    report = import_events(project, path, apply=True, today=TODAY)
    assert report.ok, messages(report)
    assert (project / "events" / "events.yml").read_text(encoding="utf-8") == (
        'events:\n- id: x-1\n  title: {fr: "Journée portes ouvertes"}\n  start: 2027-01-14\n'
    )


def test_a_changed_event_in_the_past_gets_a_warning(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("events.xlsx")
    event = {"id": "sample-2027-01-20-youth-cv-tanger"}
    rows = []

    def move_to_last_year(ws: Any) -> None:
        rows.append(set_cell(ws, event, "start", "2026-01-20 15:00"))
        set_cell(ws, event, "end", "2026-01-20 17:30")

    edit(path, move_to_last_year, "Events")
    report = import_events(project, path, today=TODAY)
    assert report.ok
    assert [m for m in messages(report, "warning") if "is over" in m] == [
        f"WARNING: events.xlsx, sheet Events, row {rows[0]}, column end: the event sample-2027-01-20-youth-cv-tanger "
        "is over (2026-01-20). Check the year: past events are not shown to users."
    ]


def test_event_errors_name_row_and_column(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("events.xlsx")
    rows = {}

    def break_events(ws: Any) -> None:
        rows["end"] = set_cell(ws, {"id": "sample-2027-01-20-youth-cv-tanger"}, "end", "2027-01-20 14:00")
        rows["date"] = set_cell(ws, {"id": "sample-2027-02-10-return-info-oujda"}, "start", "10/02/2027 10:00")
        rows["city"] = set_cell(ws, {"id": "sample-2027-03-08-womens-day-casablanca"}, "city", "Atlantis")

    edit(path, break_events, "Events")
    errors = refused(project, path, import_events)
    assert (
        f"ERROR: events.xlsx, sheet Events, row {rows['end']}, column end: the end (2027-01-20 14:00) is before "
        "the start (2027-01-20 15:00). Correct the dates: the end must be at or after the start."
    ) in errors
    assert any(
        m.startswith(
            f"ERROR: events.xlsx, sheet Events, row {rows['date']}, column start: "
            "'10/02/2027 10:00' is not a date and time"
        )
        for m in errors
    )
    assert any(
        m.startswith(f"ERROR: events.xlsx, sheet Events, row {rows['city']}, column city: unknown city 'Atlantis'")
        for m in errors
    )


def test_event_formulas_are_refused(project: Path, sheet: Callable[[str], Path]) -> None:
    path = sheet("events.xlsx")
    edit(
        path,
        lambda ws: set_cell(ws, {"id": "sample-2027-01-20-youth-cv-tanger"}, "url", '=WEBSERVICE("http://x")'),
        "Events",
    )
    errors = refused(project, path, import_events)
    assert any("column url: formulas are not allowed" in m for m in errors)
