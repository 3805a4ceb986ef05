"""`dalil faq validate`: each mistake an admin can make is reported with its place and a fix."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from bot.authoring.validate import MIN_QUESTIONS, validate_library
from tests.conftest import ROOT

TODAY = dt.date(2026, 12, 7)  # sources were read on this day: none may be "in the future"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's content that a test can break."""
    for folder in ("faq", "content"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def edit(project: Path, topic: str, change) -> None:  # noqa: ANN001
    path = project / "faq" / f"{topic}.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def messages(project: Path) -> list[str]:
    return [str(p) for p in validate_library(project, today=TODAY)]


def test_the_projects_faq_is_valid() -> None:
    problems = validate_library(ROOT, today=TODAY)
    assert [str(p) for p in problems if p.level == "error"] == []


def test_every_topic_has_enough_questions_in_every_way_of_writing() -> None:
    problems = validate_library(ROOT, today=TODAY)
    assert [str(p) for p in problems if "example questions" in p.message] == []
    assert MIN_QUESTIONS == {"fr": 25, "ar": 25, "ary_arab": 10, "ary_latn": 10, "en": 10}


def test_missing_translation(project: Path) -> None:
    edit(project, "work", lambda d: d["answer"].pop("ar"))
    [problem] = [m for m in messages(project) if "missing translation" in m]
    assert problem.startswith("ERROR: faq/work.yml, answer › ar")


def test_missing_english_is_only_a_warning(project: Path) -> None:
    edit(project, "work", lambda d: d["answer"].pop("en"))
    [problem] = [m for m in messages(project) if "missing translation" in m]
    assert problem.startswith("WARNING: faq/work.yml, answer › en")


def test_empty_answer(project: Path) -> None:
    edit(project, "education", lambda d: d["answer"].update(fr="   "))
    assert any(m.startswith("ERROR: faq/education.yml, answer › fr") for m in messages(project))


def test_answer_too_long_for_one_message(project: Path) -> None:
    edit(project, "gbv", lambda d: d["answer"].update(fr="Texte trop long. " * 60))
    [problem] = [m for m in messages(project) if "too long" in m]
    assert "faq/gbv.yml, answer › fr" in problem and "---" in problem


def test_question_under_two_topics(project: Path) -> None:
    question = yaml.safe_load((project / "faq" / "work.yml").read_text())["questions"]["fr"][0]
    edit(project, "education", lambda d: d["questions"]["fr"].append(question.upper() + " !"))
    assert any("is also under" in m and "education" in m and "work" in m for m in messages(project))


def test_bad_url(project: Path) -> None:
    edit(project, "work", lambda d: d.update(sources=["https://ok.example.org/a", "www.example.org/page"]))
    assert any("faq/work.yml, sources › 2" in m and "not a web address" in m for m in messages(project))


def test_arabic_cell_without_arabic_letters(project: Path) -> None:
    edit(project, "work", lambda d: d["answer"].update(ar="Kifach nkhdem f lmaghrib"))
    assert any("faq/work.yml, answer › ar" in m and "no Arabic letters" in m for m in messages(project))


def test_last_checked_in_the_future(project: Path) -> None:
    edit(project, "work", lambda d: d.update(last_checked=dt.date(2027, 1, 1)))
    assert any("faq/work.yml, last_checked" in m and "future" in m for m in messages(project))


def test_stale_date_is_a_warning(project: Path) -> None:
    edit(project, "work", lambda d: d.update(last_checked=dt.date(2025, 1, 1)))
    assert any(m.startswith("WARNING: faq/work.yml, last_checked") for m in messages(project))


def test_missing_source(project: Path) -> None:
    edit(project, "work", lambda d: d.update(sources=[]))
    assert any("faq/work.yml, sources" in m and "no source" in m for m in messages(project))


def test_unknown_contact_and_unknown_menu_topic(project: Path) -> None:
    edit(project, "work", lambda d: d["contacts"].append("nobody"))
    menu = project / "content" / "menu.yml"
    menu.write_text(
        menu.read_text().replace("topics: [work, labour_rights", "topics: [work, jobs_abroad, labour_rights")
    )
    found = messages(project)
    assert any("unknown contact 'nobody'" in m for m in found)
    assert any("content/menu.yml" in m and "jobs_abroad" in m for m in found)


def test_id_must_match_file_name(project: Path) -> None:
    edit(project, "work", lambda d: d.update(id="travail"))
    assert any("differs from the file name" in m for m in messages(project))


def test_broken_yaml_is_reported_not_raised(project: Path) -> None:
    (project / "faq" / "work.yml").write_text("id: work\nanswer: [unclosed\n")
    [problem] = messages(project)
    assert "faq/work.yml" in problem and "YAML" in problem


def test_held_out_scoring_counts_what_the_user_receives() -> None:
    from bot.ops.nlu_eval import answered_labels

    faq = {
        "intent": {"name": "faq"},
        "response_selector": {"faq": {"response": {"intent_response_key": "faq/legal_aid"}}},
    }
    assert answered_labels(faq) == {"faq/legal_aid"}
    urgent_over_faq = {
        **faq,
        "intent": {"name": "urgent"},
        "intent_ranking": [{"name": "urgent", "confidence": 1.0}, {"name": "faq", "confidence": 0.9}],
    }
    assert answered_labels(urgent_over_faq) == {"urgent", "faq/legal_aid"}
    weak = {
        **urgent_over_faq,
        "intent_ranking": [{"name": "urgent", "confidence": 1.0}, {"name": "faq", "confidence": 0.2}],
    }
    assert answered_labels(weak) == {"urgent"}
