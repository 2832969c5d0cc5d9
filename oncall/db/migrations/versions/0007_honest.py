"""honest paging: teams retired after their rota file went away

Revision ID: 0007_honest
Revises: 0006_sender_trust
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa

revision = '0007_honest'
# Written after 0003_intake; re-chained after 0006_sender_trust when main was merged in (two
# heads would stop `oncall db upgrade`).
down_revision = '0006_sender_trust'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A rota file that disappears keeps its team paging until a manager retires the team
    # (`oncall rota retire TEAM`): one row per retired team, read by every process's file poll.
    op.create_table(
        'retired_rotas',
        sa.Column('team', sa.String(length=64), nullable=False),
        sa.Column('retired_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('retired_by', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('team', name=op.f('pk_retired_rotas')),
    )


def downgrade() -> None:
    op.drop_table('retired_rotas')
