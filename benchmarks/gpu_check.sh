#!/usr/bin/env bash
# GPU check for benchmarks/embed_vs_pecanpy.py (never needed by CI).
#
# Run from the repository root on a CUDA machine:  bash benchmarks/gpu_check.sh
# Makes a fresh venv (.venv-gpu), installs the project with the dev and bench extras
# (torch from PyPI ships CUDA wheels on Linux), then runs the 100,000-node power-law
# benchmark: ours on --device cuda, PecanPy on the CPU, in the same run. The script
# prints times, AUCs, peak RSS and torch.cuda.max_memory_allocated() of our side.
# NODES=20000 or GRAPHS=torch,powerlaw PQ="1,1" PECANPY_EPOCHS=1 override the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv-gpu}
NODES=${NODES:-100000}
GRAPHS=${GRAPHS:-powerlaw}
PQ=${PQ:-"1,1;1,0.5"}
PECANPY_EPOCHS=${PECANPY_EPOCHS:-1,10}

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet -e '.[dev,bench]'
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$VENV/bin/python" - <<'PY'
import torch
assert torch.cuda.is_available(), "torch sees no CUDA device"
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name()}")
PY
"$VENV/bin/python" benchmarks/embed_vs_pecanpy.py --device cuda --graphs "$GRAPHS" \
  --nodes "$NODES" --pq "$PQ" --pecanpy-epochs "$PECANPY_EPOCHS"
