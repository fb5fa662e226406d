#!/usr/bin/env bash
# One prepared GPU check: correctness of the Triton kernels on real CUDA, then the benchmark.
# Run from the repository root on a CUDA machine (e.g. the lent H100/H200); paste the output into
# benchmarks/RESULTS.md with the GPU name and date.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
"$PY" -m pytest -q -p no:cacheprovider tests/test_hashgrid.py
"$PY" benchmarks/hashgrid.py --sizes 18 20 --min-time 0.5
# The model issue's GPU figure: the deforming capture at 256², gpu-standard, 2 minutes, with and without
# bfloat16 mixed precision, and what the auto preset picks on this GPU for the same budget.
"$PY" benchmarks/train_synthetic.py --minutes 2 --size 256 --preset gpu-standard --runs dynamic
"$PY" benchmarks/train_synthetic.py --minutes 2 --size 256 --preset gpu-standard --runs dynamic \
    --set train.mixed_precision=false
"$PY" benchmarks/train_synthetic.py --minutes 2 --size 256 --runs dynamic-auto
