"""sign_in: server-side dashboard sessions and the failed sign-ins the limiter counts

Revision ID: 0004_sign_in
Revises: 0003_intake
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa

revision = '0004_sign_in'
down_revision = '0003_intake'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Signing out deletes the session's row, so a copied cookie stops working.
    op.create_table('web_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('signed_in_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('password_fingerprint', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_web_sessions'))
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_signed_in_at'), ['signed_in_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_web_sessions_username'), ['username'], unique=False)

    # Counted per address and per user name; rows older than the limiter's window are pruned.
    op.create_table('sign_in_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_failures'))
    )
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_failures_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_failures_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_failures_username'), ['username'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_failures_username'))
        batch_op.drop_index(batch_op.f('ix_sign_in_failures_at'))
        batch_op.drop_index(batch_op.f('ix_sign_in_failures_address'))

    op.drop_table('sign_in_failures')
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_username'))
        batch_op.drop_index(batch_op.f('ix_web_sessions_signed_in_at'))

    op.drop_table('web_sessions')
