"""contract targets: the targets a case is held to, snapshotted when it opens

Revision ID: 0011_contract_targets
Revises: 0009_engineer_control
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = '0011_contract_targets'
# Written off 0009_engineer_control beside other branches' migrations; the integrator
# re-chains it after whichever lands first.
down_revision = '0010_customer_side'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The plan's targets, clock, support hours and after-hours multiplier as they stood when
    # the case opened (NULL for cases opened before: those keep config.yaml's sla), the first
    # status's due time (status_due_at moves on to each update), and the resolution target.
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('targets', sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column('first_status_due_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column('resolution_due_at', sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('resolution_due_at')
        batch_op.drop_column('first_status_due_at')
        batch_op.drop_column('targets')
