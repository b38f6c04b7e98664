"""The newest migration of the store's schema, on its own: the commands compare a store's revision
with it before answering, without importing SQLAlchemy (hub/store_schema.py)."""

from __future__ import annotations

#: The newest migration (tests/store checks it against the scripts). A store already there is not
#: handed to Alembic at all: importing it and reading the scripts cost a CLI command ~0.3 s.
HEAD = "0009"
