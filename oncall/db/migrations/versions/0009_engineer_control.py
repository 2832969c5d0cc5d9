"""engineer control: live overrides (TAKE), and deadlines of a team (shift notices)

Revision ID: 0009_engineer_control
Revises: 0008_severity_question
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = '0009_engineer_control'
# Written after 0003_intake; re-chained after 0006_sender_trust, then after
# 0008_severity_question, as main was merged into this branch (the lead re-chains it again if
# other migrations land first).
down_revision = '0008_severity_question'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An engineer's TAKE: an override of the rota kept in the database, layered over the file.
    op.create_table('live_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team', sa.String(length=64), nullable=False),
    sa.Column('level', sa.String(length=64), nullable=False),
    sa.Column('rotation', sa.String(length=64), nullable=False),
    sa.Column('member', sa.String(length=64), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_via', sa.String(length=20), nullable=False),
    sa.Column('replaced', sa.String(length=400), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_by', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_overrides'))
    )
    with op.batch_alter_table('live_overrides', schema=None) as batch_op:
        batch_op.create_index('ix_live_overrides_team_ends', ['team', 'ends_at'], unique=False)

    # Shift notices are timers of a team, not of a case: no case, the team, and a unique key
    # that makes arming them idempotent with several engines.
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('team', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('key', sa.String(length=200), nullable=True))
        batch_op.alter_column('case_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_deadlines_key'), ['key'])


def downgrade() -> None:
    op.execute("DELETE FROM deadlines WHERE case_id IS NULL")
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_deadlines_key'), type_='unique')
        batch_op.alter_column('case_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('key')
        batch_op.drop_column('team')

    with op.batch_alter_table('live_overrides', schema=None) as batch_op:
        batch_op.drop_index('ix_live_overrides_team_ends')
    op.drop_table('live_overrides')
