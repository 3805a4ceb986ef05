"""Nearest help: a shared location answered with the nearest cities that have a service.

Pure and offline: where each city lies comes from `content/places.yml` (city centres from
GeoNames, with their sources; never looked up on the network), what each city is called from
`content/cities.yml`, and where a contact works from `content/contacts.yml` (`cities` and its
offices' `city`, in French spelling as in cities.yml, or a city id). Distances are as the crow
flies, from the city centre. The coordinates a person shares are used for one answer: never
logged, never stored here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.content import Contact, FileCache, Library, Office, Topic, load_yaml
from bot.core.phrases import fold

FAR_KM = 400  # beyond this from every city with the service: "far", with the ways that work everywhere
EARTH_KM = 6371.0088  # mean Earth radius (IUGG)


@dataclass(frozen=True)
class City:
    id: str
    names: Mapping[str, str]
    lat: float
    lon: float

    def name(self, lang: str) -> str:
        return self.names.get(lang) or self.names.get("fr") or self.id


@dataclass(frozen=True)
class NearCity:
    city: City
    km: int
    contacts: tuple[Contact, ...]


@dataclass(frozen=True)
class Nearest:
    cities: tuple[NearCity, ...]  # nearest first; empty: far from every city with the service
    everywhere: tuple[Contact, ...]  # contacts with no city: they work everywhere (by phone, in person)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dlat, dlon = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def point(data: Mapping[str, Any]) -> tuple[float, float] | None:
    """(latitude, longitude) of a shared location as the gateway stored it, or None."""
    lat, lon = _number(data.get("latitude")), _number(data.get("longitude"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


class Places:
    """The cities that have coordinates, and every way contacts.yml names them."""

    def __init__(self, cities: Mapping[str, City], names: Mapping[str, str]) -> None:
        self.cities = dict(cities)
        self._ids = dict(names)  # folded name or alias -> city id

    @classmethod
    def from_data(cls, places: Mapping[str, Any], cities: Mapping[str, Any]) -> Places:
        """From the parsed places.yml and cities.yml (a city needs both: a name and a position)."""
        known = cities.get("cities") or {}
        found: dict[str, City] = {}
        names: dict[str, str] = {}
        for city_id, where in (places.get("cities") or {}).items():
            if not isinstance(where, Mapping) or not all(_number(where.get(k)) is not None for k in ("lat", "lon")):
                continue  # a line being written: that city has no position yet
            entry = known.get(city_id) or {}
            city = City(str(city_id), dict(entry.get("name") or {}), float(where["lat"]), float(where["lon"]))
            found[city.id] = city
            for name in (city.id, *city.names.values(), *(entry.get("aliases") or ())):
                names.setdefault(fold(str(name)), city.id)
        return cls(found, names)

    def city_ids(self, name: str) -> tuple[str, ...]:
        """The ids of the cities a contact's city names ("Fès / Meknès" is two); () if unknown."""
        ids = (self._ids.get(fold(part)) for part in name.split("/"))
        return tuple(dict.fromkeys(i for i in ids if i))

    def where(self, contact: Contact) -> tuple[str, ...]:
        """The ids of the cities a contact works in (those with a position)."""
        return tuple(dict.fromkeys(i for name in contact.places() for i in self.city_ids(name)))

    def unplaced(self, contacts: Iterable[Contact]) -> set[str]:
        """City names of these contacts that have no position (missing from places.yml or cities.yml)."""
        return {name for c in contacts for name in c.places() if not self.city_ids(name)}

    def by_distance(self, lat: float, lon: float, ids: Iterable[str] | None = None) -> list[tuple[City, float]]:
        chosen = self.cities.values() if ids is None else [self.cities[i] for i in ids if i in self.cities]
        return sorted(((c, distance_km(lat, lon, c.lat, c.lon)) for c in chosen), key=lambda pair: pair[1])

    def nearest(
        self, lat: float, lon: float, contacts: Iterable[Contact], *, limit: int = 3, far_km: float = FAR_KM
    ) -> Nearest:
        """The `limit` nearest cities (within `far_km`) where at least one of `contacts` works."""
        contacts = tuple(contacts)
        works = {c.id: self.where(c) for c in contacts}
        everywhere = tuple(c for c in contacts if not c.places())
        cities = [
            NearCity(city, max(1, round(km)), tuple(c for c in contacts if city.id in works[c.id]))
            for city, km in self.by_distance(lat, lon, {i for ids in works.values() for i in ids})
            if km <= far_km
        ]
        return Nearest(tuple(cities[:limit]), everywhere)


