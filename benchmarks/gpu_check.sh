#!/usr/bin/env bash
# GPU check for benchmarks/embed_vs_pecanpy.py (never needed by CI).
#
# Run from the repository root on a CUDA machine:  bash benchmarks/gpu_check.sh
# Runs the CUDA tests (tests/unit/embedder/test_embedder_cuda.py), then the 100,000-node
# power-law benchmark: ours on --device cuda and PecanPy on that
# machine's CPU, in the same run, printing times, AUCs, peak RSS and our
# torch.cuda.max_memory_allocated().
#
# Python: with a folder WHEELS (default .whl) of wheels beside it, the machine's own
# python3 is used (it must have torch with CUDA, torch_geometric, numpy, scipy,
# scikit-learn, networkx and numba) and the wheels are installed into a scratch
# folder without the network: the setup for an offline GPU machine. Fetch them on a
# machine with the network, for the GPU machine's Python (here 3.12):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl \
#     pecanpy==2.0.9 gensim==4.4.0 nptyping==2.0.1 smart_open numba-progress
# Without WHEELS it makes a venv (.venv-gpu) and installs the project with the dev and
# bench extras from PyPI (torch from PyPI ships CUDA wheels on Linux).
# NODES=20000, PQ="1,1", PECANPY_EPOCHS=1 or PECANPY_BIASED=SparseOTF override the defaults;
# arguments go to the benchmark after them (e.g. --hk-m 4 --hk-triangle 0.3 --seed 7 --lr 0.035,0.02).
set -euo pipefail
cd "$(dirname "$0")/.."

WHEELS=${WHEELS:-.whl}
NODES=${NODES:-100000}
PQ=${PQ:-"1,1;1,0.5"}
PECANPY_EPOCHS=${PECANPY_EPOCHS:-1}
PECANPY_BIASED=${PECANPY_BIASED:-SparseOTF,PreComp}

if [ -d "$WHEELS" ]; then
  PY=python3
  SITE=$(mktemp -d)
  "$PY" -m pip install --quiet --no-index --no-deps --no-compile --target "$SITE" "$WHEELS"/*.whl
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
else
  VENV=${VENV:-.venv-gpu}
  PY="$VENV/bin/python"
  if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
    "$PY" -m pip install --quiet --upgrade pip
    "$PY" -m pip install --quiet -e '.[dev,bench]'
  fi
fi
# Start-up should be that of an installed program. The device machines here set
# PYTHONDONTWRITEBYTECODE=1 and their torch_geometric has no .pyc, so every process
# compiled its modules again: importing it took 6-14 s there, 3.3-3.6 s with the
# bytecode cached. Cache it (for PecanPy's numba and gensim too) and warm the cache.
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX=${PYTHONPYCACHEPREFIX:-${TMPDIR:-/tmp}/alexandria-pycache}
"$PY" -W ignore -c "import torch_geometric, numba, gensim"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" - <<'PY'
import torch
assert torch.cuda.is_available(), "torch sees no CUDA device"
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name()}")
PY
# The CUDA-only tests first: real out-of-memory fallbacks, cancellation freeing memory.
"$PY" -m pytest -q -p no:cacheprovider -s tests/unit/embedder/test_embedder_cuda.py
PYTHONUNBUFFERED=1 "$PY" benchmarks/embed_vs_pecanpy.py --device cuda --graphs powerlaw \
  --nodes "$NODES" --pq "$PQ" --pecanpy-epochs "$PECANPY_EPOCHS" \
  --pecanpy-biased "$PECANPY_BIASED" "$@"
