"""severity question: how a case's severity was set, and when the customer was asked and answered

Revision ID: 0008_severity_question
Revises: 0007_honest
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa

revision = '0008_severity_question'
# Chained after the latest revision on main when this branch last merged it (0006_sender_trust);
# the lead re-chains it if another lands first.
down_revision = '0007_honest'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        # stated | answered | phrases | timeout: a downgrade of a severity the service guessed
        # (phrases, timeout) carries no fee. Cases before this were stated (a marker, the menu).
        batch_op.add_column(
            sa.Column('severity_source', sa.String(length=20), nullable=False,
                      server_default='stated')
        )
        batch_op.add_column(
            sa.Column('severity_asked_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column('severity_answered_at', sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('severity_answered_at')
        batch_op.drop_column('severity_asked_at')
        batch_op.drop_column('severity_source')
