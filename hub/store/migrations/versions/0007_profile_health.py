"""profile health: portal profiles that cannot work (failing with backoff, or held until a person acts)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 23:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import hub.store.types


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'profile_health',
        sa.Column('profile_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('since', hub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('next_try_at', hub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('released_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column('updated_at', hub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('profile_id'),
    )


def downgrade() -> None:
    op.drop_table('profile_health')
