#!/usr/bin/env bash
# Build a standalone Nerfie folder (dist/nerfie/) with PyInstaller from the project's .venv, then check
# that it starts: `nerfie --version` and `nerfie info`. Prints the bundle size and start-up times.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/install.sh
.venv/bin/pip install --quiet "pyinstaller>=6.10"
rm -rf build/bundle dist/nerfie
.venv/bin/pyinstaller --noconfirm --clean --log-level WARN --workpath build/bundle --distpath dist \
    packaging/nerfie.spec
echo "bundle: dist/nerfie ($(du -sh dist/nerfie | cut -f1))"
start=$(date +%s.%N); dist/nerfie/nerfie --version; end=$(date +%s.%N)
echo "start-up (--version): $(echo "$end - $start" | bc) s"
start=$(date +%s.%N); dist/nerfie/nerfie info; end=$(date +%s.%N)
echo "nerfie info: $(echo "$end - $start" | bc) s"
