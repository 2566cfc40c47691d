"""Metadata DB (Postgres/Neon in production, SQLite by default): repositories and jobs.

The gateway is its only writer. Rows come from the coordinators' events stream
(see gateway/events.py), so they survive Redis losing its data.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Float, Integer, String, Text, create_engine, inspect, text
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


def apply_job_record(session: Session, record: jobs_pb2.JobRecord) -> None:
    """Upsert the job row (and its repository on completion) from a record snapshot.

    Applying the same snapshot twice changes nothing, so replayed events are harmless.
    """
    row = session.get(IngestionJob, record.job_id) or IngestionJob(job_id=record.job_id)
    row.repo_url = record.repo_url
    row.status = jobs.status_name(record.status)
    row.submitted_at = jobs.to_datetime(record.submitted_at)
    row.started_at = jobs.to_datetime(record.started_at)
    row.finished_at = jobs.to_datetime(record.finished_at)
    row.duration_seconds = record.duration_seconds
    row.files_processed = record.files_processed
    row.embeddings_generated = record.embeddings_generated
    row.final_loss = record.final_loss
    row.commit = record.commit
    row.error = record.error
    session.add(row)
    if record.status == jobs_pb2.JOB_STATUS_COMPLETE:
        repo = session.get(Repository, record.repo_url) or Repository(repo_url=record.repo_url)
        repo.last_commit = record.commit
        repo.last_job_id = record.job_id
        repo.file_count = record.files_processed
        repo.updated_at = jobs.to_datetime(record.finished_at)
        session.add(repo)
