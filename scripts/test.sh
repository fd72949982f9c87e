#!/usr/bin/env bash
# Installs what the tests need, then runs the whole suite (slow fault-injection tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --dev
python3 -m pytest -q -m "not device" "$@"
