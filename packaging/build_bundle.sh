#!/usr/bin/env bash
# Build a standalone Nerfie folder (dist/nerfie/) with PyInstaller from the project's .venv, then check
# that it starts: `nerfie --version` and `nerfie info`. Prints the bundle size and start-up times.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/install.sh
.venv/bin/pip install --quiet "pyinstaller>=6.10"
export QT_QPA_PLATFORM=offscreen  # PyInstaller imports Qt modules while analysing them
rm -rf build/bundle dist/nerfie
# The editable install maps app/ recon/ render/ onto nerfie.* with an import hook PyInstaller cannot
# follow: give it a regular installed copy of the package to analyse instead.
.venv/bin/pip install --quiet --no-deps --no-build-isolation --target build/bundle/site .
export NERFIE_BUNDLE_SITE="$PWD/build/bundle/site"
.venv/bin/pyinstaller --noconfirm --clean --log-level WARN --workpath build/bundle --distpath dist \
    packaging/nerfie.spec
echo "bundle: dist/nerfie ($(du -sh dist/nerfie | cut -f1))"
start=$(date +%s.%N); dist/nerfie/nerfie --version; end=$(date +%s.%N)
echo "start-up (--version): $(echo "$end - $start" | bc) s"
start=$(date +%s.%N); dist/nerfie/nerfie info; end=$(date +%s.%N)
echo "nerfie info: $(echo "$end - $start" | bc) s"
