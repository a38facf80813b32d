#!/usr/bin/env bash
# CI, after `make test`: build the frozen one-folder app from a clean build venv and check it
# (mk/installer.mk, mk/installer-smoke.sh). Prints how long the build and checks took.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
make installer
built=$(date +%s)
mk/installer-smoke.sh dist/sim-desk
finished=$(date +%s)
echo "installer-smoke: build $((built - started)) s (including the build venv if it was made)," \
    "checks $((finished - built)) s"
