#!/usr/bin/env bash
# Installs everything the pipeline needs on a fresh Debian machine; safe to run again (skips what is there).
#   bash scripts/install.sh          # the pipeline
#   bash scripts/install.sh --dev    # plus test and benchmark tools (and Chromium for the review-page tests)
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=0
[ "${1:-}" = "--dev" ] && DEV=1

need_apt=()
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
if [ "$DEV" = 1 ]; then
  command -v chromium >/dev/null || need_apt+=(chromium)
  command -v sox >/dev/null || need_apt+=(sox)
  command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
  command -v unshare >/dev/null || need_apt+=(util-linux)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
# The CPU build of torch first, pinned: a looser requirement would pull a CUDA build of several GB.
$PY -m pip install -q "torch==2.13.0"
if [ "$DEV" = 1 ]; then
  $PY -m pip install -q -e ".[dev]"
else
  $PY -m pip install -q -e .
fi
bash scripts/fetch_danish_data.sh
