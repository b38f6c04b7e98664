"""unplaced statuses: a status pushed by a portal that could not be applied to an invoice is kept for a
person (answered 200 so the network stops retrying; shown by `show` and in the worklist)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 23:10:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

from hub.store.types import UTCDateTime


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'unplaced_statuses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dedupe_key', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column('received_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('profile_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column('problem', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column('explanation', sa.Text(), nullable=False),
        sa.Column('invoice_number', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column('document_payload_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column('invoice_id', sa.Integer(), nullable=True),
        sa.Column('status_kind', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column('status_type', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column('occurred_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('comments', sa.Text(), nullable=True),
        sa.Column('details', sa.Text(), nullable=False),
        sa.Column('resolved_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('dedupe_key'),
    )
    with op.batch_alter_table('unplaced_statuses', schema=None) as batch_op:
        batch_op.create_index('ix_unplaced_open', ['resolved_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_unplaced_statuses_invoice_number'), ['invoice_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_unplaced_statuses_invoice_id'), ['invoice_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('unplaced_statuses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unplaced_statuses_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_unplaced_statuses_invoice_number'))
        batch_op.drop_index('ix_unplaced_open')
    op.drop_table('unplaced_statuses')
