"""The audit log (issue #20, part 4): `dalil faq import|publish|rollback` write who, what, the
result; a /publish from Telegram names the admin (tg:<id>); `dalil audit` prints it, newest first,
in Morocco's time. The CLI's functions run in-process against a temporary SQLite database."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import bot.ops.publish
from bot.core.content import library
from bot.gateway.admin import Admin
from bot.ops import cli
from bot.ops.admin_cli import actor_of, audit_table
from bot.storage.audit import Audit, AuditEntry
from bot.storage.db import create_engine, migrate
from bot.storage.store import Store, User

ADMIN_ID = 3210


class FakeResult:
    """What bot/ops/publish.py returns, without training or a Rasa server."""

    def __init__(self, ok: bool, lines: list[str]) -> None:
        self.ok, self.lines = ok, lines

    def to_json(self) -> str:
        return json.dumps({"ok": self.ok, "lines": self.lines})


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'dalil.db'}"  # no tables yet: the first row creates them
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DALIL_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setattr("getpass.getuser", lambda: "amina")
    monkeypatch.setattr(bot.ops.publish, "publish", lambda settings, force_train=False: FakeResult(True, ["live"]))
    monkeypatch.setattr(bot.ops.publish, "rollback", lambda settings: FakeResult(False, ["no previous release"]))
    yield url


def rows(url: str) -> list[AuditEntry]:
    async def read() -> list[AuditEntry]:
        engine = create_engine(url)
        try:
            return await Audit(engine).recent()
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_publish_and_rollback_are_recorded_with_their_result(env: str) -> None:
    assert cli.main(["faq", "publish"]) == 0
    assert cli.main(["faq", "rollback", "--json"]) == 1
    [rollback, publish] = rows(env)
    assert (publish.actor, publish.action, publish.detail, publish.result) == ("cli:amina", "publish", "live", "ok")
    assert (rollback.actor, rollback.action, rollback.result) == ("cli:amina", "rollback", "failed")
    assert rollback.detail == "no previous release"


def test_an_import_is_recorded_when_it_stages_changes(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "faq.csv"
    assert cli.main(["faq", "export", str(sheet)]) == 0
    table = list(csv.reader(sheet.open(encoding="utf-8-sig")))
    header = table[0]
    row = next(r for r in table[1:] if r[header.index("language")] == "en")
    row[header.index("answer")] += " (checked)"
    with sheet.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(table)
    assert cli.main(["faq", "import", str(sheet), "--dry-run"]) == 0
    migrate(env)
    assert rows(env) == []  # a dry run changes nothing: not an admin action
    assert cli.main(["faq", "import", str(sheet), "--yes"]) == 0
    [entry] = rows(env)
    topic = row[header.index("topic")]
    assert (entry.actor, entry.action, entry.result) == ("cli:amina", "import", "ok")
    assert entry.detail == f"faq faq.csv: staged faq/{topic}.yml"
    capsys.readouterr()
    assert cli.main(["audit"]) == 0
    assert "cli:amina  import  ok      faq faq.csv: staged" in capsys.readouterr().out


async def test_a_telegram_publish_names_the_admin(env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    migrate(env)
    store = Store(create_engine(env))
    admin = Admin(store, None, library())  # type: ignore[arg-type]
    sent: list[list[Any]] = []

    async def notify(user: User, bodies: list[Any]) -> None:
        sent.append(bodies)

    admin.notify = notify
    argvs: list[list[str]] = []

    async def run_cli(*argv: str, **kwargs: Any) -> Any:
        """`dalil faq publish …` run in-process (in a thread: it has its own event loop)."""
        argvs.append(list(argv))
        args = list(argv[argv.index("faq") :])
        out = io.StringIO()

        def run() -> None:
            with contextlib.redirect_stdout(out):
                cli.main(args)

        await asyncio.to_thread(run)

        class Proc:
            async def communicate(self) -> tuple[bytes, None]:
                return out.getvalue().encode(), None

        return Proc()

    monkeypatch.setattr(asyncio, "create_subprocess_exec", run_cli)
    user = User(f"u{ADMIN_ID}", ADMIN_ID, "fr", "fr", False, "fr", False)
    await admin.handle(user, "publish", "fr", role="editor", actor=f"tg:{ADMIN_ID}")
    assert admin._publishing is not None
    await admin._publishing
    assert argvs[0][-2:] == ["--actor", f"tg:{ADMIN_ID}"]
    [entry] = await Audit(store.engine).recent()
    assert (entry.actor, entry.action, entry.result) == (f"tg:{ADMIN_ID}", "publish", "ok")
    assert sent and library().text("admin_result_ok", "fr") in sent[0][0]["text"]
    await store.close()


def test_the_table_is_in_morocco_time_newest_first_and_short() -> None:
    entries = [
        AuditEntry(dt.datetime(2027, 1, 4, 8, 0), "tg:3210", "publish", "x" * 200, "ok"),
        AuditEntry(dt.datetime(2027, 1, 3, 23, 30), "cli:amina", "role_change", "+viewer 3211", "ok"),
    ]
    lines = audit_table(entries).splitlines()
    assert lines[0].split() == ["time", "(Morocco)", "actor", "action", "result", "detail"]
    assert lines[1].startswith("2027-01-04 09:00  tg:3210") and lines[1].endswith("x…")
    assert lines[2].startswith("2027-01-04 00:30  cli:amina  role_change  ok      +viewer 3211")
    assert "x" * 200 in audit_table(entries, full=True)


def test_dalil_audit_since_and_limit(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["faq", "publish"]) == 0
    assert cli.main(["faq", "publish"]) == 0
    capsys.readouterr()
    assert cli.main(["audit", "--limit", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2  # the header and one row
    assert cli.main(["audit", "--since", "2999-01-01"]) == 0
    assert capsys.readouterr().out.strip() == "no entries since 2999-01-01"
    assert cli.main(["audit", "--since", "yesterday"]) == 2


def test_the_actor_is_the_one_given_or_the_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "youssef")
    assert actor_of() == "cli:youssef"
    assert actor_of(cli.build_parser().parse_args(["faq", "publish", "--actor", "tg:3212"])) == "tg:3212"
    assert sys.executable  # the gateway runs the CLI with its own interpreter
