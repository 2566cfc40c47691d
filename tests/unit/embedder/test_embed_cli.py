"""`alexandria embed --edge-list FILE --output OUT.npy` as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from alexandria.embed_command import EdgeListError, _read_checked, read_edge_list


def _embed(tmp_path: Path, text: str, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    tmp_path.mkdir(exist_ok=True)
    edges, output = tmp_path / "edges.txt", tmp_path / "out.npy"
    edges.write_text(text)
    command = [sys.executable, "-m", "alexandria.cli", "embed", "--edge-list", str(edges)]
    done = subprocess.run(
        [*command, "--output", str(output), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, output


def test_writes_one_float32_row_per_node_including_isolated_ids(tmp_path: Path) -> None:
    done, output = _embed(tmp_path, "0 1\n1 2\n2 0\n# a comment\n\n5 6\n", "--epochs", "5")
    assert done.returncode == 0, done.stderr
    embeddings = np.load(output)
    assert embeddings.shape == (7, 64) and embeddings.dtype == np.float32
    assert np.isfinite(embeddings).all()
    assert "7 nodes, 4 edges" in done.stdout
    assert "epoch 5/5" in done.stderr


def test_a_seed_makes_the_run_reproducible(tmp_path: Path) -> None:
    text = "".join(f"{i} {(i * 7 + 1) % 40}\n" for i in range(40))
    first, output = _embed(tmp_path / "a", text, "--seed", "11", "--epochs", "2")
    second, again = _embed(tmp_path / "b", text, "--seed", "11", "--epochs", "2")
    assert first.returncode == second.returncode == 0
    assert np.array_equal(np.load(output), np.load(again))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 1\n1 x\n", "edges.txt:2: expected two non-negative integers"),
        ("0 -1\n", "expected two non-negative integers"),
        ("0 1 2\n", "expected two non-negative integers"),
        ("# nothing\n", "no edges"),
    ],
)
def test_bad_edge_lists_fail_clearly(tmp_path: Path, text: str, message: str) -> None:
    done, output = _embed(tmp_path, text)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not output.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a CPU-only machine")
def test_cuda_without_a_gpu_is_a_clear_error(tmp_path: Path) -> None:
    done, _ = _embed(tmp_path, "0 1\n", "--device", "cuda")
    assert done.returncode == 1
    assert "CUDA was requested" in done.stderr


def test_read_edge_list_rejects_undecodable_files(tmp_path: Path) -> None:
    path = tmp_path / "bin"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(EdgeListError, match="cannot read"):
        read_edge_list(path)


@settings(max_examples=100, deadline=None)
@given(
    edges=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), min_size=1),
    comments=st.lists(st.sampled_from(["", "# note", "  ", "\t# x 1 2"]), max_size=5),
    trailing=st.sampled_from(["", "  # end", "\t"]),
)
def test_the_fast_reader_reads_what_the_checked_reader_reads(
    tmp_path_factory: pytest.TempPathFactory,
    edges: list[tuple[int, int]],
    comments: list[str],
    trailing: str,
) -> None:
    lines = [f"{a} {b}{trailing}" for a, b in edges]
    for index, comment in enumerate(comments):
        lines.insert(index * 2 % (len(lines) + 1), comment)
    path = tmp_path_factory.mktemp("edges") / "edges.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with mock.patch(
        "alexandria.embed_command._read_checked", side_effect=AssertionError("fell back")
    ):
        fast = read_edge_list(path)  # a well-formed file never reaches the checked reader
    assert fast.dtype == np.int64 and fast.shape == (2, len(edges))
    assert np.array_equal(fast, _read_checked(path))
