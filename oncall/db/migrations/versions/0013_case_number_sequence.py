"""case numbers from a sequence on PostgreSQL

Revision ID: 0013_case_number_sequence
Revises: 0012_case_lifecycle
Create Date: 2026-12-04

On PostgreSQL the next case number was an ``UPDATE counters … RETURNING``: a row lock every
case opening held until its transaction committed, so openings queued on it one after another
(issue 14: the tail of a 200-case burst waited seconds on that lock). A sequence hands numbers
out without a lock. It starts after the counter's value, so numbers carry on where they were;
it is owned by ``cases.number``, so ``TRUNCATE cases RESTART IDENTITY`` starts it again.
SQLite (one writer at a time) keeps the counter.
"""

import sqlalchemy as sa
from alembic import op

revision = '0013_case_number_sequence'
down_revision = '0012_case_lifecycle'
branch_labels = None
depends_on = None

SEQUENCE = 'case_numbers'


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    counter = bind.execute(
        sa.text("SELECT value FROM counters WHERE name = 'case_number'")
    ).scalar()
    start = (counter if counter is not None else 1000) + 1
    op.execute(f'CREATE SEQUENCE {SEQUENCE} START WITH {int(start)} OWNED BY cases.number')


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    # The counter takes over where the sequence stood (its last number handed out).
    last = bind.execute(
        sa.text(f'SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {SEQUENCE}')
    ).scalar()
    bind.execute(
        sa.text("UPDATE counters SET value = :value WHERE name = 'case_number'"), {'value': last}
    )
    op.execute(f'DROP SEQUENCE {SEQUENCE}')
