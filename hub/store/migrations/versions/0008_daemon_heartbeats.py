"""daemons: each daemon's heartbeat (who, where, version, when each job last ran and how it ended)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 23:10:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import hub.store.types


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('daemons',
    sa.Column('worker_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('host', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('started_at', hub.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', hub.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', hub.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_seconds', sa.Float(), nullable=False),
    sa.Column('jobs', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('worker_id')
    )


def downgrade() -> None:
    op.drop_table('daemons')
