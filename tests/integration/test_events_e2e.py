"""Events through the whole chain: an iCalendar feed on a local HTTP server (dates relative to
today), the real action server and Rasa, the gateway. Tangier's workshops in French, Casablanca's
activities in Arabic, and the cached listing when the feed stops."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import Stack, free_port, start_gateway, start_stack, stop_process
from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.rasa


def ics(today: dt.date) -> str:
    def event(uid: str, days: int, hour: int, summary: str, title_ar: str, location: str, categories: str) -> str:
        day = today + dt.timedelta(days=days)
        return (
            "BEGIN:VEVENT\r\n"
            f"UID:{uid}@e2e\r\nSUMMARY:{summary}\r\nX-DALIL-TITLE-AR:{title_ar}\r\n"
            f"DTSTART;TZID=Africa/Casablanca:{day:%Y%m%d}T{hour:02d}0000\r\n"
            f"DTEND;TZID=Africa/Casablanca:{day:%Y%m%d}T{hour + 2:02d}0000\r\n"
            f"LOCATION:{location}\r\nCATEGORIES:{categories}\r\nEND:VEVENT\r\n"
        )

    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Dalil e2e//FR\r\n"
        + event(
            "tng-1",
            3,
            10,
            "Atelier entrepreneuriat et genre",
            "ورشة ريادة الأعمال والنوع",
            "Espace jeunes, Tanger",
            "jobs_training,women",
        )
        + event(
            "tng-2",
            10,
            14,
            "Atelier CV pour les jeunes",
            "ورشة السيرة الذاتية للشباب",
            "Maison des jeunes, Tanger",
            "youth,jobs_training",
        )
        + event(
            "casa-1",
            4,
            9,
            "Séance santé sexuelle et reproductive",
            "جلسة حول الصحة الجنسية والإنجابية",
            "AMPF, Casablanca",
            "health,women",
        )
        + event("rabat-1", 5, 15, "Repas interculturel", "وجبة بين الثقافات", "Rabat", "community")
        + "END:VCALENDAR\r\n"
    )


class Feed:
    def __init__(self) -> None:
        self.runner: web.AppRunner | None = None
        self.port = free_port()
        self.body = ics(dt.date.today())

    async def start(self) -> None:
        async def serve(request: web.Request) -> web.Response:
            return web.Response(text=self.body, content_type="text/calendar")

        app = web.Application()
        app.router.add_get("/partners.ics", serve)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
async def feed() -> AsyncIterator[Feed]:
    server = Feed()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def events_stack(feed: Feed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(
        tmp_path_factory.mktemp("events"), EVENTS_URL=f"http://127.0.0.1:{feed.port}/partners.ics", EVENTS_TTL="1"
    )
    yield running
    for proc in running.processes.values():
        stop_process(proc)
    running.action_proxy.close()


async def test_listings_by_city_in_french_and_arabic_and_cached_when_the_feed_stops(
    feed: Feed, events_stack: Stack, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    api = fake_telegram
    gw = await start_gateway(events_stack, api, tmp_path)
    try:
        api.message(7001, "quels ateliers à Tanger ?")
        [fr] = await api.wait_for(7001, 1, timeout=60)
        assert "Atelier entrepreneuriat et genre" in fr.text and "Atelier CV" in fr.text
        assert "Casablanca" not in fr.text and "Repas" not in fr.text

        api.message(7002, "هل هناك أنشطة في الدار البيضاء؟", language_code="ar")
        [ar] = await api.wait_for(7002, 1, timeout=60)
        assert "جلسة حول الصحة الجنسية والإنجابية" in ar.text
        assert "ريادة الأعمال" not in ar.text and "وجبة" not in ar.text

        await feed.stop()  # the partner's server is down; the cache is older than its TTL
        await _sleep(1.5)
        started = time.monotonic()
        api.message(7003, "quels ateliers à Tanger ?")
        [cached] = await api.wait_for(7003, 1, timeout=10)
        assert time.monotonic() - started < 3.0
        assert "Atelier entrepreneuriat et genre" in cached.text
        assert "Je n'ai pas pu mettre la liste à jour" in cached.text  # and says since when
    finally:
        gw.stop()


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
