"""`octogate backup PATH`: a consistent copy of the SQLite database while the gateway runs.

SQLite's online backup API copies pages under a read transaction, so writers (serve, its delivery process)
keep going and the copy is a snapshot of one moment, WAL included. PostgreSQL has its own tools (pg_dump,
base backups); copying it here would be a worse pg_dump, so the command says so instead.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from octogate.store.db import DatabaseURL

PAGES_PER_STEP = 1024  # pages copied between two releases of the read lock: writers are never held long


class BackupRefused(Exception):
    """The backup cannot be made; one line for the operator."""


def backup_database(database_url: str, target: str, *, overwrite: bool = False) -> int:
    """Copy the SQLite database to `target` (created 0600, written whole then renamed); returns its size."""
    url = DatabaseURL.parse(database_url)
    if url.dialect != "sqlite":
        raise BackupRefused(
            f"the database is PostgreSQL ({url.redacted()}): back it up with pg_dump "
            "(pg_dump -Fc -f octogate.dump DBNAME), restore with pg_restore"
        )
    source_path = Path(url.target)
    if not source_path.is_file():
        raise BackupRefused(f"no database at {str(source_path)[:200]} (see --data-dir, --database-url)")
    destination = Path(target).expanduser().resolve()
    if destination == source_path.resolve():
        raise BackupRefused("the backup cannot replace the database itself")
    if destination.exists() and not overwrite:
        raise BackupRefused(f"{str(destination)[:200]} exists (--overwrite to replace it)")
    if not destination.parent.is_dir():
        raise BackupRefused(f"no folder {str(destination.parent)[:200]}")
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))
    try:
        source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy, pages=PAGES_PER_STEP)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            copy.close()
            source.close()
        os.replace(partial, destination)
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise BackupRefused(f"backup failed: {str(error)[:200]}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return destination.stat().st_size
