"""Alembic environment: runs on the connection that `storage.migrate` hands over."""

from alembic import context
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers every table on the metadata)

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
