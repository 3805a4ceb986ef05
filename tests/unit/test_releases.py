"""Staged content and releases: an import waits in var/staging, the live files change only when
staging is applied, and a release snapshot puts the content back as it was."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import yaml

from bot.ops.releases import Releases, Staging, differences, mirror
from tests.conftest import ROOT


def project(target: Path) -> Path:
    for folder in ("faq", "content", "events", "nlu_data", "spec"):
        shutil.copytree(ROOT / folder, target / folder)
    for name in ("config.yml", "domain.yml"):
        shutil.copy(ROOT / name, target / name)
    return target


def answer(root: Path, topic: str, lang: str = "fr") -> str:
    return str(yaml.safe_load((root / "faq" / f"{topic}.yml").read_text(encoding="utf-8"))["answer"][lang])


def test_mirror_copies_changes_and_removes_what_the_source_lacks(tmp_path: Path) -> None:
    source, target = tmp_path / "a", tmp_path / "b"
    (source / "sub").mkdir(parents=True)
    target.mkdir()
    (source / "same.yml").write_text("x")
    (target / "same.yml").write_text("x")
    (source / "sub" / "new.yml").write_text("new")
    (target / "gone.yml").write_text("old")
    assert mirror(source, target) == ["gone.yml", "sub/new.yml"]
    assert sorted(p.name for p in target.rglob("*.yml")) == ["new.yml", "same.yml"]
    assert differences(tmp_path / "a", tmp_path / "b") == []  # not CONTENT folders: nothing compared
    assert mirror(source, target) == []


def test_staging_holds_changes_until_applied(tmp_path: Path) -> None:
    live = project(tmp_path / "live")
    staging = Staging(live, tmp_path / "var")
    assert staging.effective() == live and staging.changes() == []
    root = staging.prepare()
    assert staging.effective() == root
    assert (root / "models").is_symlink() or not (live / "models").exists()
    path = root / "faq" / "hiv_testing.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("ALCS", "ALCS (staged)", 1), encoding="utf-8")
    (root / "events" / "events.yml").unlink()
    assert staging.changes() == ["events/events.yml", "faq/hiv_testing.yml"]
    assert "(staged)" not in answer(live, "hiv_testing")  # users still get the live answer
    changed = staging.apply()
    assert "faq/hiv_testing.yml" in changed and "events/events.yml" in changed
    assert "(staged)" in (live / "faq" / "hiv_testing.yml").read_text(encoding="utf-8")
    assert not (live / "events" / "events.yml").exists()
    assert not staging.exists() and staging.changes() == []


def test_a_release_snapshot_restores_the_content(tmp_path: Path) -> None:
    live = project(tmp_path / "live")
    releases = Releases(live, tmp_path / "var")
    model = tmp_path / "models" / "dalil-x.tar.gz"
    before = releases.snapshot(model, "before")
    original = answer(live, "work")
    path = live / "faq" / "work.yml"
    path.write_text(path.read_text(encoding="utf-8").replace(original[:20], "Changed!", 1), encoding="utf-8")
    (live / "faq" / "extra.yml").write_text("id: extra\n")
    assert releases.restore(before) == ["faq/extra.yml", "faq/work.yml"]
    assert answer(live, "work") == original and not (live / "faq" / "extra.yml").exists()
    assert Releases.info(before)["model"] == str(model)


def test_import_stages_and_export_reads_what_is_staged(tmp_path: Path) -> None:
    """`dalil faq import --yes` writes var/staging, never the live files; a new export carries the
    staged change; `staged` lists it and `discard` drops it."""
    live = project(tmp_path / "live")
    env = dict(os.environ, DALIL_HOME=str(live), DALIL_VAR_DIR=str(tmp_path / "var"))
    dalil = [str(Path(sys.executable).with_name("dalil"))]

    def run(*args: str) -> str:
        proc = subprocess.run(
            [*dalil, *args], env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    book = tmp_path / "faq.xlsx"
    run("faq", "export", str(book))
    workbook = openpyxl.load_workbook(book)
    ws = workbook["FAQ"]
    header = [c.value for c in ws[1]]
    row = next(
        r
        for r in range(2, ws.max_row + 1)
        if ws.cell(r, header.index("topic") + 1).value == "hiv_testing"
        and ws.cell(r, header.index("language") + 1).value == "fr"
    )
    ws.cell(row, header.index("answer") + 1).value = "Réponse en attente de publication : test VIH gratuit."
    workbook.save(book)
    live_before = (live / "faq" / "hiv_testing.yml").read_bytes()
    out = run("faq", "import", str(book), "--yes")
    assert "staged faq/hiv_testing.yml" in out and "Nothing has changed for users yet" in out
    assert (live / "faq" / "hiv_testing.yml").read_bytes() == live_before
    assert answer(tmp_path / "var" / "staging", "hiv_testing").startswith("Réponse en attente")
    assert "staged: faq/hiv_testing.yml" in run("faq", "staged")
    again = tmp_path / "again.xlsx"
    assert "not yet published" in run("faq", "export", str(again))
    ws = openpyxl.load_workbook(again)["FAQ"]
    assert "Réponse en attente de publication : test VIH gratuit." in [
        c.value for c in ws[openpyxl.utils.get_column_letter(header.index("answer") + 1)]
    ]
    assert "discarded 1 staged file(s)" in run("faq", "discard")
    assert "nothing is staged" in run("faq", "staged")
