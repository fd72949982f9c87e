#!/usr/bin/env bash
# Installs what the tests need (scripts/install.sh --dev, into .venv), then runs the whole suite (slow
# fault-injection tests included) with that environment's Python. Arguments go to pytest.
# PYTHON and VENV as for scripts/install.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --dev
"${VENV:-.venv}/bin/python" -m pytest -q -m "not device" "$@"
