#!/usr/bin/env bash
# Fetches the Danish name list (PyPI wheel dacy 2.9.0) and word list (Debian package wdanish) that
# Danish de-identification uses, into the model cache, each checked against its recorded sha256.
# Safe to run again (skips what is there). Run by scripts/install.sh as a hook. Without the lists the
# pipeline still runs (Danish on Faker's lists only, with a warning), so a failure here warns and
# does not stop the install.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! $PY -m pipeline.deid.danish_data; then
  # a fresh machine may have empty apt package lists: update them once and try again
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq || true
  $PY -m pipeline.deid.danish_data \
    || echo "warning: Danish name/word lists not fetched; Danish de-identification uses Faker's lists only" >&2
fi
