"""Alembic environment: runs on the connection `gateway.db.migrate` hands over, or, from
the `alembic` command line, on the configured metadata DB (DATABASE_URL or SQLite)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from gateway.db import Base, database_url
from services.common.config import load_settings

connection = context.config.attributes.get("connection")
if connection is None:
    engine = create_engine(database_url(load_settings()))
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
