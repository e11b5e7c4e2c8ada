#!/usr/bin/env bash
# Set up (if needed) and run the test suite. The fixtures start pcscd and the virtual
# cards themselves. Extra arguments go to pytest (e.g. -m slow, --reader "ACS ACR122U").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export QT_QPA_PLATFORM=offscreen
# the habits first: lint, format and types (seconds), then the tests
.venv/bin/python -m ruff check --quiet .
.venv/bin/python -m ruff format --check --quiet .
.venv/bin/python -m mypy --no-error-summary cardkit applets keys station
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
