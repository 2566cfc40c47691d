"""Gateway properties through the real app served by uvicorn, on the embedded Redis and
SQLite, ≥100 examples each: P1 (queue round trip), P3 (hostile URLs → 400, nothing queued), P4
(status endpoints return what Redis holds), P15 (errors never 200), P16 (cap → 429),
P17 (no valid token → 401)."""

from __future__ import annotations

import string
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import redis
from fastapi import FastAPI
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from queue_helpers import flush
from serving import serve_asgi

from gateway.app import create_app
from neo_alexandria.v1 import jobs_pb2
from services.common import jobs, keys
from services.common.config import DEFAULT_HOSTS, Settings
from services.common.jobs import to_json
from services.common.repo_url import InvalidRepoUrl, canonicalize

TOKEN = "property-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
segment = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,15}", fullmatch=True)


@dataclass(frozen=True)
class Served:
    """The gateway served by uvicorn, an HTTP client for it, and its Redis."""

    app: FastAPI
    http: httpx.Client
    redis: redis.Redis


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, embedded_redis_url: str) -> Iterator[Served]:
    config = Settings(
        alexandria_data_dir=tmp_path_factory.mktemp("gateway"),
        redis_url=embedded_redis_url,
        admin_token=TOKEN,
        max_queue_size=1000,
    )
    app = create_app(config)
    with (
        serve_asgi(app) as url,
        httpx.Client(base_url=url, timeout=30, follow_redirects=True) as http,
    ):
        store = redis.Redis.from_url(embedded_redis_url)
        yield Served(app, http, store)
        store.close()


def fresh(client: Served, embedded_redis_url: str, **overrides: Any) -> None:
    """A clean queue (and these settings) for one example."""
    flush(embedded_redis_url)
    state = client.app.state
    state.settings = state.settings.model_copy(update={"max_queue_size": 1000, **overrides})


def pending(client: Served) -> int:
    return int(client.redis.xlen(keys.TASKS))


def ingest(client: Served, raw: str, headers: dict[str, str] | None = AUTH) -> Any:
    return client.http.post(
        f"/api/v1/ingestion/ingest/{quote(raw, safe='')}", headers=headers or {}
    )


@st.composite
def valid_urls(draw: st.DrawFn) -> tuple[str, str]:
    """A repository URL in one of its accepted spellings, and its canonical form."""
    host, owner, name = draw(st.sampled_from(DEFAULT_HOSTS)), draw(segment), draw(segment)
    spelling = draw(
        st.sampled_from(
            [
                "{h}/{o}/{n}",
                "https://{h}/{o}/{n}",
                "https://{h}/{o}/{n}.git",
                "https://{h}/{o}/{n}/",
                "https://{H}/{o}/{n}",
            ]
        )
    )
    raw = spelling.format(h=host, H=host.upper(), o=owner, n=name)
    return raw, f"https://{host}/{owner}/{name}"


@EXAMPLES
@given(urls=st.lists(valid_urls(), min_size=1, max_size=3))
def test_p1_a_valid_url_and_token_queue_a_job(
    client: Served, embedded_redis_url: str, urls: list[tuple[str, str]]
) -> None:
    fresh(client, embedded_redis_url)
    for position, (raw, canonical) in enumerate(urls, 1):
        reply = ingest(client, raw)
        assert reply.status_code == 202, reply.text
        body = reply.json()
        assert body["repo_url"] == canonical and body["queue_position"] == position
        assert body["job_id"] and body["status"] == "queued"
        job = client.http.get(f"/api/v1/ingestion/jobs/{body['job_id']}").json()["job"]
        assert (job["repo_url"], job["status"]) == (canonical, "queued")
    assert pending(client) == len(urls)


def _spliced(valid: str, bad: str, at: int) -> str:
    at %= len(valid) + 1
    return valid[:at] + bad + valid[at:]


hostile = st.one_of(
    st.builds(
        _spliced,
        st.just("github.com/owner/repo"),
        st.sampled_from([";", "|", "&", "$(id)", "`id`", ">", "<", " ", "\n", "'", '"', "*", "!"]),
        st.integers(0, 30),
    ),
    st.sampled_from(
        [
            "github.com/../etc/passwd",
            "github.com/a/..",
            "https://github.com/a/../../b",
            "github.com/%2e%2e/%2e%2e/etc",
            "github.com/a%2fb/c",
            "https://user:pass@github.com/a/b",
            "https://token@github.com/a/b",
            "https://github.com:8443/a/b",
            "https://github.com:/a/b",
            "https://gіthub.com/a/b",  # noqa: RUF001 (a Cyrillic i)
            "https://xn--gthub-n4a.com/a/b",
            "https://github.com./a/b",
            "ssh://git@github.com/a/b",
            "git@github.com:a/b.git",
            "file:///etc",
            "ext::sh -c id",
            "--upload-pack=id",
            "http://github.com/a/b",
            "https://github.com/a/b?x=1",
            "https://github.com/a/b#frag",
            "https://evil.example/a/b",
            "github.com/a",
            "",
        ]
    ),
    st.builds(
        lambda c, at: _spliced("github.com/a/b", chr(c), at), st.integers(0, 31), st.integers(0, 14)
    ),
    st.text(alphabet=string.ascii_letters + "/.-_", min_size=10_000, max_size=10_240),
    st.text(max_size=200),
)


