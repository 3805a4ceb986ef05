"""Nearest help from a shared location: distances, city names of the contacts, the reply."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest
from telegram import Update

from bot.core.bodies import Body
from bot.core.content import library, load_yaml
from bot.gateway import nearby
from bot.gateway.telegram_app import Handlers, TelegramTransport

CASABLANCA = (33.589, -7.604)  # a street in Casablanca, rounded as the gateway keeps it (~100 m)
AT_SEA = (30.0, -30.0)  # the middle of the Atlantic
MADRID = (40.417, -3.704)

# Cities named in content/contacts.yml (ALCS) that content/cities.yml and content/places.yml do not
# have yet: a location near them gets the next city that has the service. Adding one (its names
# and aliases in cities.yml, its GeoNames position in places.yml) means removing it here.
NOT_PLACED_YET = {"Azrou", "Essaouira", "Guelmim", "Safi", "Taroudant", "Tiznit"}


@pytest.fixture(scope="module")
def places() -> nearby.Places:
    return nearby.places(library().content_dir)


def test_distances_are_great_circle_kilometres(places: nearby.Places) -> None:
    assert nearby.distance_km(0, 0, 0, 1) == pytest.approx(111.2, abs=0.1)  # a degree on the equator
    assert nearby.distance_km(*CASABLANCA, *CASABLANCA) == 0
    casa, rabat = places.cities["casablanca"], places.cities["rabat"]
    there = nearby.distance_km(casa.lat, casa.lon, rabat.lat, rabat.lon)
    assert 80 < there < 95 and there == pytest.approx(nearby.distance_km(rabat.lat, rabat.lon, casa.lat, casa.lon))


def test_a_shared_point_is_read_only_when_it_is_a_real_position() -> None:
    assert nearby.point({"latitude": 33.589, "longitude": -7.604}) == CASABLANCA
    assert nearby.point({"latitude": 0, "longitude": 0}) == (0.0, 0.0)
    for bad in (
        {},
        {"latitude": "33.5", "longitude": "-7.6"},
        {"latitude": True, "longitude": -7.6},
        {"latitude": 91.0, "longitude": 0.0},
        {"latitude": 0.0, "longitude": -181.0},
        {"latitude": math.nan, "longitude": 0.0},
        {"latitude": math.inf, "longitude": 0.0},
    ):
        assert nearby.point(bad) is None, bad


def test_every_city_has_a_sourced_position_and_names_in_each_language(places: nearby.Places) -> None:
    content = library().content_dir
    cities = load_yaml(content / "cities.yml")["cities"]
    positions = load_yaml(content / "places.yml")["cities"]
    assert set(positions) == set(cities) == set(places.cities)
    for city_id, where in positions.items():
        assert where["source"] == f"https://www.geonames.org/{where['geonames']}", city_id
        assert 20 < where["lat"] < 36.5 and -17.5 < where["lon"] < -1, city_id  # in Morocco
        assert all(places.cities[city_id].names.get(lang) for lang in ("fr", "ar", "en")), city_id


def test_the_city_names_of_the_contacts_are_mapped(places: nearby.Places) -> None:
    assert places.city_ids("Fès / Meknès") == ("fes", "meknes")
    assert places.city_ids("Tanger / Tétouan") == ("tanger", "tetouan")
    assert places.city_ids("Laâyoune") == places.city_ids("laayoune") == ("laayoune",)
    assert places.city_ids("Béni Mellal") == ("beni_mellal",)
    assert places.city_ids("Atlantis") == ()
    contacts = library().contacts().values()
    assert places.unplaced(contacts) == NOT_PLACED_YET
    placed = {c.id: places.where(c) for c in contacts}
    assert placed["ampf"] == (
        "rabat", "casablanca", "fes", "meknes", "tanger", "larache", "marrakech", "agadir", "oujda", "nador"
    )  # fmt: skip
    assert placed["unhcr_helpline"] == ()  # a phone line: everywhere


def test_a_point_in_casablanca_gives_casablanca_first(places: nearby.Places) -> None:
    contacts = library().contacts()
    found = places.nearest(*CASABLANCA, [contacts["alcs"], contacts["ampf"]])
    first = found.cities[0]
    assert first.city.id == "casablanca" and first.km <= 1
    assert [c.id for c in first.contacts] == ["alcs", "ampf"]
    assert len(found.cities) == 3 and [n.km for n in found.cities] == sorted(n.km for n in found.cities)
    assert found.everywhere == ()
    # Only the cities where one of the contacts works: the IOM is in Rabat, Casablanca and Oujda.
    iom = places.nearest(*CASABLANCA, [contacts["iom_morocco"]])
    assert [n.city.id for n in iom.cities] == ["casablanca", "rabat"]  # Oujda is beyond 400 km


def test_the_reply_names_the_city_its_distance_and_the_contacts_there() -> None:
    lib = library()
    topic = lib.topics()["hiv_testing"]
    text = nearby.reply(lib, nearby.places(lib.content_dir), *CASABLANCA, topic, "fr")
    assert text.startswith(lib.text("near_heading", "fr", topic=topic.title["fr"]))
    city = lib.text("near_city", "fr", city="Casablanca", km=1)
    assert text.index(city) < text.index("Rabat")
    casablanca = text.split("\n\n")[1]
    assert "ALCS" in casablanca and "+212 7 67 79 63 38" in casablanca  # AMPF's Casablanca office
    assert "+212 6 61 93 43 54" not in casablanca  # not its Rabat one
    assert text.endswith(lib.text("location_not_kept", "fr"))


def test_without_a_topic_the_general_help_services_in_arabic() -> None:
    lib = library()
    text = nearby.reply(lib, nearby.places(lib.content_dir), *CASABLANCA, None, "ar")
    assert text.startswith(lib.text("near_heading_general", "ar"))
    assert lib.text("near_city", "ar", city="الدار البيضاء", km=1) in text
    assert lib.text("near_everywhere", "ar") in text and "+212 5 37 54 54 00" in text  # the UNHCR line
    assert text.endswith(lib.text("location_not_kept", "ar"))


@pytest.mark.parametrize("where", [AT_SEA, MADRID])
def test_far_from_every_city_says_so_kindly_with_what_works_everywhere(where: tuple[float, float]) -> None:
    lib = library()
    topic = lib.topics()["hiv_testing"]  # ALCS and AMPF: no line that works everywhere
    text = nearby.reply(lib, nearby.places(lib.content_dir), *where, topic, "en")
    assert text.startswith(lib.text("near_far", "en", km=nearby.FAR_KM))
    assert lib.text("near_everywhere", "en") in text and "+212 5 37 54 54 00" in text
    assert "km)" not in text.replace(f"{nearby.FAR_KM} km)", "")  # no city listed
    assert text.endswith(lib.text("location_not_kept", "en"))


def test_the_general_services_exist_and_some_work_in_cities() -> None:
    contacts = library().contacts()
    general = nearby.general_contacts(library())
    assert set(general) <= set(contacts)
    assert any(contacts[i].places() for i in general)
    assert any(not contacts[i].places() for i in general)


# -- the Telegram side -----------------------------------------------------------------------
class _Bot:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_message(self, **params: Any) -> Any:
        self.sent.append(params)
        return SimpleNamespace(message_id=len(self.sent))


class _Runner:
    def __init__(self) -> None:
        self.inputs: list[tuple[str, dict[str, Any] | None]] = []

    async def submit(self, user: str, chat: int, code: str | None, kind: str, **extra: Any) -> None:
        self.inputs.append((kind, extra.get("data")))


async def test_the_location_key_asks_telegram_for_the_location_and_the_rest_stays() -> None:
    bot = _Bot()
    body: Body = {"text": "📍", "lang": "fr", "keyboard": [["☰ Menu", "🆘 Urgence"]], "location_key": "📍 Position"}
    await TelegramTransport(bot).send(1, body)
    rows = bot.sent[0]["reply_markup"].to_dict()["keyboard"]
    assert rows == [[{"text": "📍 Position", "request_location": True}], [{"text": "☰ Menu"}, {"text": "🆘 Urgence"}]]


async def test_a_shared_location_reaches_the_inbox_rounded_to_about_100_m() -> None:
    runner = _Runner()
    handlers = Handlers(runner, "secret")  # type: ignore[arg-type]
    message = {
        "message_id": 5,
        "date": 0,
        "chat": {"id": 7, "type": "private"},
        "from": {"id": 7, "is_bot": False, "first_name": "A"},
        "location": {"latitude": 33.58912345, "longitude": -7.60398765, "horizontal_accuracy": 20},
    }
    update = Update.de_json({"update_id": 1, "message": message}, None)  # type: ignore[arg-type]
    await handlers.on_update(update, SimpleNamespace(bot=None))  # type: ignore[arg-type]
    assert runner.inputs == [("media", {"type": "location", "message_id": 5, "latitude": 33.589, "longitude": -7.604})]
