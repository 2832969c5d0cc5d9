"""The database: typed SQLAlchemy models, sessions and transactions (``BEGIN IMMEDIATE`` on
SQLite, ``SKIP LOCKED`` helpers on PostgreSQL), and the Alembic migrations (``migrations/``).

May import ``oncall.domain`` (the enums stored in its columns) and nothing else of ours.
"""
