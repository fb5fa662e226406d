#!/usr/bin/env sh
# Kept for old habits: the installer is packaging/install.py (Linux, macOS, Windows).
exec "${PYTHON:-python3}" "$(dirname "$0")/install.py" "$@"
