"""`dalil audit`, `dalil roles`, `dalil hours`: the admins' own records and settings (issue #20).

dalil audit [--since YYYY-MM-DD] [--limit N] [--full]   what admins did, newest first (Morocco time)
dalil roles                                  who is an editor or a viewer (the roles file, ADMIN_USER_IDS)
dalil roles add editor|viewer ID [--note T]  give a Telegram id a role (audited; no restart needed)
dalil roles remove ID                        take it away (audited)
dalil hours [--days N]                       the next opening and the closed days ahead (holidays, closures)

Every command that changes something (`dalil faq import|publish|rollback`, `dalil roles add|remove`,
and the same from Telegram) writes a row of the audit log with `record_cli`: the actor is the local
user (`cli:<login>`), or the Telegram admin the gateway names with `--actor tg:<id>`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core.settings import Settings
    from bot.storage.audit import AuditEntry

LOCAL_TZ = "Africa/Casablanca"
DETAIL_WIDTH = 70


def actor_of(args: argparse.Namespace | None = None) -> str:
    """Who acts: `--actor` (the gateway passes tg:<id>), else the login of this terminal."""
    given = str(getattr(args, "actor", None) or "").strip()
    if given:
        return given[:64]
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (some containers)
        login = "unknown"
    return f"cli:{login}"


def _settings() -> Settings:
    from bot.core.settings import Settings

    return Settings.from_env()


async def _record(database_url: str, actor: str, action: str, detail: str, result: str) -> None:
    from bot.storage.audit import Audit
    from bot.storage.db import create_engine

    engine = create_engine(database_url)
    try:
        await Audit(engine).record(actor, action, detail, result)
    finally:
        await engine.dispose()


def record(settings: Settings, actor: str, action: str, detail: str, result: str = "ok") -> bool:
    """Write one audit row (creating the tables first if this database has none); False, with a
    line on stderr, if it could not be written: the action itself is never undone for that."""
    import sqlalchemy.exc

    from bot.storage.db import migrate

    for attempt in (1, 2):
        try:
            asyncio.run(_record(settings.database_url, actor, action, detail, result))
            return True
        except sqlalchemy.exc.SQLAlchemyError as exc:
            if attempt == 1 and "dalil_audit" in str(exc):  # no table yet: `dalil db upgrade`, then again
                migrate(settings.database_url)
                continue
            print(f"warning: the audit log was not written ({type(exc).__name__})", file=sys.stderr)
    return False


def record_cli(args: argparse.Namespace | None, action: str, detail: str, result: str = "ok") -> bool:
    """`record` for a command of `dalil` (cli.py): the actor from the arguments or the login."""
    try:
        settings = _settings()
    except ValueError as exc:  # SettingsError: the command itself reports it
        print(f"warning: the audit log was not written ({exc})", file=sys.stderr)
        return False
    return record(settings, actor_of(args), action, detail, result)


# -- dalil audit --------------------------------------------------------------------------
def _local(moment: dt.datetime) -> str:
    from zoneinfo import ZoneInfo

    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
    return aware.astimezone(ZoneInfo(LOCAL_TZ)).strftime("%Y-%m-%d %H:%M")


def audit_table(entries: list[AuditEntry], *, full: bool = False) -> str:
    """The audit rows as a text table: time (Morocco), actor, action, result, detail."""
    header = ("time (Morocco)", "actor", "action", "result", "detail")
    rows = []
    for entry in entries:
        detail = " ".join(entry.detail.split())
        if not full and len(detail) > DETAIL_WIDTH:
            detail = detail[: DETAIL_WIDTH - 1] + "…"
        rows.append((_local(entry.at), entry.actor, entry.action, entry.result, detail))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = []
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4])
    return "\n".join(line.rstrip() for line in lines)


def cmd_audit(args: argparse.Namespace) -> int:
    from bot.storage.audit import Audit
    from bot.storage.db import create_engine

    since = None
    if args.since:
        try:
            day = dt.date.fromisoformat(args.since)
        except ValueError:
            print("--since: write the date as YYYY-MM-DD", file=sys.stderr)
            return 2
        since = _utc_midnight(day)
    settings = _settings()

    async def fetch() -> list[AuditEntry]:
        engine = create_engine(settings.database_url)
        try:
            return await Audit(engine).recent(limit=args.limit, since=since)
        finally:
            await engine.dispose()

    import sqlalchemy.exc

    try:
        entries = asyncio.run(fetch())
    except sqlalchemy.exc.SQLAlchemyError as exc:
        print(f"cannot read the audit log ({type(exc).__name__}); run `dalil db upgrade` first?", file=sys.stderr)
        return 1
    if not entries:
        print("no entries" + (f" since {args.since}" if args.since else ""))
        return 0
    print(audit_table(entries, full=args.full))
    return 0


def _utc_midnight(day: dt.date) -> dt.datetime:
    """The start of a Moroccan day, as the naive UTC time the table stores."""
    from zoneinfo import ZoneInfo

    local = dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(LOCAL_TZ))
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


# -- dalil roles --------------------------------------------------------------------------
def cmd_roles(args: argparse.Namespace) -> int:
    from bot.core import roles as roles_mod

    settings = _settings()
    path = settings.roles_file
    try:
        current = roles_mod.read(path)
    except roles_mod.RolesError as exc:
        print(f"{path}: {exc}. Fix the file first (the gateway keeps its last good version).", file=sys.stderr)
        return 1
    if args.action in (None, "list"):
        return _list_roles(path, current, settings.admin_user_ids)
    if not args.id or not args.id.isdigit():
        print("give a Telegram id (digits), e.g. dalil roles add editor 123456789", file=sys.stderr)
        return 2
    telegram_id = int(args.id)
    wanted = dict(current)
    if args.action == "add":
        wanted[telegram_id] = args.role
    elif telegram_id in wanted:
        del wanted[telegram_id]
    changes = roles_mod.diff(current, wanted)
    if telegram_id in settings.admin_user_ids:
        print(f"note: {telegram_id} is in ADMIN_USER_IDS, so an editor whatever this file says")
    if not changes:
        print("nothing to change")
        return 0
    previous = path.read_text(encoding="utf-8") if path.exists() else None
    if args.note and args.action == "add":
        previous = (previous or "") + f"\n  - {telegram_id}  # {args.note}\n"  # picked up as the id's comment
    roles_mod.write(path, wanted, previous_text=previous)
    detail = ", ".join(changes)
    record(settings, actor_of(args), "role_change", detail, "ok")
    print(f"{path}: {detail} (the gateway applies it at the next admin command)")
    return 0


def _list_roles(path: Path, current: Mapping[int, str], env_editors: frozenset[int]) -> int:
    notes = _notes(path)
    if not current and not env_editors:
        print(f"no admin: {path} is empty or absent and ADMIN_USER_IDS is not set")
        return 0
    for telegram_id in sorted({*current, *env_editors}):
        role = "editor" if telegram_id in env_editors else current[telegram_id]
        where = "ADMIN_USER_IDS" if telegram_id in env_editors else "roles file"
        note = f"  # {notes[telegram_id]}" if telegram_id in notes else ""
        print(f"{role:<7} {telegram_id:<12} ({where}){note}")
    return 0


def _notes(path: Path) -> dict[int, str]:
    from bot.core.roles import comments

    try:
        return comments(path.read_text(encoding="utf-8"))
    except OSError:
        return {}


# -- dalil hours --------------------------------------------------------------------------
def cmd_hours(args: argparse.Namespace) -> int:
    from bot.core.content import Library, load_yaml
    from bot.core.hours import OfficeHours, problems

    settings = _settings()
    raw = (load_yaml(Library(settings.root).content_dir / "hotline.yml") or {}).get("office_hours") or {}
    for problem in problems(raw):
        print(f"ERROR: content/hotline.yml, {problem}")
    hours = OfficeHours.from_dict(raw)
    now = dt.datetime.now(dt.timezone.utc)
    state = "open now" if hours.is_open(now) else "closed now"
    opening = hours.opening_after(now)
    print(f"office hours {hours.describe()} ({hours.timezone}); {state}; next opening {opening.at:%a %Y-%m-%d %H:%M}")
    closed = hours.closed_days(now, days=args.days)
    print(f"closed working days in the next {args.days} days:" if closed else f"no closed day in the next {args.days}")
    for day, why in closed:
        print(f"  {day:%a %Y-%m-%d}  {why}")
    if any("(estimated)" in why for _, why in closed):
        print("(estimated): the date of a religious holiday follows the moon; correct it in content/hotline.yml")
        print("with closures (the real day) and open_days (the estimated day, if the desk works).")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `audit`, `roles` and `hours` to `dalil`'s subcommands, and `--actor` to `dalil faq`."""
    faq = sub.choices.get("faq")
    if faq is not None:
        faq.add_argument("--actor", help="publish/rollback/import: who asked, for the audit log (default cli:<login>)")
    audit = sub.add_parser("audit", help="what admins did: import, publish, rollback, broadcast, role change")
    audit.add_argument("--since", help="from this day on (YYYY-MM-DD, Morocco time)")
    audit.add_argument("--limit", type=int, default=50, help="at most this many rows (default 50)")
    audit.add_argument("--full", action="store_true", help="show each detail whole")
    audit.set_defaults(func=cmd_audit)
    roles = sub.add_parser(
        "roles",
        help="admin roles: list, add editor|viewer ID, remove ID",
        description="Viewers may read the figures (/stats, /unanswered); editors may also import, publish, "
        "roll back and broadcast. The roles file (ROLES_FILE, default var/roles.yml) is read again by the gateway "
        "when it changes; ADMIN_USER_IDS are editors too. See docs/roles.md.",
    )
    roles.add_argument("action", nargs="?", choices=["list", "add", "remove"], default="list")
    roles.add_argument("role_or_id", nargs="?", help="add: editor or viewer; remove: the Telegram id")
    roles.add_argument("id", nargs="?", help="add: the Telegram id")
    roles.add_argument("--note", help="add: who it is, kept as a comment in the file")
    roles.set_defaults(func=_roles_entry)
    hours = sub.add_parser("hours", help="office hours: the next opening, holidays and closures ahead")
    hours.add_argument("--days", type=int, default=60, help="how far ahead to list closed days (default 60)")
    hours.set_defaults(func=cmd_hours)


def _roles_entry(args: argparse.Namespace) -> int:
    """`roles add ROLE ID` / `roles remove ID`: the positional arguments sorted out."""
    args.role = None
    if args.action == "add":
        if args.role_or_id not in ("editor", "viewer"):
            print("usage: dalil roles add editor|viewer TELEGRAM_ID", file=sys.stderr)
            return 2
        args.role = args.role_or_id
    elif args.action == "remove":
        args.id = args.role_or_id
    return cmd_roles(args)
