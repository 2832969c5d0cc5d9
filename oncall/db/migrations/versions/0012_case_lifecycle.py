"""case lifecycle: waiting for the customer, closure and reopen, fees with evidence

Revision ID: 0012_case_lifecycle
Revises: 0009_engineer_control
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = '0012_case_lifecycle'
# Written off 0009_engineer_control beside other branches' migrations; the integrator
# re-chains them.
down_revision = '0011_contract_targets'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('waiting_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column('paused_seconds', sa.Integer(), server_default='0', nullable=False)
        )
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column('reopen_count', sa.Integer(), server_default='0', nullable=False)
        )
        batch_op.add_column(sa.Column('reopened_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('follows_number', sa.Integer(), nullable=True))

    with op.batch_alter_table('misuse_flags', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('state', sa.String(length=20), server_default='flagged', nullable=False)
        )
        batch_op.add_column(sa.Column('evidence', sa.JSON(), server_default='{}', nullable=False))
        batch_op.add_column(sa.Column('disputed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('dispute_text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('confirmed_by', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('confirm_reason', sa.Text(), nullable=True))
    # Fees waived before states existed are waived; every other one stands as flagged.
    op.execute("UPDATE misuse_flags SET state = 'waived' WHERE waived_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('misuse_flags', schema=None) as batch_op:
        batch_op.drop_column('confirm_reason')
        batch_op.drop_column('confirmed_by')
        batch_op.drop_column('confirmed_at')
        batch_op.drop_column('dispute_text')
        batch_op.drop_column('disputed_at')
        batch_op.drop_column('evidence')
        batch_op.drop_column('state')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('follows_number')
        batch_op.drop_column('reopened_at')
        batch_op.drop_column('reopen_count')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('paused_seconds')
        batch_op.drop_column('waiting_since')
