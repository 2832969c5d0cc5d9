"""sender trust: cases opened from unauthenticated email, indexes for the PIN guard and retention

Revision ID: 0006_sender_trust
Revises: 0004_sign_in
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa

revision = '0006_sender_trust'
# Chained after the latest revision present when this was written; the lead re-chains it.
down_revision = '0004_sign_in'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        # A customer with trust_unauthenticated_email may open cases from mail that failed
        # SPF and DKIM: such cases are marked, and never charged a misuse fee.
        batch_op.add_column(
            sa.Column('sender_unverified', sa.Boolean(), nullable=False, server_default='0')
        )
    # Wrong PINs are counted per caller number and line-wide over the last hour.
    op.create_index('ix_attempts_contact_at', 'attempts', ['contact', 'at'], unique=False)
    op.create_index('ix_attempts_reason_at', 'attempts', ['reason', 'at'], unique=False)
    # The retention pass deletes receipts oldest first.
    op.create_index(
        'ix_webhook_receipts_received_at', 'webhook_receipts', ['received_at'], unique=False
    )


def downgrade() -> None:
    op.drop_index('ix_webhook_receipts_received_at', table_name='webhook_receipts')
    op.drop_index('ix_attempts_reason_at', table_name='attempts')
    op.drop_index('ix_attempts_contact_at', table_name='attempts')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('sender_unverified')