_places: FileCache[Places] = FileCache()


def places(content_dir: Path) -> Places:
    """The places of a content directory, read again when places.yml or cities.yml changes."""
    paths = [content_dir / "places.yml", content_dir / "cities.yml"]
    return _places.get(paths, lambda: Places.from_data(load_yaml(paths[0]) or {}, load_yaml(paths[1]) or {}))


# -- the reply ------------------------------------------------------------------------------
def general_contacts(library: Library) -> tuple[str, ...]:
    """The "help near you" services of content/places.yml, for a location without a topic."""
    data = load_yaml(library.content_dir / "places.yml") or {}
    return tuple(str(i) for i in data.get("general_contacts") or ())


def reply(
    library: Library, where: Places, lat: float, lon: float, topic: Topic | None, lang: str, darija: bool = False
) -> str:
    """ "Nearest to you: Casablanca (1 km) · ALCS, AMPF 📞 …; Rabat (82 km) …", in `lang`: for a
    topic, its own contacts; without one, the general help services."""
    known = library.contacts()
    if topic is not None and not any(where.where(known[i]) for i in topic.contacts if i in known):
        topic = None  # nothing of the topic has a place: the general help services instead
    general = general_contacts(library)
    ids = topic.contacts if topic is not None else general
    found = where.nearest(lat, lon, [known[i] for i in ids if i in known])
    everywhere = found.everywhere
    if found.cities:
        title = (topic.title.get(lang) or topic.title.get("fr")) if topic is not None else None
        head = library.text("near_heading", lang, darija, topic=title) if title else None
        parts = [head or library.text("near_heading_general", lang, darija)]
        for near in found.cities:
            city = library.text("near_city", lang, darija, city=near.city.name(lang), km=near.km)
            parts.append("\n".join([city, *(contact_line(c, lang, where, near.city.id) for c in near.contacts)]))
    else:
        parts = [library.text("near_far", lang, darija, km=FAR_KM)]
        if not everywhere:
            everywhere = tuple(known[i] for i in general if i in known and not known[i].places())
    if everywhere:
        lines = [contact_line(c, lang, where) for c in everywhere]
        parts.append("\n".join([library.text("near_everywhere", lang, darija), *lines]))
    foot = library.text("location_not_kept", lang, darija)
    if found.cities:
        foot = library.text("near_distances", lang, darija) + " " + foot
    parts.append(foot)
    return "\n\n".join(parts)


def contact_line(contact: Contact, lang: str, where: Places, city_id: str | None = None) -> str:
    """ "• AMPF: 📞 +212 …": the short name and the numbers for that city (its office there, else
    the contact's own numbers); a contact of one city adds its address."""
    name = _pick(contact.name, lang) or contact.id
    short = name.split(" (")[0].split(",")[0].split("،")[0].strip()
    offices = [o for o in contact.offices if city_id is not None and city_id in where.city_ids(o.city)]
    sources: list[Office | Contact] = [*offices] or [contact]  # its office in that city, else its own numbers
    phones = list(dict.fromkeys(s.phone for s in sources if s.phone))
    whatsapps = list(dict.fromkeys(s.whatsapp for s in sources if s.whatsapp and s.whatsapp not in phones))
    numbers = ["📞 " + " · ".join(_ltr(n) for n in phones)] if phones else []
    numbers += [f"💬 WhatsApp {_ltr(n)}" for n in whatsapps]
    line = f"• {short}: {' · '.join(numbers)}" if numbers else f"• {short}"
    address = _pick(contact.address, lang)
    if address and len(where.where(contact)) == 1:
        line += f" · {address}"
    return line


def _ltr(number: str) -> str:
    """A phone number kept left-to-right inside Arabic text (marks, as bot.core.content does)."""
    return f"\u200e{number}\u200e"


def _pick(texts: Mapping[str, str], lang: str) -> str | None:
    return texts.get(lang) or texts.get("fr")
