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
# The D-NeRF issue's GPU figure: hook and mutant, 5 minutes each, gpu-standard (goal: the published TiNeuVox-B
# row, 31.45 / 33.61 dB). The scenes are never copied into the repository: point NERFIE_SHARED_DATA at the
# folder holding dnerf_hook/ and dnerf_mutant/ (default ../shared/data); absent scenes are skipped, with the reason.
"$PY" benchmarks/dnerf.py --scenes hook mutant --minutes 5 --preset gpu-standard
