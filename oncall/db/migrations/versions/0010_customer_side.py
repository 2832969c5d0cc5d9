"""customer side: the case page's token (a nonce to derive it from, and its hash)

Revision ID: 0010_customer_side
Revises: 0009_engineer_control
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = '0010_customer_side'
down_revision = '0009_engineer_control'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Cases opened before this get their token the first time a message is sent about them.
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('page_nonce', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('page_token_hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f('uq_cases_page_token_hash'), ['page_token_hash']
        )


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_cases_page_token_hash'), type_='unique')
        batch_op.drop_column('page_token_hash')
        batch_op.drop_column('page_nonce')