@EXAMPLES
@given(raw=hostile)
def test_p3_hostile_urls_are_400_before_queueing(
    client: Served, embedded_redis_url: str, raw: str
) -> None:
    try:
        canonicalize(raw, allowed_hosts=DEFAULT_HOSTS, allow_local=True)
    except InvalidRepoUrl:
        pass
    else:
        assume(False)  # random text that happens to be a valid URL
    fresh(client, embedded_redis_url)
    reply = ingest(client, raw)
    assert reply.status_code == 400, (raw[:80], reply.status_code)
    assert set(reply.json()) == {"error", "detail"}
    assert pending(client) == 0


worker_status = st.one_of(
    st.builds(jobs_pb2.WorkerStatus, state=st.just(jobs_pb2.WORKER_STATE_IDLE)),
    st.builds(
        jobs_pb2.WorkerStatus,
        state=st.sampled_from(
            [
                jobs_pb2.WORKER_STATE_PARSING,
                jobs_pb2.WORKER_STATE_TRAINING,
                jobs_pb2.WORKER_STATE_UPLOADING,
            ]
        ),
        repo_url=valid_urls().map(lambda u: u[1]),
    ),
    st.builds(
        jobs_pb2.WorkerStatus,
        state=st.just(jobs_pb2.WORKER_STATE_ERROR),
        message=st.text(min_size=1, max_size=40).map(jobs.one_line).filter(bool),
    ),
)
STATE_NAMES = {
    jobs_pb2.WORKER_STATE_IDLE: "idle",
    jobs_pb2.WORKER_STATE_PARSING: "parsing",
    jobs_pb2.WORKER_STATE_TRAINING: "training",
    jobs_pb2.WORKER_STATE_UPLOADING: "uploading",
    jobs_pb2.WORKER_STATE_ERROR: "error",
}


@EXAMPLES
@given(
    workers=st.dictionaries(
        segment, st.tuples(worker_status, st.integers(0, 100), segment), min_size=1, max_size=4
    ),
    files=st.integers(0, 10**6),
    progress=st.floats(0, 100, allow_nan=False),
)
def test_p4_status_endpoints_return_what_redis_holds(
    client: Served,
    embedded_redis_url: str,
    workers: dict[str, tuple[jobs_pb2.WorkerStatus, int, str]],
    files: int,
    progress: float,
) -> None:
    fresh(client, embedded_redis_url)
    stored = {}
    for worker_id, (drawn, age, job_id) in workers.items():
        worker = jobs_pb2.WorkerStatus()
        worker.CopyFrom(drawn)
        worker.worker_id, worker.job_id, worker.heartbeat_interval_seconds = worker_id, job_id, 300
        worker.heartbeat_at.FromSeconds(int(time.time()) - age)
        client.redis.hset(keys.WORKERS, worker_id, to_json(worker))
        stored[worker_id] = worker
    body = client.http.get("/api/v1/ingestion/worker/status").json()
    fields = ("state", "repo_url", "message", "job_id")
    assert {w["worker_id"]: tuple(w[f] for f in fields) for w in body["workers"]} == {
        w: (STATE_NAMES[s.state], s.repo_url, s.message, s.job_id) for w, s in stored.items()
    }
    texts = {w["worker_id"]: w["status"] for w in body["workers"]}
    for worker_id, worker in stored.items():  # the display text, built from the fields
        expected = {
            "idle": "Idle",
            "parsing": f"Parsing {worker.repo_url}",
            "training": f"Training Graph on {worker.repo_url}",
            "uploading": f"Uploading {worker.repo_url}",
            "error": f"Error: {worker.message}",
        }[STATE_NAMES[worker.state]]
        assert texts[worker_id] == expected
    record = jobs_pb2.JobRecord(
        job_id="job1",
        repo_url="https://github.com/a/b",
        status=jobs_pb2.JOB_STATUS_RUNNING,
        phase="train",
        progress_percent=progress,
        files_processed=files,
    )
    client.redis.set(keys.job("job1"), to_json(record))
    job = client.http.get("/api/v1/ingestion/jobs/job1").json()["job"]
    assert (job["status"], job["phase"], job["files_processed"]) == ("running", "train", files)
    assert job["progress_percent"] == pytest.approx(progress)


