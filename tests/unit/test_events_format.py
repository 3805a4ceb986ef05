"""The events answer: pages, languages, dates and times, RTL safety, notes and alternatives.

Sentences are compared with content/events_texts.yml (never written here), so translators can
change the wording without breaking the tests.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bot.core.content import PAGE_BREAK, load_yaml
from bot.core.settings import PROJECT_ROOT
from bot.events.formatting import LRM, PER_PAGE, events_texts, format_listing, ltr_runs
from bot.events.model import CASABLANCA, Alternative, Event, Listing, Query
from bot.events.query import vocabulary
from bot.events.service import nearest_alternative

NOW = dt.datetime(2026, 11, 29, 10, 0, tzinfo=CASABLANCA)
TEXTS = events_texts()


def at(y: int, m: int, d: int, h: int = 0, minute: int = 0, tz: dt.tzinfo = CASABLANCA) -> dt.datetime:
    return dt.datetime(y, m, d, h, minute, tzinfo=tz)


def event(n: int, **fields: object) -> Event:
    values: dict[str, object] = {
        "id": f"e{n}",
        "titles": {"fr": f"Séance numéro {n}", "ar": f"الجلسة رقم {n}", "en": f"Session number {n}"},
        "start": at(2026, 12, 1 + n, 10),
        "end": at(2026, 12, 1 + n, 12),
        "city": "agadir",
    }
    values.update(fields)
    return Event(**values)  # type: ignore[arg-type]


def listing(events: list[Event], query: Query | None = None, **fields: object) -> Listing:
    return Listing(query=query or Query(), now=NOW, events=tuple(events), **fields)  # type: ignore[arg-type]


def test_at_most_three_events_a_page_sorted_as_given() -> None:
    events = [event(n) for n in range(7)]
    pages = format_listing(listing(events), "fr").split(PAGE_BREAK)
    assert [page.count("🔹") for page in pages] == [PER_PAGE, PER_PAGE, 1]
    text = "".join(pages)
    positions = [text.index(f"Séance numéro {n}") for n in range(7)]
    assert positions == sorted(positions)


def test_heading_names_the_city_topic_and_period_in_the_users_language() -> None:
    query = Query(city="tanger", topic="health", start=at(2026, 11, 30), end=at(2026, 12, 7))
    for lang, city, topic in [("fr", "Tanger", "santé"), ("ar", "طنجة", "الصحة"), ("en", "Tangier", "health")]:
        first = format_listing(listing([event(1, city="tanger")], query), lang).split(PAGE_BREAK)[0]
        assert first.startswith(TEXTS.get("heading", lang, city="", topic="", period="")[:8])
        assert city in first and topic in first


def test_arabic_month_names_and_24_hour_times() -> None:
    evening = event(1, start=at(2026, 12, 10, 18), end=at(2026, 12, 10, 20, 30))
    ar = format_listing(listing([evening]), "ar")
    assert "ديسمبر" in ar and "الخميس" in ar
    assert f"{LRM}18:00{LRM}" in ar and f"{LRM}20:30{LRM}" in ar
    fr = format_listing(listing([evening]), "fr")
    assert "jeudi 10 décembre" in fr and "18:00" in fr and "20:30" in fr
    en = format_listing(listing([evening]), "en")
    assert "Thursday 10 December" in en and "18:00" in en and "PM" not in en


def test_times_are_shown_in_moroccan_time_whatever_the_feed_zone() -> None:
    utc = dt.timezone.utc
    winter = event(1, start=at(2026, 12, 10, 9, tz=utc), end=at(2026, 12, 10, 11, tz=utc))  # UTC+1
    ramadan = event(2, start=at(2027, 2, 20, 12, tz=utc), end=at(2027, 2, 20, 14, tz=utc))  # UTC+0
    text = format_listing(listing([winter, ramadan]), "fr")
    assert "10:00–12:00" in text
    assert "12:00–14:00" in text and "2027" in text  # another year: the year is written


def test_title_in_the_users_language_else_french() -> None:
    french_only = event(1, titles={"fr": "Atelier FORSATY"})
    ar = format_listing(listing([event(2), french_only]), "ar")
    assert "الجلسة رقم 2" in ar
    assert f"{LRM}Atelier FORSATY{LRM}" in ar
    assert "Session number 2" in format_listing(listing([event(2)]), "en")


def test_place_organiser_free_and_registration() -> None:
    e = event(
        1,
        venue="Centre ALCS",
        address="Quartier Dakhla",
        organiser="ALCS Agadir",
        price="free",
        registration="+212 5 28 00 00 00",
        audience={"fr": "Femmes migrantes", "ar": "النساء المهاجرات"},
    )
    fr = format_listing(listing([e]), "fr")
    assert "Centre ALCS, Quartier Dakhla, Agadir" in fr
    assert TEXTS.get("event_organiser", "fr", organiser="ALCS Agadir") in fr
    assert TEXTS.get("event_free", "fr") in fr
    assert TEXTS.get("event_registration", "fr", contact="+212 5 28 00 00 00") in fr
    assert TEXTS.get("event_audience", "fr", audience="Femmes migrantes") in fr
    ar = format_listing(listing([e]), "ar")
    assert TEXTS.get("event_free", "ar") in ar
    assert f"{LRM}+212 5 28 00 00 00{LRM}" in ar  # the phone number reads left to right
    assert "النساء المهاجرات" in ar and "أكادير" in ar


def test_a_price_that_is_not_free_is_shown_as_written() -> None:
    text = format_listing(listing([event(1, price="20 MAD")]), "fr")
    assert TEXTS.get("event_price", "fr", price="20 MAD") in text
    assert TEXTS.get("event_free", "fr") not in text


def test_all_day_and_multi_day_events() -> None:
    one_day = event(1, start=at(2026, 12, 1), end=at(2026, 12, 2), all_day=True)
    festival = event(2, start=at(2027, 5, 14), end=at(2027, 5, 17), all_day=True)
    text = format_listing(listing([one_day, festival]), "fr")
    assert TEXTS.get("event_when_all_day", "fr", date="mardi 1 décembre") in text
    assert TEXTS.get("event_when_days", "fr", start="vendredi 14 mai 2027", end="dimanche 16 mai 2027") in text


def test_stale_copy_says_when_the_list_was_last_updated() -> None:
    last_good = at(2026, 11, 28, 21, 5)
    fr = format_listing(listing([event(1)], stale_sources={"feed": last_good}), "fr")
    assert TEXTS.get("stale_note", "fr", date="samedi 28 novembre", time="21:05") in fr
    assert TEXTS.get("stale_note", "fr", date="x", time="y")[:12] not in format_listing(listing([event(1)]), "fr")


def test_sample_events_are_announced_as_examples() -> None:
    assert TEXTS.get("sample_note", "ar") in format_listing(listing([event(1, sample=True)]), "ar")
    assert TEXTS.get("sample_note", "ar") not in format_listing(listing([event(1)]), "ar")


def test_more_than_four_pages_ends_with_how_many_are_left() -> None:
    events = [event(n % 25, id=f"x{n}") for n in range(15)]
    pages = format_listing(listing(events), "en").split(PAGE_BREAK)
    assert len(pages) == 4
    assert pages[-1].endswith(TEXTS.get("more_events", "en", count=3))


AHEAD = [
    event(1, city="agadir", topics=("hiv", "health")),
    event(2, city="tanger", topics=("jobs_training",), start=at(2027, 3, 24, 14), end=at(2027, 3, 24, 17)),
    event(3, city="rabat", topics=("hiv",), start=at(2026, 12, 3, 10), end=at(2026, 12, 3, 12)),
]


def nothing(query: Query) -> str:
    return format_listing(listing([], query, alternative=nearest_alternative(AHEAD, query)), "fr")


def test_nothing_that_day_offers_the_next_event_in_the_same_city() -> None:
    query = Query(city="tanger", start=at(2026, 11, 30), end=at(2026, 12, 1))
    text = nothing(query)
    assert text.startswith(TEXTS.get("none_found", "fr", city=" à Tanger", topic="", period=" le lundi 30 novembre"))
    assert TEXTS.get("alternative_later", "fr", city=" à Tanger") in text
    assert "Séance numéro 2" in text and "Séance numéro 1" not in text


def test_nothing_in_that_city_offers_other_cities_with_events_then() -> None:
    query = Query(city="oujda", topic="hiv", start=at(2026, 11, 30), end=at(2026, 12, 7))
    alternative = nearest_alternative(AHEAD, query)
    assert alternative == Alternative("other_cities", (AHEAD[0], AHEAD[2]), ("agadir", "rabat"))
    text = nothing(query)
    assert TEXTS.get("alternative_other_cities", "fr", cities="Agadir et Rabat") in text


def test_nothing_anywhere_then_offers_the_next_event() -> None:
    query = Query(topic="culture", start=at(2026, 11, 30), end=at(2026, 12, 1))
    assert nearest_alternative(AHEAD, query) == Alternative("next_anywhere", (AHEAD[0],))
    assert TEXTS.get("alternative_next", "fr") in nothing(query)


def test_no_events_at_all_and_no_feed_at_all() -> None:
    assert format_listing(listing([]), "en") == TEXTS.get("nothing_planned", "en")
    assert format_listing(listing([], available=False), "ar") == TEXTS.get("unavailable", "ar")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10:00–12:00", f"{LRM}10:00–12:00{LRM}"),
        ("اتصل بـ +212 5 37 54 54 00 اليوم", f"اتصل بـ {LRM}+212 5 37 54 54 00{LRM} اليوم"),
        ("مركز ALCS أكادير", f"مركز {LRM}ALCS{LRM} أكادير"),
        ("نص عربي فقط", "نص عربي فقط"),
        ("من 18 إلى 30 سنة", "من 18 إلى 30 سنة"),  # numbers alone keep their order
    ],
)
def test_ltr_runs_wraps_latin_and_digits_in_arabic_only(text: str, expected: str) -> None:
    assert ltr_runs(text, "ar") == expected
    assert ltr_runs(text, "fr") == text


def test_every_text_exists_in_french_arabic_and_english() -> None:
    raw = load_yaml(PROJECT_ROOT / "content" / "events_texts.yml")
    for key, entry in raw.items():
        assert "all" in entry or {"fr", "ar", "en"} <= set(entry), key
    assert vocabulary().city_name("tanger", "ar") == "طنجة"
