"""Every Redis key the system uses, in one place. All live under `alexandria:`.

- `alexandria:tasks` (stream, group `coordinators`): queued and in-flight tasks, fields
  `job_id` and `task` (`QueuedTask` JSON); the gateway adds, coordinators claim (the
  group's pending list holds who has which and how often it was delivered); an entry
  is deleted when acknowledged, so its length is the number of pending jobs.
- `alexandria:tasks:dead` (stream): dead-lettered tasks, fields `task` and `error`.
- `alexandria:job:{job_id}` (string): the job's `JobRecord` JSON, expires after 30 days;
  its existence makes a second enqueue of the same job id a no-op.
- `alexandria:history` (list): job ids, newest first, capped at 100.
- `alexandria:workers` (hash): worker id → `WorkerStatus` JSON, rewritten each heartbeat.
- `alexandria:events` (stream capped near 10,000): field `job`, the `JobRecord` JSON at
  each state change, which the gateway consumes into the metadata DB.
- `alexandria:ratelimit:{budget}:{client}` (string, expires once the client's budget is
  full again): the gateway's rate limit state of one client, a theoretical arrival time
  in ms (gateway/rate_limit.py); `client` is a token's hash or an address, never a token.

The scripts that read and write them are in `queue_scripts` (the rate limit's in
`gateway.rate_limit`).
"""

from __future__ import annotations

PREFIX = "alexandria"
TASKS = f"{PREFIX}:tasks"
TASKS_GROUP = "coordinators"
DEAD_LETTER = f"{PREFIX}:tasks:dead"
HISTORY = f"{PREFIX}:history"
WORKERS = f"{PREFIX}:workers"
EVENTS = f"{PREFIX}:events"

HISTORY_SIZE = 100
EVENTS_MAXLEN = 10_000
JOB_RECORD_TTL_SECONDS = 30 * 24 * 3600


JOB_PREFIX = f"{PREFIX}:job:"


def job(job_id: str) -> str:
    """Key of one job's record."""
    return f"{JOB_PREFIX}{job_id}"


def rate_limit(budget: str, client: str) -> str:
    """Key of one client's rate limit state for `budget` (ingest, reads)."""
    return f"{PREFIX}:ratelimit:{budget}:{client}"