paths = st.sampled_from(
    [
        "/api/v1/ingestion/ingest/{s}",
        "/api/v1/ingestion/jobs/{s}",
        "/api/v1/ingestion/jobs/history?limit={s}",
        "/api/v1/ingestion/worker/status",
        "/api/v1/repositories?limit={s}",
        "/api/v1/graph/similar?repo_url={s}&file_path={s}&limit={s}",
        "/api/v1/graph/similar",
        "/api/v1/graph/files?repo_url={s}&limit={s}",
        "/{s}",
        "/health",
    ]
)


@EXAMPLES
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    path=paths,
    fill=st.text(alphabet=string.printable, max_size=30),
    authorized=st.booleans(),
)
def test_p15_errors_never_answer_200(
    client: Served, embedded_redis_url: str, method: str, path: str, fill: str, authorized: bool
) -> None:
    fresh(client, embedded_redis_url)
    url = path.format(s=quote(fill, safe=""))
    reply = client.http.request(method, url, headers=AUTH if authorized else {})
    assert reply.status_code < 500, (method, url, reply.text)
    body = reply.json()
    if reply.status_code >= 400:
        assert set(body) >= {"error", "detail"}
    else:
        assert "error" not in body


@EXAMPLES
@given(cap=st.integers(1, 5), submissions=st.integers(0, 9))
def test_p16_at_the_cap_ingest_answers_429(
    client: Served, embedded_redis_url: str, cap: int, submissions: int
) -> None:
    fresh(client, embedded_redis_url, max_queue_size=cap)
    codes = [ingest(client, f"github.com/a/r{i}") for i in range(submissions)]
    assert [r.status_code for r in codes] == [202] * min(cap, submissions) + [429] * max(
        0, submissions - cap
    )
    assert all(r.headers["Retry-After"] for r in codes if r.status_code == 429)
    assert pending(client) == min(cap, submissions)


header_text = st.text(alphabet=string.ascii_letters + string.digits + "-._~+/= ", max_size=60)
bad_auth = st.one_of(
    st.none(),
    header_text.map(lambda t: {"Authorization": t}),
    header_text.map(lambda t: {"Authorization": f"Bearer {t}"}),
    st.sampled_from(["Basic", "Token", "bearer", "BEARER"]).flatmap(
        lambda scheme: header_text.map(lambda t: {"Authorization": f"{scheme} {t}"})
    ),
    st.sampled_from([TOKEN[:-1], TOKEN + "x", TOKEN.upper(), f"x{TOKEN}"]).map(
        lambda t: {"Authorization": f"Bearer {t}"}
    ),
    st.just({"Authorization": TOKEN}),
)


@EXAMPLES
@given(headers=bad_auth)
def test_p17_no_valid_token_is_401_and_nothing_queued(
    client: Served, embedded_redis_url: str, headers: dict[str, str] | None
) -> None:
    if headers is not None:
        # HTTP drops the value's outer whitespace (and h11 will not send it), so send it so.
        headers = {"Authorization": headers["Authorization"].strip()}
        scheme, _, given_token = headers["Authorization"].partition(" ")
        assume(not (scheme.lower() == "bearer" and given_token.strip() == TOKEN))
    fresh(client, embedded_redis_url)
    reply = ingest(client, "github.com/a/b", headers=headers or {})
    assert reply.status_code == 401 and reply.json()["error"] == "unauthorized"
    assert pending(client) == 0


bad_graph_params = st.one_of(
    st.tuples(
        st.just("similar"),
        st.just("mode"),
        st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=20).filter(
            lambda m: m not in {"hybrid", "structure", "text", "history"}
        ),
    ),
    st.tuples(
        st.sampled_from(["similar", "search"]),
        st.just("limit"),
        st.one_of(st.integers(max_value=0), st.integers(min_value=101)).map(str),
    ),
    st.tuples(st.just("search"), st.just("q"), st.text(min_size=201, max_size=300)),
    st.tuples(st.just("search"), st.just("q"), st.just("")),
    st.tuples(  # nothing to search for: no word of two or more letters
        st.just("search"),
        st.just("q"),
        st.one_of(
            st.text(string.digits + " !?.,-_", min_size=1, max_size=200),
            st.sampled_from(["a b c", "x_1_y", "Q9Z", "i-j-k"]),
        ),
    ),
)


@EXAMPLES
@given(bad=bad_graph_params)
def test_a_bad_similar_or_search_parameter_is_422_naming_it(
    client: Served, bad: tuple[str, str, str]
) -> None:
    route, name, value = bad
    params = {"repo_url": "github.com/a/b", "file_path": "x.py", "q": "session", name: value}
    reply = client.http.get(f"/api/v1/graph/{route}", params=params)
    assert reply.status_code == 422, (params, reply.text)
    body = reply.json()
    assert body["error"] == "invalid_request" and f"query.{name}" in body["detail"]
