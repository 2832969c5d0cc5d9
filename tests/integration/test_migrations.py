"""Migrations create the same schema on SQLite and PostgreSQL, and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, update

from oncall.db.models import Base, Counter
from oncall.db.session import make_session_factory, schema_revision


def test_migrations_create_every_table(db_engine):
    tables = set(inspect(db_engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables
    assert schema_revision(db_engine) is not None


def test_schema_matches_the_models(db_engine):
    """No drift: autogenerate against the migrated database finds nothing to do."""
    with db_engine.connect() as connection:
        context = MigrationContext.configure(connection)
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_case_numbers_start_at_1001(db_engine):
    from oncall.cases.opening import next_case_number

    sessions = make_session_factory(db_engine)
    with sessions() as session, session.begin():
        assert session.scalar(select(Counter.value).where(Counter.name == "case_number")) == 1000
        assert next_case_number(session) == 1001
        assert next_case_number(session) == 1002


def test_case_numbers_carry_on_from_the_counter_and_back(pg_url):
    """PostgreSQL numbers cases from a sequence (no lock held by an opening); upgrading starts
    it after the counter's value, downgrading hands its place back to the counter."""
    from alembic import command

    from oncall.cases.opening import next_case_number
    from oncall.db.session import alembic_config, make_engine, upgrade

    def downgrade() -> None:
        command.downgrade(alembic_config(pg_url), "0012_case_lifecycle")

    engine = make_engine(pg_url)
    sessions = make_session_factory(engine)
    try:
        downgrade()
        with sessions() as session, session.begin():
            session.execute(update(Counter).values(value=1041))
        upgrade(pg_url)
        with sessions() as session, session.begin():
            assert next_case_number(session) == 1042
            assert next_case_number(session) == 1043
        downgrade()
        with sessions() as session, session.begin():
            assert session.scalar(select(Counter.value)) == 1043
    finally:
        # As the other tests expect it: the sequence starting at 1001.
        downgrade()
        with sessions() as session, session.begin():
            session.execute(update(Counter).values(value=1000))
        upgrade(pg_url)
        engine.dispose()
