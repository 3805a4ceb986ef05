"""Admin roles (issue #20, part 5): viewers see the figures, editors change things; the roles file
is read again when it changes (no restart), ADMIN_USER_IDS stay editors, a broken file never locks
admins out. Test Telegram ids: 3200-3299."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from telegram import Update

from bot.core.content import library
from bot.core.roles import Roles, allows, diff, parse, write
from bot.gateway.admin import COMMAND_ROLES, Admin
from bot.gateway.telegram_app import Handlers
from bot.ops import cli
from bot.storage.audit import Audit
from bot.storage.db import create_engine, migrate
from bot.storage.store import Store, User
from tests.unit.test_audit import rows

EDITOR, VIEWER, OTHER, ENV_ADMIN = 3201, 3202, 3203, 3204


def write_roles(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def roles_file(tmp_path: Path) -> Path:
    path = tmp_path / "roles.yml"
    write_roles(path, f"# who is who\neditors:\n  - {EDITOR}  # Amina\nviewers: [{VIEWER}]\n")
    return path


def test_the_file_and_admin_user_ids_give_the_roles(roles_file: Path) -> None:
    roles = Roles(roles_file, {ENV_ADMIN, VIEWER})
    assert roles.role_of(EDITOR) == "editor"
    assert roles.role_of(VIEWER) == "editor"  # ADMIN_USER_IDS = editors, whatever the file says
    assert roles.role_of(ENV_ADMIN) == "editor"
    assert roles.role_of(OTHER) is None
    assert Roles(roles_file.with_name("absent.yml"), {ENV_ADMIN}).snapshot() == {ENV_ADMIN: "editor"}


def test_an_edit_takes_effect_at_the_next_check_without_restart(roles_file: Path) -> None:
    seen: list[tuple[str, str]] = []
    roles = Roles(roles_file, on_change=lambda detail, result: seen.append((detail, result)))
    assert roles.role_of(VIEWER) == "viewer"
    # The same size, written within the file system's timestamp granularity: still noticed.
    write_roles(roles_file, roles_file.read_text().replace(f"[{VIEWER}]", f"[{OTHER}]"))
    assert roles.role_of(VIEWER) is None and roles.role_of(OTHER) == "viewer"
    assert seen == [(f"roles file: -viewer {VIEWER}, +viewer {OTHER}", "ok")]


def test_an_old_unchanged_file_costs_one_stat(roles_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = roles_file.stat().st_mtime - 3600
    os.utime(roles_file, (old, old))
    roles = Roles(roles_file)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read again"))
    assert roles.role_of(EDITOR) == "editor"


def test_a_malformed_file_keeps_the_last_good_version(roles_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[tuple[str, str]] = []
    roles = Roles(roles_file, on_change=lambda detail, result: seen.append((detail, result)))
    with caplog.at_level(logging.INFO):
        write_roles(roles_file, f"editors: [{EDITOR}\nviewers: oops: [\n")
        assert roles.role_of(EDITOR) == "editor" and roles.role_of(VIEWER) == "viewer"
        assert roles.role_of(EDITOR) == "editor"  # warned once, not on every command
        write_roles(roles_file, f"editors: [{EDITOR}, 'x{VIEWER}']\n")
        assert roles.role_of(VIEWER) == "viewer"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "last good version" in warnings[0].getMessage()
    assert str(EDITOR) not in caplog.text and str(VIEWER) not in caplog.text  # never an id in the logs
    assert [result for _, result in seen] == ["error", "error"]
    write_roles(roles_file, f"editors: [{EDITOR}, {VIEWER}]\n")
    assert roles.role_of(VIEWER) == "editor"


def test_parse_diff_and_rank() -> None:
    assert parse(None) == {}
    assert parse({"editors": [1, "2"], "viewers": [2, 3]}) == {1: "editor", 2: "editor", 3: "viewer"}
    assert diff({1: "viewer", 2: "editor"}, {1: "editor", 3: "viewer"}) == [
        "viewer->editor 1",
        "-editor 2",
        "+viewer 3",
    ]
    assert allows("editor", "viewer") and allows("viewer", "viewer") and not allows("viewer", "editor")
    assert not allows(None, "viewer") and not allows("viewer", "no-such-role")
    assert COMMAND_ROLES["stats"] == "viewer" and COMMAND_ROLES["publish"] == "editor"


def test_writing_keeps_the_comments(roles_file: Path) -> None:
    write(roles_file, {EDITOR: "editor", OTHER: "viewer"}, previous_text=roles_file.read_text())
    text = roles_file.read_text()
    assert text.startswith("# who is who\n") and f"- {EDITOR}  # Amina" in text and f"- {OTHER}" in text
    assert Roles(roles_file).snapshot() == {EDITOR: "editor", OTHER: "viewer"}


# -- Telegram: the handler marks the role, the admin commands check it ------------------------
class _Runner:
    def __init__(self) -> None:
        self.inputs: list[dict[str, Any]] = []

    async def submit(self, user: str, chat: int, code: str | None, kind: str, **extra: Any) -> None:
        self.inputs.append(extra.get("data") or {})


async def command_from(handlers: Handlers, telegram_id: int, text: str) -> dict[str, Any]:
    message = {
        "message_id": 1,
        "date": 0,
        "chat": {"id": telegram_id, "type": "private"},
        "from": {"id": telegram_id, "is_bot": False, "first_name": "A"},
        "text": text,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
    }
    update = Update.de_json({"update_id": 1, "message": message}, None)  # type: ignore[arg-type]
    runner: _Runner = handlers.runner  # type: ignore[assignment]
    await handlers.on_update(update, SimpleNamespace(bot=None))  # type: ignore[arg-type]
    return runner.inputs[-1]


async def test_editing_the_roles_file_changes_the_next_message(roles_file: Path) -> None:
    handlers = Handlers(_Runner(), "secret", roles=Roles(roles_file))  # type: ignore[arg-type]
    assert await command_from(handlers, VIEWER, "/publish") == {
        "name": "publish",
        "message_id": 1,
        "admin": True,
        "role": "viewer",
        "actor": f"tg:{VIEWER}",
    }
    assert "admin" not in await command_from(handlers, OTHER, "/stats")
    write_roles(roles_file, f"editors: [{EDITOR}, {VIEWER}]\n")
    assert (await command_from(handlers, VIEWER, "/publish"))["role"] == "editor"
    write_roles(roles_file, f"editors: [{EDITOR}]\n")
    assert "admin" not in await command_from(handlers, VIEWER, "/stats")
    # Without a roles object (older wiring): ADMIN_USER_IDS are editors, as before.
    legacy = Handlers(_Runner(), "secret", admin_ids=frozenset({ENV_ADMIN}))  # type: ignore[arg-type]
    assert (await command_from(legacy, ENV_ADMIN, "/stats"))["role"] == "editor"


async def open_admin(tmp_path: Path) -> Admin:
    url = f"sqlite:///{tmp_path / 'dalil.db'}"
    migrate(url)
    return Admin(Store(create_engine(url)), None, library())  # type: ignore[arg-type]


def admin_user(telegram_id: int) -> User:
    return User(f"u{telegram_id}", telegram_id, "fr", "fr", False, "fr", False)


async def test_a_viewer_may_see_the_figures_but_not_publish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = await open_admin(tmp_path)

    async def figures(lang: str) -> list[dict[str, str]]:  # the figures themselves: bot/gateway/stats.py
        return [{"text": "📊 figures", "lang": lang}]

    monkeypatch.setattr(admin, "stats_bodies", figures)
    viewer = admin_user(VIEWER)
    [stats] = await admin.handle(viewer, "stats", "fr", role="viewer", actor=f"tg:{VIEWER}")
    assert stats["text"] == "📊 figures"
    [refused] = await admin.handle(viewer, "publish", "fr", role="viewer", actor=f"tg:{VIEWER}")
    assert refused["text"] == library().text(
        "admin_role_needed", "fr", command="publish", needed="éditeur", role="lecteur"
    )
    assert admin._publishing is None  # nothing was started
    [entry] = await Audit(admin.store.engine).recent()
    assert (entry.actor, entry.action, entry.result) == (f"tg:{VIEWER}", "publish", "refused")
    # A command added later (e.g. broadcast) and not listed needs an editor.
    [later] = await admin.handle(viewer, "broadcast", "en", role="viewer")
    assert "editor" in later["text"]
    await admin.store.close()


async def test_the_gateway_records_a_change_of_the_roles_file(tmp_path: Path, roles_file: Path) -> None:
    admin = await open_admin(tmp_path)
    roles = Roles(roles_file, on_change=admin.role_file_changed)
    write_roles(roles_file, f"editors: [{EDITOR}, {VIEWER}]\n")
    assert roles.role_of(VIEWER) == "editor"
    for task in list(admin._recording):
        await task
    [entry] = await Audit(admin.store.engine).recent()
    assert (entry.actor, entry.action, entry.detail) == ("file", "role_change", f"roles file: viewer->editor {VIEWER}")
    await admin.store.close()


# -- dalil roles ----------------------------------------------------------------------------
def test_dalil_roles_edits_the_file_and_the_audit_log(
    tmp_path: Path, roles_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'dalil.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DALIL_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("ROLES_FILE", str(roles_file))
    monkeypatch.setenv("ADMIN_USER_IDS", str(ENV_ADMIN))
    monkeypatch.setattr("getpass.getuser", lambda: "amina")
    gateway = Roles(roles_file, {ENV_ADMIN})  # what a running gateway sees
    assert cli.main(["roles", "add", "viewer", str(OTHER), "--note", "Youssef, partner"]) == 0
    assert gateway.role_of(OTHER) == "viewer"
    assert cli.main(["roles", "add", "editor", str(VIEWER)]) == 0
    assert cli.main(["roles", "remove", str(EDITOR)]) == 0
    assert gateway.snapshot() == {VIEWER: "editor", OTHER: "viewer", ENV_ADMIN: "editor"}
    assert "# who is who" in roles_file.read_text() and "# Youssef, partner" in roles_file.read_text()
    assert cli.main(["roles", "add", "boss", "1"]) == 2
    capsys.readouterr()
    assert cli.main(["roles"]) == 0
    listing = capsys.readouterr().out
    assert f"viewer  {OTHER}" in listing and "# Youssef, partner" in listing and "ADMIN_USER_IDS" in listing
    entries = rows(url)
    assert [(e.actor, e.action, e.detail) for e in entries] == [
        ("cli:amina", "role_change", f"-editor {EDITOR}"),
        ("cli:amina", "role_change", f"viewer->editor {VIEWER}"),
        ("cli:amina", "role_change", f"+viewer {OTHER}"),
    ]
