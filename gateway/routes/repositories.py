"""`GET /api/v1/repositories`: the ingested repositories, from the metadata DB."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.auth import require_reader
from gateway.db import Repository
from gateway.errors import ApiError
from gateway.rate_limit import limit_reads
from gateway.schemas import Repositories, errors

router = APIRouter(
    prefix="/api/v1",
    tags=["repositories"],
    dependencies=[Depends(limit_reads), Depends(require_reader)],
)


def _newest(engine: Engine, limit: int) -> list[dict[str, Any]]:
    with Session(engine) as session:
        rows = session.scalars(
            select(Repository)
            .order_by(Repository.updated_at.desc(), Repository.repo_url)
            .limit(limit)
        )
        return [
            {
                "repo_url": r.repo_url,
                "last_commit": r.last_commit,
                "last_job_id": r.last_job_id,
                "file_count": r.file_count,
                "updated_at": r.updated_at,
            }
            for r in rows
        ]


@router.get(
    "/repositories",
    response_model=Repositories,
    responses=errors(401, 422, 429, 503),
    summary="Ingested repositories with their last commit and file count",
)
async def list_repositories(
    request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    try:
        rows = await asyncio.to_thread(_newest, request.app.state.engine, limit)
    except SQLAlchemyError as exc:
        raise ApiError(503, "database_unavailable", f"metadata DB unavailable: {exc}") from None
    return {"repositories": rows}
