"""What an import found, and writing it: the report, readable diffs, export stamps, atomic writes.

An `ImportReport` gathers the problems of an import, the changes item by item and the files to
rewrite; it writes them only when asked and only when nothing blocks, each atomically (temporary
file, then rename). Export stamps (a fingerprint of each item as exported) let an import tell an
edit in the sheet from an edit made in the project since the export. Used by the FAQ and contacts
import (`bot.authoring.faq`, `bot.authoring.contacts`) and the events import (`bot.authoring.events`).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.authoring.reading import Table, error, warning
from bot.authoring.validate import Problem

log = logging.getLogger(__name__)

Decision = Literal["same", "take", "keep", "conflict", "gone"]


# -- what an import found --------------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    """One changed item: which file, what (e.g. "topic work"), and the lines of its diff."""

    file: str
    what: str
    lines: tuple[str, ...]


@dataclass
class ImportReport:
    """The result of reading a spreadsheet: problems, a readable diff, the files to (re)write."""

    source: Path
    root: Path
    problems: list[Problem] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    writes: dict[Path, str] = field(default_factory=dict)
    applied: bool = False
    _before: dict[Path, bytes | None] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        """No error: the file can be applied (warnings do not block)."""
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]

    @property
    def changed_files(self) -> list[Path]:
        """Files the import rewrites (or rewrote, once applied)."""
        return sorted(self.writes)

    def diff_text(self) -> str:
        """The changes, per item and field; "no changes" when there are none."""
        if not self.changes:
            return "no changes"
        blocks = []
        for change in self.changes:
            blocks.append("\n".join([f"{change.what} ({change.file}):", *("  " + line for line in change.lines)]))
        return "\n\n".join(blocks)

    def problems_text(self) -> str:
        """Errors, then warnings, one per line."""
        return "\n".join(str(p) for p in [*self.errors, *self.warnings])

    def summary(self) -> str:
        """What a command prints: problems, the diff, and what was (or would be) written."""
        parts = []
        if self.problems:
            parts.append(self.problems_text())
        parts.append(self.diff_text())
        if not self.ok:
            parts.append(f"{len(self.errors)} error(s): nothing was written. Fix them in the file and import it again.")
        elif self.applied:
            parts.append("written: " + ", ".join(self._shown(p) for p in self.changed_files))
        elif self.writes:
            parts.append(
                "would write: "
                + ", ".join(self._shown(p) for p in self.changed_files)
                + " (import again with apply to write them)"
            )
        return "\n\n".join(parts)

    def apply(self) -> list[Path]:
        """Write the changed files atomically; nothing when there are errors or a file moved meanwhile."""
        if not self.ok or self.applied or not self.writes:
            return []
        moved = [p for p, before in self._before.items() if _read_or_none(p) != before]
        if moved:
            self.problems.append(
                error(
                    ", ".join(self._shown(p) for p in moved),
                    "changed on disk while the import was running; nothing was written",
                    "Import the file again.",
                )
            )
            return []
        write_atomically(self.writes)
        self.applied = True
        log.info("import of %s wrote %d file(s)", self.source.name, len(self.writes))
        return self.changed_files

    def stage(self, path: Path, text: str) -> None:
        """Plan to write `text` to `path` (remembering what the file holds now)."""
        self._before[path] = _read_or_none(path)
        self.writes[path] = text

    def _shown(self, path: Path) -> str:
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def write_atomically(files: Mapping[Path, str]) -> None:
    """Write each file to a temporary file beside it, then rename them all into place."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((tmp, path))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _path in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


# -- diffs -----------------------------------------------------------------------------------------
def show(value: Any) -> str:
    if value in (None, "", (), []):
        return "(empty)"
    return f'"{value}"' if isinstance(value, str) else str(value)


def text_diff(label: str, old: str, new: str) -> list[str]:
    """A short "old → new", or unified-diff lines for long or multi-line texts."""
    if old == new:
        return []
    if "\n" in old or "\n" in new or max(len(old), len(new)) > 80:
        lines = [f"{label}:"]
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1):
            if not line.startswith(("---", "+++")):
                lines.append("  " + line)
        return lines
    return [f"{label}: {show(old)} → {show(new)}"]


def list_diff(label: str, old: Sequence[str], new: Sequence[str]) -> list[str]:
    """Added and removed items (and whether only the order changed)."""
    if list(old) == list(new):
        return []
    lines = [f"{label}: + {show(x)}" for x in new if x not in old]
    lines += [f"{label}: - {show(x)}" for x in old if x not in new]
    return lines or [f"{label}: order changed"]


def map_diff(label: str, old: Mapping[str, str], new: Mapping[str, str], order: Sequence[str] = ()) -> list[str]:
    keys = [*order, *sorted((set(old) | set(new)) - set(order))]
    out: list[str] = []
    for key in keys:
        out += text_diff(f"{label} › {key}", old.get(key, ""), new.get(key, ""))
    return out


# -- export stamps: do not undo edits made in the project since the export ---------------------------
def fingerprint(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def read_stamps(table: Table | None) -> dict[tuple[str, str], str]:
    if table is None:
        return {}
    return {(r.text("kind"), r.text("id")): r.text("fingerprint") for r in table.rows}


def decide(mine: str, current: str | None, exported: str | None) -> Decision:
    """Three-way: the sheet's item (mine), the project's (current), and the item as exported."""
    if mine == current:
        return "same"
    if exported is None or exported == current:
        return "take"
    if current is None:
        return "gone" if mine == exported else "conflict"
    return "keep" if mine == exported else "conflict"


def decision_problem(decision: Decision, where: str, what: str, file: str) -> Problem | None:
    if decision == "keep":
        return warning(
            where,
            f"{what} was changed in {file} since this file was exported and not in the sheet; "
            "the newer version in the project was kept",
            "Nothing to do.",
        )
    if decision == "gone":
        return warning(
            where,
            f"{what} was removed from {file} since this file was exported; it was not re-created",
            "Nothing to do, unless you want it back: then edit its row in a fresh export.",
        )
    if decision == "conflict":
        return error(
            where,
            f"{what} was changed both in this sheet and in {file} since the export, "
            "so importing would undo the other change",
            "Export a fresh file, redo your edit of this item there, and import that file.",
        )
    return None
