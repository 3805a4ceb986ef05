"""The anonymous daily figures end to end: real messages through the real gateway (fake Bot API,
real Rasa), `/stats` answered with a chart, `dalil report export` holding the day's figures, and
the figures still there after `/forget` and the retention purge.

People here are 31xx (the admin 3150)."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import openpyxl
import pytest

from bot.core.content import library
from bot.storage.db import create_engine
from bot.storage.figures import Figures, Row, today
from bot.storage.store import Store, utcnow
from tests.conftest import BIN, ROOT, Stack, start_gateway
from tests.fakes.telegram_api import FakeTelegram, Sent

pytestmark = pytest.mark.rasa
ADMIN = 3150
PNG = b"\x89PNG\r\n\x1a\n"


def export(env: dict[str, str], out: Path) -> openpyxl.Workbook:
    done = subprocess.run(
        [str(BIN / "dalil"), "report", "export", str(out), "--since", today().isoformat()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return openpyxl.load_workbook(out)


def today_row(book: openpyxl.Workbook) -> dict[str, object]:
    sheet = book["Daily"]
    header = [c.value for c in sheet[1]]
    [row] = [r for r in sheet.iter_rows(min_row=2, values_only=True) if r[0] and r[0].date() == today()]
    return dict(zip(header, row, strict=True))


async def snapshot(db_url: str) -> list[Row]:
    engine = create_engine(db_url)
    try:
        return await Figures(engine).rows(today() - dt.timedelta(days=1), today())
    finally:
        await engine.dispose()


async def test_stats_chart_report_and_figures_that_outlive_forget_and_retention(
    stack: Stack, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    api, lib = fake_telegram, library()
    gw = await start_gateway(stack, api, tmp_path, ADMIN_USER_IDS=str(ADMIN))
    db_url = gw.env["DATABASE_URL"]
    try:
        # Three people: a question answered, a message not understood, a poster's campaign tag.
        api.message(3101, "/start l_fr")
        await api.wait_until(3101, lambda s: len(s) >= 3, timeout=60)  # welcome, privacy, menu
        before = len(api.to(3101))
        api.message(3101, "Comment demander l'asile au Maroc ?")
        await api.wait_until(3101, lambda s: any("asile" in (x.text or "") for x in s[before:]), timeout=60)
        api.message(3102, "xqzt bloop wizzle")
        await api.wait_for(3102, 1, timeout=60)
        api.message(3103, "/start affiche_clinique_3103")
        await api.wait_for(3103, 1, timeout=60)

        # /stats: a photo (a PNG) whose caption holds the figures.
        api.message(ADMIN, "/stats")
        sent = await api.wait_until(ADMIN, lambda s: any(x.method == "sendPhoto" for x in s), timeout=60)
        photo = next(x for x in sent if x.method == "sendPhoto")
        assert photo.params["_files"]["photo"].startswith(PNG)
        assert "Messages" in (photo.text or "") and "asylum_apply" in (photo.text or "")

        # The report: today's row counts these people and what they asked.
        book = export(gw.env, tmp_path / "report.xlsx")
        day = today_row(book)
        assert int(day["messages"]) >= 5 and int(day["people"]) >= 3  # type: ignore[call-overload]
        assert int(day["not_understood"]) >= 1 and int(day["campaign"]) == 1  # type: ignore[call-overload]
        topics = book["Topics"]
        assert "asylum_apply" in [c.value for c in topics[1]]
        assert "affiche_clinique_3103" in [c.value for c in book["Campaigns"][1]]
        assert sum(1 for ws in book for _ in ws._charts) >= 4  # Daily (2), Languages, Topics, Campaigns

        # /forget: the person's rows go, the day's figures stay.
        counted = await snapshot(db_url)
        api.message(3101, "/forget")
        yes = lib.text("forget_yes", "fr")

        def asked(s: list[Sent]) -> bool:
            return any(b["text"] == yes for x in s for b in x.buttons)

        sent = await api.wait_until(3101, asked, timeout=60)
        question = next(x for x in reversed(sent) if any(b["text"] == yes for b in x.buttons))
        api.press(3101, question.button(yes)["callback_data"])

        def forgotten(s: list[Sent]) -> bool:
            return any((x.text or "").startswith(lib.text("forget_done", "fr")) for x in s)

        await api.wait_until(3101, forgotten, timeout=60)
        after_forget = {(r.day, r.metric, r.key): r.count for r in await snapshot(db_url)}
        for row in counted:  # nothing went down; the /forget exchange itself was counted
            assert after_forget[(row.day, row.metric, row.key)] >= row.count
    finally:
        gw.stop()
    # Retention: every conversation older than tomorrow goes; the figures do not.
    store = Store(create_engine(db_url))
    try:
        tomorrow = utcnow() + dt.timedelta(days=1)
        deleted = await store.purge_before(tomorrow, sent_before=tomorrow)
        assert deleted["dalil_users"] >= 3 and deleted["dalil_inbox"] >= 3  # 3102, 3103, the admin
    finally:
        await store.close()
    assert {(r.day, r.metric, r.key): r.count for r in await snapshot(db_url)} == after_forget
    assert today_row(export(gw.env, tmp_path / "after.xlsx"))["people"] == after_forget[(today(), "people", "")]
