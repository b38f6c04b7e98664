"""The store: SQLModel tables, Alembic migrations, and the operations the pipeline runs on them."""
