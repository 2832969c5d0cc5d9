"""Is the configured database there, reachable and migrated? Answered in one sentence.

Commands that read or run on the database ask first, so that a typo in ``database_url``, a
PostgreSQL database nobody created or a schema nobody migrated is one sentence naming the fix,
not a traceback, and never a new empty SQLite file where the service's was meant.
"""

from __future__ import annotations

import re
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from oncall.db.session import alembic_config, make_engine

UPGRADE = "run `oncall db upgrade`"


class DatabaseNotReady(Exception):
    """The database cannot be used as it is; the message says why and what to do."""


def redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (None for other databases and in-memory ones)."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):
        return None if "mode=memory" in database else Path(database[5:].split("?")[0])
    return Path(database)


def connection_problem(error: BaseException) -> str:
    """The driver's reason for a failed connection or statement, in one line."""
    original = error.orig if isinstance(error, DBAPIError) else error
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    first = lines[0] if lines else type(original).__name__
    # psycopg: 'connection failed: connection to server at "h", port 5432 failed: FATAL:  ...'
    reason = first.rsplit(" failed: ", 1)[-1]
    return re.sub(r"^(FATAL|ERROR):\s+", "", reason)


def unusable(url: str, error: BaseException, doing: str = "use") -> DatabaseNotReady:
    """The sentence for a database that refused a connection, with the fix when we know it."""
    reason = connection_problem(error)
    missing = re.match(r'database "([^"]+)" does not exist', reason)
    fix = f": create it (`createdb {missing.group(1)}`), then {UPGRADE}" if missing else ""
    return DatabaseNotReady(f"cannot {doing} the database {redacted(url)}: {reason}{fix}")


def missing_tables(error: BaseException) -> bool:
    """True when ``error`` says a table does not exist (SQLite or PostgreSQL)."""
    reason = connection_problem(error)
    return reason.startswith("no such table") or bool(
        re.match(r'relation "[^"]+" does not exist', reason)
    )


def _revisions(url: str) -> tuple[set[str], set[str]]:
    """The migrations this code knows: (heads, all)."""
    script = ScriptDirectory.from_config(alembic_config(url))
    return set(script.get_heads()), {r.revision for r in script.walk_revisions()}


def require_ready(url: str, engine: Engine | None = None) -> None:
    """Raise :class:`DatabaseNotReady` unless ``url`` is reachable and fully migrated."""
    where = redacted(url)
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise DatabaseNotReady(f"no database at {path}: {UPGRADE} to create it")
    own = engine is None
    engine = engine or make_engine(url)
    try:
        with engine.connect() as connection:
            try:
                revision = connection.execute(
                    text("SELECT version_num FROM alembic_version")
                ).scalar()
            except SQLAlchemyError as exc:
                if not missing_tables(exc):
                    raise
                revision = None
    except DatabaseNotReady:
        raise
    except SQLAlchemyError as exc:
        raise unusable(url, exc) from exc
    finally:
        if own:
            engine.dispose()
    if revision is None:
        raise DatabaseNotReady(f"the database {where} has no tables yet: {UPGRADE}")
    heads, known = _revisions(url)
    if revision not in known:
        raise DatabaseNotReady(
            f"the database {where} is at schema revision {revision}, which this version of "
            "oncall does not know: a newer version migrated it; run that version"
        )
    if revision not in heads:
        raise DatabaseNotReady(
            f"the database {where} is at schema revision {revision}, this version of oncall "
            f"needs {', '.join(sorted(heads))}: {UPGRADE}"
        )
