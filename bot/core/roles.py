"""Admin roles: who may see the figures (viewers) and who may change things (editors).

The roles file (ROLES_FILE, default var/roles.yml: deployment data, not in git) is YAML that
admins edit by hand or with `dalil roles add|remove`:

    # Telegram ids of the admins; a comment after an id says who it is.
    editors:
      - 123456789   # Amina, country office
    viewers:
      - 987654321   # Youssef, partner NGO

It is read again when it changes (one `stat` per admin command: no restart). ADMIN_USER_IDS keeps
working: those ids are editors whatever the file says. A file that cannot be read or is malformed
never locks admins out silently: the last good version stays in force and a warning is logged
(the file and what is wrong, never an id).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml

log = logging.getLogger(__name__)

Role = Literal["viewer", "editor"]
ROLES: tuple[Role, ...] = ("viewer", "editor")  # lowest first
RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES, 1)}
SECTIONS: dict[str, Role] = {"viewers": "viewer", "editors": "editor"}
RACY_SECONDS = 2.0  # a file changed this recently is read again even if its stat looks the same

HEADER = """\
# Dalil admin roles (the ROLES_FILE setting; default var/roles.yml). Read again on the next admin
# command after a change: no restart. Telegram ids, one per line; a comment may say who it is.
# viewers: /stats and /unanswered. editors: also /publish, /rollback, /broadcast.
# ADMIN_USER_IDS (environment) are editors too. `dalil roles add editor ID` / `dalil roles remove ID`.
"""


class RolesError(ValueError):
    """The roles file is malformed; the message says where (never which ids)."""


def allows(role: str | None, needed: str) -> bool:
    """Whether `role` is at least `needed` (an editor may do what a viewer may)."""
    return role is not None and RANK.get(role, 0) >= RANK.get(needed, len(RANK) + 1)


def parse(raw: Any) -> dict[int, Role]:
    """The roles a YAML document gives (an empty file: none). An id in both lists is an editor."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise RolesError("the file must have the sections editors: and viewers:")
    unknown = sorted(str(key) for key in raw if key not in SECTIONS)
    if unknown:
        raise RolesError(f"unknown section {unknown[0]!r}; use editors: and viewers:")
    out: dict[int, Role] = {}
    for section in ("viewers", "editors"):  # editors last: the higher role wins
        entries = raw.get(section) or []
        if not isinstance(entries, list):
            raise RolesError(f"{section}: must be a list of Telegram ids (one '- 123456789' per line)")
        for index, entry in enumerate(entries, 1):
            if isinstance(entry, bool) or not isinstance(entry, (int, str)) or not str(entry).strip().isdigit():
                raise RolesError(f"{section}, entry {index}: not a Telegram id (digits only)")
            out[int(entry)] = SECTIONS[section]
    return out


