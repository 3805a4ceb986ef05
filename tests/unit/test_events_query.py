"""Understanding an events question: cities, topics and dates in every language, and follow-ups."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.events.model import CASABLANCA, Query
from bot.events.query import (
    Understood,
    parse_query,
    previous_query,
    understand,
    vocabulary,
    with_entities,
)

SUNDAY = dt.datetime(2026, 11, 29, 10, 0, tzinfo=CASABLANCA)  # "today" for this project
WEDNESDAY = dt.datetime(2026, 12, 2, 18, 30, tzinfo=CASABLANCA)


def day(y: int, m: int, d: int) -> dt.datetime:
    return dt.datetime(y, m, d, tzinfo=CASABLANCA)


def dates(text: str, now: dt.datetime = SUNDAY) -> tuple[dt.date, dt.date] | None:
    """The period understood, as (first day, last day included)."""
    said = understand(text, now, vocabulary())
    if said.start is None or said.end is None:
        return None
    return said.start.date(), (said.end - dt.timedelta(days=1)).date()


@pytest.mark.parametrize(
    ("text", "city"),
    [
        ("il y a des événements à Casa ?", "casablanca"),
        ("w f dar bida?", "casablanca"),
        ("هل هناك أنشطة في الدار البيضاء؟", "casablanca"),
        ("و ف كازا؟", "casablanca"),
        ("chno kayn f tanja had weekend", "tanger"),
        ("شنو كاين من أنشطة ف طنجة؟", "tanger"),
        ("events in Tangier this weekend", "tanger"),
        ("w f rbat?", "rabat"),
        ("أنشطة بالرباط", "rabat"),
        ("وفي الرباط؟", "rabat"),
        ("activités à Agadir", "agadir"),
        ("وأكادير؟", "agadir"),
        ("séances à Oujda", "oujda"),
        ("وفي وجدة؟", "oujda"),
        ("et pour Fès ?", "fes"),
        ("y a quoi à Laâyoune", "laayoune"),
        ("atelier à Béni-Mellal", "beni_mellal"),
    ],
)
def test_city_in_every_language_and_script(text: str, city: str) -> None:
    assert understand(text, SUNDAY, vocabulary()).city == city


def test_ordinary_words_are_not_cities() -> None:
    # "الجديدة" is "the new" and "العيون" "the eyes": listed only with a preposition.
    assert understand("ما هي الفعاليات الجديدة", SUNDAY, vocabulary()).city is None
    assert understand("quels ateliers ?", SUNDAY, vocabulary()).city is None
    assert understand("في الجديدة", SUNDAY, vocabulary()).city == "el_jadida"


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("séances d'info sur le VIH à Oujda", "hiv"),
        ("حملة توعية حول السيدا", "hiv"),
        ("wach kayn chi atelier l3yalat f fes", "women"),
        ("any trainings for women", "jobs_training"),  # the first topic named wins
        ("ateliers dyal khedma f tanger", "jobs_training"),
        ("lqa2 3la retour volontaire", "return"),
        ("هل هناك لقاء حول إعادة الإدماج", "return"),
        ("activités pour les jeunes", "youth"),
        ("une session sur les droits des migrants", "rights"),
        ("séance de sensibilisation santé", "health"),
        ("les activités culturelles", "culture"),
    ],
)
def test_topic_in_every_language(text: str, topic: str) -> None:
    assert understand(text, SUNDAY, vocabulary()).topic == topic


def test_workshop_in_arabic_is_not_the_jobs_topic() -> None:
    assert understand("هل هناك ورشة عمل في الرباط غدا؟", SUNDAY, vocabulary()).topic is None


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("et demain ?", (2026, 11, 30), (2026, 11, 30)),
        ("غدا", (2026, 11, 30), (2026, 11, 30)),
        ("وغدا؟", (2026, 11, 30), (2026, 11, 30)),
        ("tomorrow", (2026, 11, 30), (2026, 11, 30)),
        ("w ghda?", (2026, 11, 30), (2026, 11, 30)),
        ("après-demain", (2026, 12, 1), (2026, 12, 1)),
        ("le 24 mars", (2027, 3, 24), (2027, 3, 24)),
        ("il y a une session à Rabat le 24 mars ?", (2027, 3, 24), (2027, 3, 24)),
        ("24/3", (2027, 3, 24), (2027, 3, 24)),
        ("wach kayn chi li9a nhar 24 mars", (2027, 3, 24), (2027, 3, 24)),
        ("أنشطة يوم 15 أبريل", (2027, 4, 15), (2027, 4, 15)),
        ("نشاط يوم 24 دجنبر", (2026, 12, 24), (2026, 12, 24)),  # Moroccan month name
        ("anything planned for International Migrants Day on 18 December?", (2026, 12, 18), (2026, 12, 18)),
        ("le 2 décembre à 10h", (2026, 12, 2), (2026, 12, 2)),
        ("programme des sessions à Casa en avril", (2027, 4, 1), (2027, 4, 30)),
        ("séance samedi", (2026, 12, 5), (2026, 12, 5)),
        ("هل هناك جلسة يوم السبت؟", (2026, 12, 5), (2026, 12, 5)),
        ("nhar lkhmis", (2026, 12, 3), (2026, 12, 3)),
        # On a Sunday "this week" also covers the coming week.
        ("cette semaine", (2026, 11, 29), (2026, 12, 6)),
        ("هاد السيمانة", (2026, 11, 29), (2026, 12, 6)),
        ("la semaine prochaine", (2026, 11, 30), (2026, 12, 6)),
        ("next week", (2026, 11, 30), (2026, 12, 6)),
        ("w simana jaya?", (2026, 11, 30), (2026, 12, 6)),
        ("ce week-end", (2026, 11, 29), (2026, 11, 29)),
        ("ce mois", (2026, 11, 29), (2026, 11, 30)),
        ("le mois prochain", (2026, 12, 1), (2026, 12, 31)),
    ],
)
def test_dates_on_a_sunday(text: str, first: tuple[int, int, int], last: tuple[int, int, int]) -> None:
    assert dates(text) == (dt.date(*first), dt.date(*last))


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("cette semaine", (2026, 12, 2), (2026, 12, 6)),
        ("هذا الأسبوع", (2026, 12, 2), (2026, 12, 6)),
        ("ce week-end", (2026, 12, 5), (2026, 12, 6)),
        ("had l weekend", (2026, 12, 5), (2026, 12, 6)),
        ("this weekend", (2026, 12, 5), (2026, 12, 6)),
        ("le week-end prochain", (2026, 12, 12), (2026, 12, 13)),
        ("mercredi", (2026, 12, 2), (2026, 12, 2)),  # today is Wednesday
        ("aujourd'hui", (2026, 12, 2), (2026, 12, 2)),
    ],
)
def test_dates_on_a_wednesday_evening(text: str, first: tuple[int, int, int], last: tuple[int, int, int]) -> None:
    assert dates(text, WEDNESDAY) == (dt.date(*first), dt.date(*last))


@pytest.mark.parametrize(
    "text",
    [
        "quels ateliers à Tanger ?",
        "je veux participer à un atelier",  # "je" is not "jeudi"
        "j'ai 3 enfants, y a des activités ?",  # a bare number is not a date
        "هل هناك نشاط في اليوم العالمي لمكافحة السيدا بأكادير؟",  # "World Day", not "today"
        "ماذا تنظمون بمناسبة اليوم الدولي للمهاجرين؟",
        "w f rbat?",
    ],
)
def test_no_date_where_none_is_named(text: str) -> None:
    assert dates(text) is None


def test_upcoming_words_clear_the_date_only_when_alone() -> None:
    v = vocabulary()
    assert understand("prochains événements", SUNDAY, v).any_date
    assert understand("ما هي الفعاليات القادمة", SUNDAY, v).any_date
    assert not understand("la semaine prochaine", SUNDAY, v).any_date


TANGER_JOBS_NEXT_WEEK = Query(city="tanger", topic="jobs_training", start=day(2026, 11, 30), end=day(2026, 12, 7))


@pytest.mark.parametrize("text", ["et à Rabat ?", "w f rbat?", "وفي الرباط؟", "and in Rabat?"])
def test_follow_up_switches_the_city_and_keeps_topic_and_dates(text: str) -> None:
    query = parse_query(text, SUNDAY, previous=TANGER_JOBS_NEXT_WEEK)
    assert query == Query(city="rabat", topic="jobs_training", start=day(2026, 11, 30), end=day(2026, 12, 7))


def test_follow_up_changes_the_date_and_keeps_the_city() -> None:
    query = parse_query("et demain ?", SUNDAY, previous=TANGER_JOBS_NEXT_WEEK)
    assert query == Query(city="tanger", topic="jobs_training", start=day(2026, 11, 30), end=day(2026, 12, 1))


def test_anywhere_and_upcoming_drop_the_city_and_the_dates() -> None:
    assert parse_query("et partout ?", SUNDAY, previous=TANGER_JOBS_NEXT_WEEK).city is None
    query = parse_query("les prochaines séances ?", SUNDAY, previous=TANGER_JOBS_NEXT_WEEK)
    assert (query.city, query.start, query.end) == ("tanger", None, None)


def test_slots_round_trip_and_a_past_period_is_forgotten() -> None:
    v = vocabulary()
    slot = TANGER_JOBS_NEXT_WEEK.period_slot()
    assert previous_query("tanger", "jobs_training", slot, SUNDAY, v) == TANGER_JOBS_NEXT_WEEK
    a_month_later = SUNDAY + dt.timedelta(days=30)
    assert previous_query("tanger", "jobs_training", slot, a_month_later, v) == Query(
        city="tanger", topic="jobs_training"
    )
    assert previous_query("atlantis", "astrology", "garbage", SUNDAY, v) == Query()


def test_entities_fill_what_the_text_does_not_say() -> None:
    v = vocabulary()
    said = with_entities(Understood(), ["casa"], ["VIH"], v)
    assert (said.city, said.topic) == ("casablanca", "hiv")
    said = with_entities(Understood(city="rabat"), ["casa"], [], v)
    assert said.city == "rabat"
