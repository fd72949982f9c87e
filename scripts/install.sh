#!/usr/bin/env bash
# Installs the pipeline into a virtual environment (.venv in this folder), so it works with a
# system Python that refuses `pip install` (PEP 668: Debian 12, Ubuntu 23.04 and later).
# Safe to run again: what is already there is skipped (a re-run takes a few seconds).
#
#   bash scripts/install.sh          # the pipeline: .venv/bin/interview-pipeline
#   bash scripts/install.sh --dev    # plus test and benchmark tools (and, through apt, Chromium, sox,
#                                    # espeak-ng and ffmpeg, which only the tests use)
#
# Environment: PYTHON   the interpreter the environment is made from (default: python3; 3.10 to 3.13)
#              VENV     where the environment goes (default: .venv)
#              PACKAGE  what to install instead of this folder in editable mode (e.g. a built wheel)
#
# Hooks: every scripts/install_*.sh is run after the package, in name order, as
#   bash scripts/install_X.sh [--dev]     with PYTHON=<the environment's python> and VENV exported;
# a hook must be safe to run again and fast when its work is already done.
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=0
[ "${1:-}" = "--dev" ] && DEV=1
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH=2.13.0
say() { echo "install: $*" >&2; }

as_root() {  # apt for what only Debian provides; never needed by the pipeline's own run
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "cannot run '$*' (not root, no sudo)"; return 1; fi
}
apt_install() {
  command -v apt-get >/dev/null || { say "missing: $*; install them with your system's package manager"; return 1; }
  as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. The virtual environment. Debian/Ubuntu split venv and the C headers out of their python3.
command -v "$PY" >/dev/null || { say "no '$PY' found; set PYTHON to a Python 3.10-3.13 interpreter"; exit 1; }
"$PY" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] <= (3, 13)))' \
  || { say "$("$PY" -V 2>&1) is not supported: use Python 3.10 to 3.13 (set PYTHON=...)"; exit 1; }
same_python() { [ "$("$VENV/bin/python" -c 'import sys; print(sys.version)' 2>/dev/null)" = "$("$PY" -c 'import sys; print(sys.version)')" ]; }
if [ -x "$VENV/bin/python" ] && ! same_python; then
  say "$VENV was made with another Python than $PY; making it again"
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import pip' 2>/dev/null; then
  rm -rf "$VENV"
  if ! "$PY" -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    ver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    say "$PY cannot make a virtual environment; installing python$ver-venv with apt"
    apt_install "python$ver-venv"
    "$PY" -m venv "$VENV"
  fi
fi
VPY=$VENV/bin/python
# webrtcvad (needed by resemblyzer) is built from source: it needs a C compiler and Python.h.
if ! "$VPY" -c 'import webrtcvad' 2>/dev/null; then
  inc=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  if [ ! -f "$inc/Python.h" ] || ! command -v cc >/dev/null; then
    ver=$("$VPY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    say "building webrtcvad needs a C compiler and Python's headers; installing gcc and python$ver-dev with apt"
    apt_install gcc "python$ver-dev" || true
  fi
fi

# 2. Test-only system tools.
if [ "$DEV" = 1 ]; then
  need=()
  command -v ffmpeg >/dev/null || need+=(ffmpeg)  # the tests make media with it; the pipeline does not need it
  command -v chromium >/dev/null || need+=(chromium)
  command -v sox >/dev/null || need+=(sox)
  command -v espeak-ng >/dev/null || need+=(espeak-ng)
  command -v unshare >/dev/null || need+=(util-linux)
  [ ${#need[@]} -eq 0 ] || apt_install "${need[@]}" || say "tests that need ${need[*]} will be skipped"
fi

# 3. torch, pinned, CPU build first: PyPI's Linux wheel of torch is the CUDA build (about 3 GB more).
if ! "$VPY" -c "import importlib.metadata as m, sys; sys.exit(m.version('torch').split('+')[0] != '$TORCH')" 2>/dev/null; then
  if [ "$(uname -s)" = Linux ]; then
    cpu_index=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
    extra=()
    if "$VPY" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10)" "$cpu_index/torch/" 2>/dev/null; then
      extra=(--extra-index-url "$cpu_index")
    fi
    if ! "$VPY" -m pip install -q --only-binary torch "torch==$TORCH+cpu" ${extra[@]+"${extra[@]}"} 2>/dev/null; then
      say "no CPU build of torch $TORCH for $("$VPY" -V) can be reached; installing PyPI's (CUDA) build"
      "$VPY" -m pip install -q "torch==$TORCH"
    fi
  else  # macOS and Windows: PyPI's wheels are the CPU builds
    "$VPY" -m pip install -q "torch==$TORCH"
  fi
fi

# 4. The package (editable: the code stays in this folder), skipped when pyproject.toml is unchanged.
extras=""
[ "$DEV" = 1 ] && extras="[dev]"
stamp=$VENV/.interview-pipeline-installed
want="$(cat pyproject.toml "$0" | cksum) $extras $(pwd)"
if [ -n "${PACKAGE:-}" ]; then
  "$VPY" -m pip install -q "$PACKAGE"
elif [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! "$VPY" -c 'import pipeline' 2>/dev/null; then
  "$VPY" -m pip install -q -e ".$extras"
  echo "$want" >"$stamp"
fi

# 5. Hooks of other parts (test clients, name tables, ...).
hook_args=()
[ "$DEV" = 1 ] && hook_args=(--dev)
for hook in scripts/install_*.sh; do
  [ -f "$hook" ] || continue
  PYTHON=$VPY VENV=$VENV bash "$hook" ${hook_args[@]+"${hook_args[@]}"}
done
say "ready: $VENV/bin/interview-pipeline ($("$VPY" -V))"
