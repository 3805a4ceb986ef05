"""`dalil links` (bot/ops/links.py): deep links per topic and language, a QR code PNG each, a
topic id Telegram would refuse reported and not written, and the bot's username found."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import httpx
import pytest

from bot.core.content import Library
from bot.core.settings import PROJECT_ROOT, Settings
from bot.ops.cli import build_parser
from bot.ops.links import LinksError, bot_username, make_links, run

TOKEN = "123456:SECRET-TOKEN"


def topic(topic_id: str, title_fr: str) -> str:
    return f"id: {topic_id}\ntitle:\n  fr: {title_fr}\n  en: English title\nanswer:\n  fr: Réponse\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "faq").mkdir()
    (tmp_path / "content").mkdir()
    shutil.copy(PROJECT_ROOT / "content" / "messages.yml", tmp_path / "content" / "messages.yml")
    (tmp_path / "faq" / "hiv_testing.yml").write_text(topic("hiv_testing", "Test VIH et IST"), encoding="utf-8")
    (tmp_path / "faq" / "housing.yml").write_text(topic("housing", "Logement"), encoding="utf-8")
    return tmp_path


def test_links_for_topics_and_languages(project: Path) -> None:
    links, problems = make_links(Library(project), "DalilBot")
    assert problems == []
    assert [(link.url, link.label) for link in links] == [
        ("https://t.me/DalilBot?start=t_hiv_testing", "Test VIH et IST"),
        ("https://t.me/DalilBot?start=t_housing", "Logement"),
        ("https://t.me/DalilBot?start=l_fr", "Langue : Français"),
        ("https://t.me/DalilBot?start=l_ar", "Langue : العربية"),
        ("https://t.me/DalilBot?start=l_en", "Langue : English"),
    ]


def test_run_prints_the_links_and_writes_a_png_for_each(project: Path, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    settings = Settings(root=project, var_dir=tmp_path / "var")
    code = run(settings, bot="@DalilBot", env={}, library=Library(project), stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[0] == "https://t.me/DalilBot?start=t_hiv_testing\tTest VIH et IST"
    assert "https://t.me/DalilBot?start=l_ar\tLangue : العربية" in lines
    folder = tmp_path / "var" / "links"  # the default: var/links/
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["l_ar.png", "l_en.png", "l_fr.png", "t_hiv_testing.png", "t_housing.png"]
    for path in folder.iterdir():
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "5 QR code(s)" in err.getvalue()


def test_a_topic_id_telegram_would_refuse_is_reported_not_written(project: Path, tmp_path: Path) -> None:
    (project / "faq" / "bad.yml").write_text(topic("santé mentale", "Santé mentale"), encoding="utf-8")
    (project / "faq" / "long.yml").write_text(topic("x" * 63, "Trop long"), encoding="utf-8")  # t_ + 63 = 65
    links, problems = make_links(Library(project), "DalilBot")
    assert len(problems) == 2
    assert "'santé mentale'" in problems[0] + problems[1] and "rename the topic" in problems[0]
    assert len(links) == 2 + 3
    out, err = io.StringIO(), io.StringIO()
    code = run(
        Settings(root=project), bot="DalilBot", out=tmp_path / "qr", library=Library(project), stdout=out, stderr=err
    )
    assert code == 1
    assert "not written: topic 'santé mentale'" in err.getvalue()
    assert sorted(p.name for p in (tmp_path / "qr").iterdir()) == [
        "l_ar.png",
        "l_en.png",
        "l_fr.png",
        "t_hiv_testing.png",
        "t_housing.png",
    ]


def test_the_username_from_the_option_the_environment_or_telegram() -> None:
    settings = Settings(telegram_bot_token=TOKEN, telegram_api_url="http://fake/bot")
    assert bot_username("https://t.me/DalilBot", {}, settings) == "DalilBot"
    assert bot_username(None, {"TELEGRAM_BOT_USERNAME": "@EnvBot_1"}, settings) == "EnvBot_1"

    asked: list[str] = []

    def get_me(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, json={"ok": True, "result": {"id": 1, "is_bot": True, "username": "AskedBot"}})

    with httpx.Client(transport=httpx.MockTransport(get_me)) as client:
        assert bot_username(None, {}, settings, client) == "AskedBot"
    assert asked == [f"http://fake/bot{TOKEN}/getMe"]


def test_no_username_is_a_clear_error_that_never_shows_the_token() -> None:
    with pytest.raises(LinksError, match="pass --bot USERNAME"):
        bot_username(None, {}, Settings())
    with pytest.raises(LinksError, match="not a Telegram username"):
        bot_username("no spaces please", {}, Settings())

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"ok": False, "error_code": 401, "description": "Unauthorized"})

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    settings = Settings(telegram_bot_token=TOKEN, telegram_api_url="http://fake/bot")
    for handler, reason in ((refuse, "Unauthorized"), (down, "ConnectError")):
        with httpx.Client(transport=httpx.MockTransport(handler)) as client:
            with pytest.raises(LinksError) as caught:
                bot_username(None, {}, settings, client)
        assert reason in str(caught.value) and TOKEN not in str(caught.value)
    err = io.StringIO()
    assert run(Settings(), env={}, stderr=err) == 2
    assert "dalil links: no bot username" in err.getvalue()


def test_the_command_line_has_links() -> None:
    args = build_parser().parse_args(["links", "--out", "posters", "--bot", "DalilBot"])
    assert (args.out, args.bot, args.func.__name__) == ("posters", "DalilBot", "cmd_links")
