"""initial schema: repositories, ingestion jobs, event offsets

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_offsets",
        sa.Column("stream", sa.String(length=128), nullable=False),
        sa.Column("last_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("stream"),
    )
    op.create_table(
        "ingestion_jobs",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("repo_url", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("files_processed", sa.Integer(), nullable=False),
        sa.Column("embeddings_generated", sa.Integer(), nullable=False),
        sa.Column("final_loss", sa.Float(), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_index(
        op.f("ix_ingestion_jobs_repo_url"), "ingestion_jobs", ["repo_url"], unique=False
    )
    op.create_table(
        "repositories",
        sa.Column("repo_url", sa.String(length=512), nullable=False),
        sa.Column("last_commit", sa.String(length=64), nullable=False),
        sa.Column("last_job_id", sa.String(length=64), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("repo_url"),
    )


def downgrade() -> None:
    op.drop_table("repositories")
    op.drop_index(op.f("ix_ingestion_jobs_repo_url"), table_name="ingestion_jobs")
    op.drop_table("ingestion_jobs")
    op.drop_table("event_offsets")