def read(path: Path) -> dict[int, Role]:
    """The roles in a file; an absent file gives none. Raises RolesError when malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise RolesError(f"cannot read it ({type(exc).__name__})") from exc
    try:
        return parse(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise RolesError(f"not valid YAML{where}") from exc


def diff(before: Mapping[int, str], after: Mapping[int, str]) -> list[str]:
    """What changed, as short lines: "+editor 123", "-viewer 456", "viewer->editor 789"."""
    lines = []
    for telegram_id in sorted({*before, *after}):
        old, new = before.get(telegram_id), after.get(telegram_id)
        if old == new:
            continue
        if old is None:
            lines.append(f"+{new} {telegram_id}")
        elif new is None:
            lines.append(f"-{old} {telegram_id}")
        else:
            lines.append(f"{old}->{new} {telegram_id}")
    return lines


OnChange = Callable[[str, str], None]  # (detail, result): "ok" for a change, "error" for a refused file


class Roles:
    """The roles in force for one process: the file (re-read when it changes) and ADMIN_USER_IDS."""

    def __init__(
        self,
        path: Path,
        env_editors: Iterable[int] = (),
        *,
        on_change: OnChange | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.env_editors = frozenset(env_editors)
        self.on_change = on_change
        self.clock = clock
        self._file: dict[int, Role] = {}
        self._signature: tuple[int, int, int] | None = None
        self._digest = ""
        self._broken = ""
        self.refresh(initial=True)

    def role_of(self, telegram_id: int) -> Role | None:
        """The sender's role now (the file is checked first: a cheap stat)."""
        self.refresh()
        if telegram_id in self.env_editors:
            return "editor"
        return self._file.get(telegram_id)

    def snapshot(self) -> dict[int, Role]:
        """Every id with a role (the file's, then ADMIN_USER_IDS as editors)."""
        self.refresh()
        return {**self._file, **{telegram_id: "editor" for telegram_id in self.env_editors}}

    def refresh(self, *, initial: bool = False) -> bool:
        """Read the file again if it changed; True if the roles changed."""
        try:
            stat = os.stat(self.path)
            signature: tuple[int, int, int] | None = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            recent = self.clock() - stat.st_mtime < RACY_SECONDS
        except FileNotFoundError:
            signature, recent = None, False
        except OSError as exc:
            return self._refuse(f"cannot read it ({type(exc).__name__})")
        if signature == self._signature and not recent and not initial:
            return False
        self._signature = signature
        try:
            text = self.path.read_bytes() if signature is not None else b""
        except OSError as exc:
            return self._refuse(f"cannot read it ({type(exc).__name__})")
        digest = hashlib.sha256(text).hexdigest()
        if digest == self._digest and not initial:
            return False  # touched or rewritten the same, or a racy check: nothing new
        self._digest = digest
        try:
            roles = read(self.path) if signature is not None else {}
        except RolesError as exc:
            return self._refuse(str(exc))
        self._broken = ""
        changes = diff(self._file, roles)
        self._file = roles
        if initial:
            log.info("roles: %d editor(s), %d viewer(s) in %s", *_counts(roles), self.path.name)
            return False
        if changes:
            log.info("roles file changed: %d change(s)", len(changes))  # ids only in the audit log
            self._tell("roles file: " + ", ".join(changes), "ok")
        return bool(changes)

    def _refuse(self, reason: str) -> bool:
        if reason != self._broken:  # once per new problem, not on every command
            self._broken = reason
            log.warning("roles file %s: %s; the last good version stays in force", self.path.name, reason)
            self._tell(f"roles file refused: {reason}; last good version kept", "error")
        return False

    def _tell(self, detail: str, result: str) -> None:
        if self.on_change is not None:
            try:
                self.on_change(detail, result)
            except Exception as exc:  # the audit is a record: it never stops an admin command
                log.warning("roles change not recorded: %s", type(exc).__name__)


def _counts(roles: Mapping[int, str]) -> tuple[int, int]:
    editors = sum(1 for role in roles.values() if role == "editor")
    return editors, len(roles) - editors


def comments(text: str) -> dict[int, str]:
    """The comment after each id in a roles file ("- 123  # Amina" -> {123: "Amina"})."""
    notes: dict[int, str] = {}
    for line in text.splitlines():
        body, _, note = line.partition("#")
        token = body.strip().lstrip("-").strip()
        if token.isdigit() and note.strip():
            notes[int(token)] = note.strip()
    return notes


def write(path: Path, roles: Mapping[int, str], *, previous_text: str | None = None) -> None:
    """Write the roles file atomically (a temporary file renamed over it): the header comment and
    one id per line, keeping the comments of `previous_text` at the top and after each id."""
    notes = comments(previous_text or "")
    kept = [line for line in (previous_text or "").splitlines()]
    header = [line for line in kept[: next((n for n, x in enumerate(kept) if not x.startswith("#")), len(kept))]]
    lines = header or [HEADER.rstrip("\n")]
    for section, role in (("editors", "editor"), ("viewers", "viewer")):
        ids = sorted(telegram_id for telegram_id, r in roles.items() if r == role)
        lines.append(f"{section}:" if ids else f"{section}: []")
        lines += [f"  - {i}" + (f"  # {notes[i]}" if i in notes else "") for i in ids]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(temporary, path)
