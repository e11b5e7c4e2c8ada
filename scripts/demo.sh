#!/usr/bin/env bash
# Set up (if needed) and run the main job on embedded defaults: a virtual card on a
# virtual reader through the real PC/SC stack (pcscd + vpcd), SQLite, and the clearly
# labelled development key set. Nothing here is fit for production keys or cards.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARDKIT_ALLOW_DEV_KEYS=1
exec .venv/bin/cardkit demo --workdir var/demo "$@"
