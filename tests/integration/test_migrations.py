"""Alembic migrations on an empty SQLite and an empty Postgres (CI): they build exactly
the models' schema, go down and up again, and adopt a pre-Alembic database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Engine

from gateway.db import Base, migrate
from gateway.db import database_url as engine_url
from services.common.config import Settings


def engine_for(url: str, tmp_path: object) -> Engine:
    return create_engine(engine_url(Settings(alexandria_data_dir=tmp_path, database_url=url)))


def schema_drift(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


def head(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_migrations_build_the_models_schema_on_an_empty_database(
    database_url: str, tmp_path: object
) -> None:
    engine = engine_for(database_url, tmp_path)
    try:
        migrate(engine)
        assert head(engine) == "0001"
        assert {"repositories", "ingestion_jobs", "event_offsets"} <= set(
            inspect(engine).get_table_names()
        )
        assert schema_drift(engine) == []
        migrate(engine)  # a second start changes nothing
        assert head(engine) == "0001"
    finally:
        engine.dispose()


def test_a_database_made_before_alembic_is_adopted(database_url: str, tmp_path: object) -> None:
    engine = engine_for(database_url, tmp_path)
    try:
        Base.metadata.create_all(engine)
        migrate(engine)
        assert head(engine) == "0001" and schema_drift(engine) == []
    finally:
        engine.dispose()


def test_downgrade_to_empty_and_up_again(database_url: str, tmp_path: object) -> None:
    from alembic import command
    from alembic.config import Config

    from gateway.db import MIGRATIONS

    engine = engine_for(database_url, tmp_path)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        migrate(engine)
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert not {"repositories", "ingestion_jobs"} & set(inspect(engine).get_table_names())
        migrate(engine)
        assert schema_drift(engine) == []
    finally:
        engine.dispose()
