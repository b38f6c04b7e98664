"""audit chain: events carry seq / prev_hash / hash, invoices their chain's head; events are append-only

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 10:20:00

Existing events are chained in the order they were written (by id), so `portalhub audit verify` holds
on an upgraded store; their actor stays what it was.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import hub.store.types

from hub.audit import digest
from hub.store.tables import EventRow


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_REFUSE = "events are append-only: the audit trail cannot be changed"


def upgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_seq', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('event_head', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_events_invoice_seq', ['invoice_id', 'seq'])
    _chain_existing_events()
    _refuse_changes()


def _chain_existing_events() -> None:
    connection = op.get_bind()
    # The columns as they are at this revision, named here: a later migration may add columns to
    # `events`, and this one must still run on a store that does not have them yet.
    events = sa.table(
        'events',
        sa.column('id'),
        sa.column('invoice_id'),
        sa.column('at', hub.store.types.UTCDateTime(timezone=True)),
        *(sa.column(name) for name in (
            'actor', 'from_state', 'to_state', 'reason', 'category', 'raw_status', 'details',
            'attempt_id', 'dedupe_key', 'seq', 'prev_hash', 'hash',
        )),
    )
    invoices = sa.table('invoices', sa.column('id'), sa.column('event_seq'), sa.column('event_head'))
    heads: dict[int, tuple[int, str | None]] = {}
    after = (-1, -1)  # keyset paging on (invoice_id, id): a large log is not loaded at once
    while True:
        rows = connection.execute(
            sa.select(events)
            .where(sa.tuple_(events.c.invoice_id, events.c.id) > after)
            .order_by(events.c.invoice_id, events.c.id)
            .limit(5000)
        ).mappings().all()
        if not rows:
            break
        for row in rows:
            seq, previous = heads.get(row['invoice_id'], (0, None))
            event = EventRow(**{**row, 'seq': seq + 1, 'prev_hash': previous})
            event.hash = digest(event)
            connection.execute(
                events.update()
                .where(events.c.id == row['id'])
                .values(seq=event.seq, prev_hash=event.prev_hash, hash=event.hash)
            )
            heads[row['invoice_id']] = (event.seq, event.hash)
        after = (rows[-1]['invoice_id'], rows[-1]['id'])
    for invoice_id, (seq, head) in heads.items():
        connection.execute(invoices.update().where(invoices.c.id == invoice_id).values(event_seq=seq, event_head=head))


def _refuse_changes() -> None:
    # NOTE for later migrations: on SQLite, batch_alter_table('events') rebuilds the table and drops
    # these triggers; create them again after such a change.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            f"""CREATE FUNCTION portalhub_events_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{_REFUSE}'; END; $$ LANGUAGE plpgsql"""
        )
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION portalhub_events_append_only()"
        )
    else:
        for action in ('UPDATE', 'DELETE'):
            op.execute(
                f"CREATE TRIGGER events_no_{action.lower()} BEFORE {action} ON events "
                f"BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        op.execute("DROP FUNCTION IF EXISTS portalhub_events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS events_no_update")
        op.execute("DROP TRIGGER IF EXISTS events_no_delete")
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint('uq_events_invoice_seq', type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_column('event_head')
        batch_op.drop_column('event_seq')
