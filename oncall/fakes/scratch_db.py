"""Throw-away PostgreSQL databases, created beside the one ``ONCALL_TEST_DATABASE_URL`` names
(default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``) under a fresh name, so that
concurrent runs never collide: one per pytest session (``tests/conftest.py``) and one per
benchmark run (``benchmarks/``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from oncall.db.session import upgrade

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ADMIN_URL = os.environ.get("ONCALL_TEST_DATABASE_URL", DEFAULT_ADMIN_URL)


def _admin(admin_url: str, statement: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


def create_database(prefix: str, admin_url: str = ADMIN_URL) -> str:
    """Create an empty database ``<prefix>_<random>`` beside ``admin_url``'s; return its URL.
    Whatever the server says (unreachable, refused, no permission) is raised as it comes."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _admin(admin_url, f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str, admin_url: str = ADMIN_URL) -> None:
    """Drop the database ``url`` names, even with connections still open."""
    name = make_url(url).database
    _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_database(prefix: str, migrate: bool = False) -> Iterator[str]:
    """A new database beside ADMIN_URL's; yields its URL and drops it afterwards."""
    url = create_database(prefix)
    try:
        if migrate:
            upgrade(url)
        yield url
    finally:
        drop_database(url)
