"""Metadata DB (Postgres/Neon in production, SQLite by default): repositories and jobs.

The gateway is its only writer. Rows come from the coordinators' events stream
(see gateway/events.py), so they survive Redis losing its data.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Float, Integer, String, Text, create_engine, inspect, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from neo_alexandria.v1 import jobs_pb2
from services.common import jobs
from services.common.config import Settings


class Base(DeclarativeBase):
    pass


class Repository(Base):
    __tablename__ = "repositories"

    repo_url: Mapped[str] = mapped_column(String(512), primary_key=True)
    last_commit: Mapped[str] = mapped_column(String(64), default="")
    last_job_id: Mapped[str] = mapped_column(String(64), default="")
    file_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IngestionJob(Base):
    __tablename__ = "ingestion_jobs"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    repo_url: Mapped[str] = mapped_column(String(512), index=True)
    status: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    files_processed: Mapped[int] = mapped_column(Integer, default=0)
    embeddings_generated: Mapped[int] = mapped_column(Integer, default=0)
    final_loss: Mapped[float] = mapped_column(Float, default=0.0)
    commit: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str] = mapped_column(Text, default="")


class EventOffset(Base):
    """How far the events stream has been applied; stored with the rows it produced."""

    __tablename__ = "event_offsets"

    stream: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_id: Mapped[str] = mapped_column(String(64))


def database_url(settings: Settings) -> str:
    """DATABASE_URL (postgres:// becomes the psycopg 3 driver), else SQLite under the data dir."""
    url = settings.database_url
    if not url:
        return f"sqlite:///{settings.data_dir / 'metadata.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


MIGRATIONS = Path(__file__).parent / "migrations"
INITIAL_REVISION = "0001"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (a database made by the
    pre-Alembic `create_all` is recognised as the initial revision)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        tables = set(inspect(connection).get_table_names())
        if "ingestion_jobs" in tables and "alembic_version" not in tables:
            command.stamp(config, INITIAL_REVISION)
        command.upgrade(config, "head")


def open_database(settings: Settings) -> Engine:
    """Create the engine and migrate the schema to the newest revision."""
    engine = create_engine(database_url(settings), pool_pre_ping=True)
    migrate(engine)
    return engine


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _upsert(session: Session, table: type[Base], key: str, rows: list[dict[str, Any]]) -> None:
    """INSERT … ON CONFLICT (key) DO UPDATE, in the session's dialect (Postgres or SQLite).

    The rows go as executemany parameters of one constant statement, which SQLAlchemy
    compiles once and batches ("insertmanyvalues"): a statement with the rows inlined
    as VALUES was compiled anew for every batch, 3.4x the time for 50 rows.
    """
    if not rows:
        return
    dialect_insert = (
        postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    )
    statement = dialect_insert(table)
    updates = {column: statement.excluded[column] for column in rows[0] if column != key}
    session.execute(statement.on_conflict_do_update(index_elements=[key], set_=updates), rows)


def apply_job_records(session: Session, records: list[jobs_pb2.JobRecord]) -> None:
    """Upsert the jobs' rows (and their repositories on completion) from record snapshots,
    in two statements: the newest snapshot of each job wins.

    Applying the same snapshots twice changes nothing, so replayed events are harmless.
    """
    latest = {record.job_id: record for record in records}
    jobs_rows = [
        {
            "job_id": r.job_id,
            "repo_url": r.repo_url,
            "status": jobs.status_name(r.status),
            "submitted_at": jobs.to_datetime(r.submitted_at),
            "started_at": jobs.to_datetime(r.started_at),
            "finished_at": jobs.to_datetime(r.finished_at),
            "duration_seconds": r.duration_seconds,
            "files_processed": r.files_processed,
            "embeddings_generated": r.embeddings_generated,
            "final_loss": r.final_loss,
            "commit": r.commit,
            "error": r.error,
        }
        for r in latest.values()
    ]
    completed = {r.repo_url: r for r in records if r.status == jobs_pb2.JOB_STATUS_COMPLETE}
    repo_rows = [
        {
            "repo_url": r.repo_url,
            "last_commit": r.commit,
            "last_job_id": r.job_id,
            "file_count": r.files_processed,
            "updated_at": jobs.to_datetime(r.finished_at),
        }
        for r in completed.values()
    ]
    _upsert(session, IngestionJob, "job_id", jobs_rows)
    _upsert(session, Repository, "repo_url", repo_rows)
