"""Staged content and releases: what admins import waits in staging until `publish`, and a release
(content + model) is what `rollback` returns to.

- **Staging** (`var/staging/`): a working copy of the content admins edit (`faq/`, `content/`,
  `events/`) and of the training data (`nlu_data/`, regenerated from the staged FAQ), with links
  to what is only read (`config.yml`, `domain.yml`, `spec/`, `models/`, Rasa's training cache).
  `dalil faq import --apply` and `dalil events import --apply` write there; users keep getting
  the live content until `publish`.
- **Releases** (`var/releases/<stamp>/`): a snapshot of the live content taken just before and just
  after a publish, with the model that went with it (`release.json`). `rollback` copies the
  previous snapshot back and loads its model, so answers and model go back together.
"""

from __future__ import annotations

import datetime as dt
import filecmp
import json
import os
import shutil
from pathlib import Path
from typing import Any

CONTENT = ("faq", "content", "events")  # what admins edit: copied into staging and releases
TRAINING = ("nlu_data",)  # copied into staging: regenerated there from the staged FAQ
LINKED = ("config.yml", "domain.yml", "spec", "models", ".rasa")  # read (or shared) as they are
_IGNORED = {"__pycache__", ".DS_Store"}


def _files(folder: Path) -> dict[str, Path]:
    """Relative path -> file, for every file under `folder` (none when it does not exist)."""
    if not folder.is_dir():
        return {}
    return {
        str(path.relative_to(folder)): path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not _IGNORED.intersection(path.parts)
    }


def mirror(source: Path, target: Path) -> list[str]:
    """Make `target` hold exactly the files of `source` (each file replaced atomically); the
    relative paths that changed."""
    theirs, ours = _files(source), _files(target)
    changed: list[str] = []
    for name, path in theirs.items():
        mine = target / name
        if name in ours and filecmp.cmp(path, mine, shallow=False):
            continue
        mine.parent.mkdir(parents=True, exist_ok=True)
        tmp = mine.with_name(f".{mine.name}.tmp")
        shutil.copy2(path, tmp)
        tmp.replace(mine)
        changed.append(name)
    for name, path in ours.items():
        if name not in theirs:
            path.unlink()
            changed.append(name)
    return sorted(changed)


def differences(a: Path, b: Path) -> list[str]:
    """Files (relative to the two roots) that differ between two trees of CONTENT folders."""
    found: list[str] = []
    for folder in CONTENT:
        left, right = _files(a / folder), _files(b / folder)
        for name in sorted(set(left) | set(right)):
            if name not in left or name not in right or not filecmp.cmp(left[name], right[name], shallow=False):
                found.append(f"{folder}/{name}")
    return sorted(found)


class Staging:
    """var/staging: the content that the next `publish` puts live."""

    def __init__(self, live: Path, var_dir: Path) -> None:
        self.live = live
        self.root = var_dir / "staging"

    def exists(self) -> bool:
        return (self.root / "faq").is_dir()

    def effective(self) -> Path:
        """Where the next publish reads from: staging if something is staged, else the live files."""
        return self.root if self.exists() else self.live

    def prepare(self) -> Path:
        """Staging, created from the live content if there is none yet."""
        if self.exists():
            return self.root
        partial = self.root.with_name("staging.new")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for name in (*CONTENT, *TRAINING):
            if (self.live / name).is_dir():
                shutil.copytree(self.live / name, partial / name, ignore=shutil.ignore_patterns(*_IGNORED))
        for name in LINKED:
            if (self.live / name).exists():
                os.symlink((self.live / name).resolve(), partial / name)
        partial.replace(self.root)
        return self.root

    def changes(self) -> list[str]:
        """Staged files that differ from the live ones (empty when nothing is staged)."""
        return differences(self.root, self.live) if self.exists() else []

    def apply(self) -> list[str]:
        """Copy the staged content and training data onto the live files; staging is then removed."""
        changed: list[str] = []
        for name in (*CONTENT, *TRAINING):
            changed += [f"{name}/{path}" for path in mirror(self.root / name, self.live / name)]
        self.discard()
        return changed

    def discard(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class Releases:
    """var/releases/<stamp>/: snapshots of the live content, each with the model it went live with."""

    def __init__(self, live: Path, var_dir: Path) -> None:
        self.live = live
        self.folder = var_dir / "releases"

    def snapshot(self, model: Path | None, note: str) -> Path:
        """Copy the live content into a new release folder that names `model`."""
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
        target = self.folder / stamp
        partial = self.folder / f".{stamp}.new"
        partial.mkdir(parents=True)
        for name in (*CONTENT, *TRAINING):
            if (self.live / name).is_dir():
                shutil.copytree(self.live / name, partial / name, ignore=shutil.ignore_patterns(*_IGNORED))
        info = {"model": str(model) if model else None, "note": note, "at": stamp}
        (partial / "release.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        partial.replace(target)
        return target

    @staticmethod
    def info(release: Path) -> dict[str, Any]:
        data = json.loads((release / "release.json").read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}

    def restore(self, release: Path) -> list[str]:
        """Put a release's content back live; the files that changed."""
        changed: list[str] = []
        for name in (*CONTENT, *TRAINING):
            if (release / name).is_dir():
                changed += [f"{name}/{path}" for path in mirror(release / name, self.live / name)]
        return changed

    def prune(self, keep: set[Path], most: int = 10) -> None:
        """Keep the newest `most` releases and those in `keep` (the current and previous one)."""
        releases = sorted(p for p in self.folder.glob("2*") if p.is_dir())
        for old in releases[:-most]:
            if old not in keep:
                shutil.rmtree(old, ignore_errors=True)
