"""The database: typed SQLAlchemy models, sessions and transactions (``BEGIN IMMEDIATE`` on
SQLite, ``SKIP LOCKED`` helpers on PostgreSQL), the Alembic migrations (``migrations/``),
whether a database is there and migrated (``preflight``), and the one-engine lock of an SQLite
file (``single_engine``).

May import ``oncall.domain`` (the enums stored in its columns) and nothing else of ours.
"""
