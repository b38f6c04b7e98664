"""lookup indexes: invoices keep the number of the invoice their document names as original
(`original_invoice_number`, indexed: `show` listed credit memos and cancels by searching every stored
document); ix_invoices_portal_number finds the invoice a portal's status names by number only

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 11:40:00

Existing invoices get `original_invoice_number` from their document.
"""
import json

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('original_invoice_number', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
        batch_op.create_index('ix_invoices_original_invoice_number', ['original_invoice_number'], unique=False)
        batch_op.create_index('ix_invoices_portal_number', ['profile_id', 'portal_invoice_number'], unique=False)
    _fill_original_numbers()


def _fill_original_numbers() -> None:
    connection = op.get_bind()
    invoices = sa.table('invoices', sa.column('id'), sa.column('document'), sa.column('original_invoice_number'))
    # Only documents that name an original (`"original_invoice_number":null` does not match), read in
    # pages by id so a large store is not loaded at once.
    naming = invoices.c.document.like('%"original_invoice_number":"%')
    after = -1
    while True:
        rows = connection.execute(
            sa.select(invoices.c.id, invoices.c.document)
            .where(naming, invoices.c.id > after)
            .order_by(invoices.c.id)
            .limit(1000)
        ).fetchall()
        if not rows:
            return
        for invoice_id, document in rows:
            number = json.loads(document).get('original_invoice_number')
            connection.execute(
                invoices.update().where(invoices.c.id == invoice_id).values(original_invoice_number=number)
            )
        after = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_invoices_portal_number')
        batch_op.drop_index('ix_invoices_original_invoice_number')
        batch_op.drop_column('original_invoice_number')
