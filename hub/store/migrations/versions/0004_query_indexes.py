"""query indexes: ix_invoices_work gains `id`, so a claim reads the first free invoice in index order;
ix_invoices_portal_id finds the invoice a portal's status update names

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 10:30:00
"""
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_invoices_work')
        batch_op.create_index('ix_invoices_work', ['profile_id', 'state', 'next_attempt_at', 'id'], unique=False)
        batch_op.create_index('ix_invoices_portal_id', ['profile_id', 'portal_invoice_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_invoices_portal_id')
        batch_op.drop_index('ix_invoices_work')
        batch_op.create_index('ix_invoices_work', ['profile_id', 'state', 'next_attempt_at'], unique=False)
