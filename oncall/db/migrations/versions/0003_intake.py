"""intake: the IVR remembers whom it is ringing and the recording's SID

Revision ID: 0003_intake
Revises: 0001
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa

revision = '0003_intake'
# Chained after the latest revision present when this was written; the lead re-chains it
# after 0002_engine when both land.
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('voice_calls', schema=None) as batch_op:
        # The people a caller is put through to, frozen when the first one is rung, so a
        # retried or late Dial callback walks the same list even if the rota changes mid-call.
        batch_op.add_column(sa.Column('dial_plan', sa.JSON(), nullable=False, server_default='[]'))
        # RecordingSid can arrive (status callback) before the case exists.
        batch_op.add_column(sa.Column('recording_sid', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('voice_calls', schema=None) as batch_op:
        batch_op.drop_column('recording_sid')
        batch_op.drop_column('dial_plan')
