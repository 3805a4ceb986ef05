"""The urgent path as a person in danger reads it: the right line for the danger first, in
every answer language; typed answers ("oui", "suite") that do what the buttons do; a message
of distress alone that gets a kind reply instead of "not understood"."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from bot.core import danger
from bot.core.content import library
from bot.core.urgent import urgent_plan, urgent_reply
from bot.gateway.engine import typed_meaning
from tests.conftest import ROOT
from tests.unit.test_engine import echo_greeting, parts  # noqa: F401 - the fixture

URGENT = yaml.safe_load((ROOT / "content" / "urgent.yml").read_text(encoding="utf-8"))
KINDS = list(URGENT["kinds"])
LANGS = [("fr", False), ("ar", False), ("ar", True), ("en", False)]
MEDICAL = {"15", "141", "112"}  # a medical line: 112 reaches the emergency services from a mobile
POLICE = {"19", "177"}


def numbers_in(text: str) -> list[str]:
    """Phone numbers in the order a reader meets them (short national lines and +212 numbers)."""
    return re.findall(r"\u200e([+\d][\d ]*\d)\u200e", text)


# -- which danger a message names -------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("on m'a violée hier soir, je ne sais pas quoi faire", "sexual_violence"),
        ("اغتصبني شخص البارحة", "sexual_violence"),
        ("i was raped last night", "sexual_violence"),
        ("ghtasbni wahd ldrri", "sexual_violence"),
        ("mon mari me frappe tous les jours", "domestic_violence"),
        ("راجلي كيضربني", "domestic_violence"),
        ("rajli kaydrbni kol nhar", "domestic_violence"),
        ("my husband beats me", "domestic_violence"),
        ("je suis mineur et seul au maroc", "child"),
        ("أنا قاصر وحدي في المغرب", "child"),
        ("ana 9aser bo7di f lmaghrib", "child"),
        ("there is a child alone at the station", "child"),
        ("je veux mourir", "self_harm"),
        ("بغيت نقتل راسي", "self_harm"),
        ("bghit nmout", "self_harm"),
        ("la police m'arrête maintenant", "arrest"),
        ("chdouni lbolis f tanja", "arrest"),
        ("i was arrested yesterday, i need a lawyer", "arrest"),
        ("ils ont pris mon passeport et m'enferment", "confinement"),
        ("daw lia lpaspor w ma khlawnich nkhrej", "confinement"),
        ("mon bebe a de la fievre et il respire mal", "medical"),
        ("my wife is giving birth and we have no hospital", "medical"),
        ("darboni f zan9a 3awnouni", "violence"),
        ("ضربوني في الزنقة", "violence"),
        ("des hommes m'ont frappé dans la rue", "violence"),
        ("some men beat me in the street", "violence"),
        ("صاحبي طاح وما بقاش كيتنفس", "medical"),  # "and" glued to the phrase
        ("sa7bi ma bqach kaytnffes 3awnouni", "medical"),
        ("أخذوا جواز سفري ويحبسونني في البيت", "confinement"),
    ],
)
def test_the_kind_of_danger_is_recognised_in_every_way_of_writing(text: str, kind: str) -> None:
    assert kind in danger.kinds(text), danger.kinds(text)


@pytest.mark.parametrize(
    "text",
    [
        "suite",
        "Suite ▸",
        "more",
        "المزيد",
        "zid",
        "que faire si la police m'arrête ?",
        "c'est quoi la violence basée sur le genre",
        "mon enfant est malade",
        "où faire un test VIH",
    ],
)
def test_page_words_questions_and_hypotheses_are_not_emergencies(text: str) -> None:
    assert danger.kinds(text) == []


# -- the urgent reply --------------------------------------------------------------------------
@pytest.mark.parametrize(("lang", "darija"), LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_starts_with_its_own_lines_and_numbers_in_order(kind: str, lang: str, darija: bool) -> None:
    lib = library()
    text = urgent_reply(lib, [kind], lang, darija)
    plan = urgent_plan(lib, [kind], lang, darija)
    first = URGENT["kinds"][kind]["first"]
    expected_first = first.get("ary") if darija else first[lang]
    assert text.startswith(expected_first.strip())
    contacts = lib.contacts()
    expected = [n for cid in plan.contacts for n in _numbers_of(contacts[cid])]
    assert numbers_in(text.split("\n\n", 1)[1])[: len(expected)] == expected


def _numbers_of(contact: Any) -> list[str]:
    out = [n for n in (contact.phone, contact.whatsapp) if n]
    for office in contact.offices:
        out += [n for n in (office.phone, office.whatsapp) if n]
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_no_urgent_reply_lacks_a_medical_or_non_police_option(kind: str) -> None:
    text = urgent_reply(library(), [kind], "fr")
    shown = set(numbers_in(text)) | set(re.findall(r"\b(15|141|112|8350|2511)\b", text))
    assert shown - POLICE, text
    if URGENT["kinds"][kind].get("police_caveat"):
        assert "police" in text.split("\n\n")[-1]


def test_police_is_never_first_for_arrest_child_sexual_violence_or_self_harm() -> None:
    contacts = library().contacts()
    for kind in ("arrest", "child", "sexual_violence", "self_harm", "medical"):
        first = contacts[URGENT["kinds"][kind]["contacts"][0]]
        assert first.phone not in POLICE, kind


def test_key_numbers_of_each_kind() -> None:
    lib = library()
    assert "8350" in urgent_reply(lib, ["sexual_violence"], "fr").split("\n\n")[0]
    assert "72" in urgent_reply(lib, ["sexual_violence"], "ar").split("\n\n")[0]
    assert "2511" in urgent_reply(lib, ["child"], "en").split("\n\n")[0]
    assert "8350" in urgent_reply(lib, ["domestic_violence"], "ar", True).split("\n\n")[0]
    self_harm = urgent_reply(lib, ["self_harm"], "fr")
    assert "15" in self_harm.split("\n\n")[0] and "19" not in numbers_in(self_harm)


def test_several_kinds_the_most_urgent_leads_and_the_others_numbers_follow() -> None:
    plan = urgent_plan(library(), ["arrest", "medical"], "fr")
    assert plan.kind == "medical"
    assert plan.contacts[0] == URGENT["kinds"]["medical"]["contacts"][0]
    assert set(URGENT["kinds"]["arrest"]["contacts"]) <= set(plan.contacts)


def test_every_contact_the_urgent_path_names_exists_and_is_reachable() -> None:
    contacts = library().contacts()
    for kind, entry in URGENT["kinds"].items():
        for cid in entry["contacts"]:
            assert cid in contacts, (kind, cid)
            assert contacts[cid].reachable(), (kind, cid)


def test_every_contact_a_topic_names_is_reachable() -> None:
    lib = library()
    contacts = lib.contacts()
    for topic in lib.topics().values():
        for cid in topic.contacts:
            assert contacts[cid].reachable(), (topic.id, cid)


# -- typed answers and distress --------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "meaning"),
    [
        ("oui", "yes"),
        ("Oui !", "yes"),
        ("اه", "yes"),
        ("yes", "yes"),
        ("wakha", "yes"),
        ("واخا", "yes"),
        ("non", "no"),
        ("la", "no"),
        ("no", "no"),
        ("suite", "more"),
        ("Suite", "more"),
        ("more", "more"),
        ("المزيد", "more"),
        ("zid", "more"),
        ("ok", None),
        ("oui mais je veux savoir pour l'asile", None),
    ],
)
def test_typed_words_that_answer_a_button(text: str, meaning: str | None) -> None:
    assert typed_meaning(library(), text) == meaning


@pytest.mark.parametrize("text", ["😭", "😢😢", "je suis perdu", "je suis perdue svp", "عاوني", "tlft", "i'm lost"])
def test_distress_alone_is_recognised(text: str) -> None:
    assert danger.is_distress(text)


@pytest.mark.parametrize("text", ["je suis perdu, où est le bureau du HCR ?", "merci", "👍", "bonjour"])
def test_questions_and_other_words_are_not_distress(text: str) -> None:
    assert not danger.is_distress(text)


async def test_typed_suite_turns_the_page_once(parts) -> None:  # noqa: F811
    from bot.core.content import PAGE_BREAK

    def long_answer(body: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"text": f"page one{PAGE_BREAK}page two{PAGE_BREAK}page three"}]

    engine, runner, rasa, out = parts(long_answer)
    await runner.submit("t1", 31, "fr", "text", text="je voudrais des informations sur l'asile")
    await runner.submit("t1", 31, "fr", "text", text="suite")
    await runner.submit("t1", 31, "fr", "text", text="Suite")
    assert await runner.drain("t1", timeout=5)
    last = "page three\n\n" + library().text("last_page", "fr")  # the last page says so
    assert out.texts() == ["page one", "page two", last]
    assert len(rasa.requests) == 1  # the typed "suite" never reached the model


async def test_distress_alone_gets_the_lines_for_danger_and_a_person(parts) -> None:  # noqa: F811
    engine, runner, rasa, out = parts(echo_greeting)
    await runner.submit("t2", 32, "fr", "text", text="je suis perdu")
    assert await runner.drain("t2", timeout=5)
    [(_, body)] = out.sent
    assert body["text"].startswith(URGENT["kinds"]["distress"]["first"]["fr"])
    assert "112" in body["text"]
    assert len(body["buttons"]) == 2  # a person, the menu
    assert rasa.requests == []
