"""`dalil report export`: the daily table as a workbook with charts, from a real SQLite file."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from bot.ops.cli import main
from bot.ops.report import default_since
from bot.storage.db import create_engine, migrate
from bot.storage.figures import Figures, today


def test_the_default_period_starts_with_the_previous_month() -> None:
    assert default_since(dt.date(2026, 12, 8)) == dt.date(2026, 11, 1)
    assert default_since(dt.date(2027, 1, 31)) == dt.date(2026, 12, 1)
    assert default_since(dt.date(2026, 3, 1)) == dt.date(2026, 2, 1)


async def _fill(url: str) -> None:
    migrate(url)
    figures = Figures(create_engine(url))
    day = today() - dt.timedelta(days=2)
    await figures.add_many(
        {
            ("messages", "text"): 9,
            ("messages", "callback"): 3,
            ("people", ""): 4,
            ("languages", "fr"): 8,
            ("languages", "ary"): 4,
            ("topics", "hiv_testing"): 5,
            ("topics", "asylum_apply"): 2,
            ("not_understood", ""): 1,
            ("urgent", "violence"): 1,
            ("handoffs", "urgent"): 2,
            ("first_replies", ""): 2,
            ("first_reply_seconds", ""): 1800,
            ("campaign", "=HYPERLINK(1)"): 1,
            ("campaign", "poster_rabat"): 3,
        },
        day=day,
    )
    await figures.add("messages", "text", 50, day=day - dt.timedelta(days=900))  # outside the period
    await figures.engine.dispose()


def test_the_report_holds_each_day_and_its_charts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'dalil.db'}"
    asyncio.run(_fill(url))
    monkeypatch.setenv("DATABASE_URL", url)
    since = today() - dt.timedelta(days=6)
    out = tmp_path / "reports" / "month.xlsx"
    assert main(["report", "export", str(out), "--since", since.isoformat()]) == 0
    assert str(out) in capsys.readouterr().out
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["README", "Daily", "Languages", "Topics", "Campaigns"]
    daily = book["Daily"]
    header = [c.value for c in daily[1]]
    rows = {row[0].date(): dict(zip(header, row, strict=True)) for row in daily.iter_rows(min_row=2, values_only=True)}
    assert sorted(rows) == [since + dt.timedelta(days=n) for n in range(7)]  # every day, even empty ones
    day = rows[today() - dt.timedelta(days=2)]
    assert (day["messages"], day["people"], day["handoffs"], day["urgent"]) == (12, 4, 2, 1)
    assert day["first_reply_minutes"] == 15 and day["campaign"] == 4
    assert rows[today()]["messages"] == 0
    assert len(daily._charts) == 2  # messages & people (lines), the rest (bars)
    topics = book["Topics"]
    assert [c.value for c in topics[1]] == ["day", "hiv_testing", "asylum_apply"]
    assert [c.value for c in topics[topics.max_row]] == ["total", 5, 2]
    assert len(topics._charts) == 1
    languages = [c.value for c in book["Languages"][1]]
    assert languages == ["day", "fr", "ary"]
    campaigns = [c.value for c in book["Campaigns"][1]]
    assert "'=HYPERLINK(1)" in campaigns  # a key is text, never a formula
    readme = [c.value for row in book["README"].iter_rows() for c in row if c.value]
    assert any("aucun nom" in str(v) for v in readme) and any("no name" in str(v) for v in readme)
    assert "first_reply_minutes" in readme


def test_a_wrong_file_or_date_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'dalil.db'}")
    assert main(["report", "export", str(tmp_path / "r.csv")]) == 2
    with pytest.raises(SystemExit):
        main(["report", "export", str(tmp_path / "r.xlsx"), "--since", "08/12/2026"])
    assert main(["report", "export", str(tmp_path / "r.xlsx"), "--since", "2030-01-01", "--until", "2029-01-01"]) == 2
