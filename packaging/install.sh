#!/usr/bin/env bash
# Install Nerfie into ./.venv — idempotent: a second run only checks and returns.
#
#   packaging/install.sh          # the app
#   packaging/install.sh --dev    # plus test tools (pytest, pytest-qt, ruff, triton)
#
# torch: kept if the venv already has it. Otherwise a machine with an NVIDIA GPU gets PyPI's CUDA
# build, and every other machine gets the CPU wheel from PyTorch's CPU index (a few hundred MB
# instead of several GB). Set NERFIE_TORCH_SPEC (e.g. "torch==2.13.0+cu128 --index-url ...") to choose.
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS=""
if [[ "${1:-}" == "--dev" ]]; then EXTRAS="[dev]"; fi
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="2.13.0"

if [[ ! -x .venv/bin/python ]]; then
  echo "nerfie install: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
VPY=.venv/bin/python

if ! "$VPY" -c "import torch" 2>/dev/null; then
  if [[ -n "${NERFIE_TORCH_SPEC:-}" ]]; then
    # shellcheck disable=SC2086
    "$VPY" -m pip install $NERFIE_TORCH_SPEC
  elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "nerfie install: NVIDIA GPU found, installing CUDA torch"
    "$VPY" -m pip install "torch==${TORCH_VERSION}"
  else
    echo "nerfie install: no NVIDIA GPU, installing the CPU build of torch"
    # --no-deps: only torch itself comes from PyTorch's index; its dependencies come from PyPI
    # with Nerfie's below (and an unreachable extra index costs one quick retry, not minutes).
    "$VPY" -m pip install --no-deps --retries 1 "torch==${TORCH_VERSION}+cpu" \
      --extra-index-url https://download.pytorch.org/whl/cpu
  fi
fi

# Re-install Nerfie only when its metadata changed since the last install.
STAMP=".venv/.nerfie-install${EXTRAS:+-dev}"
HASH="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [[ ! -f "$STAMP" ]] || [[ "$(cat "$STAMP")" != "$HASH" ]]; then
  "$VPY" -m pip install -q -e ".${EXTRAS}"
  echo "$HASH" > "$STAMP"
fi
"$VPY" -c "import nerfie.recon, sys; print('nerfie install: ok,', nerfie.recon.__version__, file=sys.stderr)"
