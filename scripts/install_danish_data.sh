#!/usr/bin/env bash
# Fetches the Danish name list (PyPI wheel dacy 2.9.0) and word list (Debian package wdanish) that
# Danish de-identification uses, into the model cache, each checked against its recorded sha256.
# Safe to run again (skips what is there). Run by scripts/install.sh as a hook.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
$PY -m pipeline.deid.danish_data
