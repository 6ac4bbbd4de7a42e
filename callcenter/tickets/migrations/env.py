"""Alembic runs only through `callcenter.tickets.migrations.migrate()`, which passes a connection."""

from alembic import context

from callcenter.tickets.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit(
        "run migrations with `callcenter init-db`, which passes the database connection"
    )

# SQLite cannot ALTER most things in place; batch mode copies the table instead.
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
