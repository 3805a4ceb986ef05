"""The migrations build exactly the tables the code describes (bot/storage/schema.py)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.storage.db import migrate
from bot.storage.schema import metadata


def test_migrated_database_matches_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate(url)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    # alembic's own bookkeeping table is not ours
    assert [d for d in diff if not (d[0] == "remove_table" and d[1].name.endswith("alembic_version"))] == []


async def test_the_audit_log_keeps_who_did_what_newest_first(tmp_path: Path) -> None:
    from bot.storage.audit import Audit
    from bot.storage.db import create_engine

    url = f"sqlite:///{tmp_path / 'a.db'}"
    migrate(url)
    engine = create_engine(url)
    audit = Audit(engine)
    await audit.record("cli:amina", "import", "faq.xlsx: 2 topics changed")
    await audit.record("tg:42", "publish", "model x.tar.gz", "refused")
    entries = await audit.recent()
    await engine.dispose()
    assert [(e.actor, e.action, e.result) for e in entries] == [
        ("tg:42", "publish", "refused"),
        ("cli:amina", "import", "ok"),
    ]
    assert entries[1].detail == "faq.xlsx: 2 topics changed"
