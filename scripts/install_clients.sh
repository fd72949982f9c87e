#!/usr/bin/env bash
# Installs (with --dev) the real coding-tool clients the export tests run (tests/test_export_clients.py).
# Idempotent: a client already installed is left as it is (a stamp file records the install).
#
#   QualCoder  its source is at ../shared/clients/qualcoder (not on PyPI); its own venv gets the
#              packages its import needs (PyQt6 and a few; its AI packages are not needed).
#   Taguette   from PyPI, in its own venv (it pins its own versions); its document converter
#              needs calibre's ebook-convert (Debian package calibre, installed when missing
#              and apt-get is available; skip it with INSTALL_CLIENTS_NO_APT=1).
#
# Where: $INTERVIEW_PIPELINE_CLIENTS (default ~/.cache/interview-pipeline/clients), outside the
# repository, so every checkout on the machine shares one install. The tests look there too.
# A client that fails to install is reported and its tests skip with the reason; this script then
# exits non-zero only if NO client could be installed.
set -uo pipefail
# A hook of scripts/install.sh: only the test install (--dev) needs the clients.
[ "${1:-}" = "--dev" ] || exit 0

ROOT="${INTERVIEW_PIPELINE_CLIENTS:-$HOME/.cache/interview-pipeline/clients}"
PY="${PYTHON:-python3}"
mkdir -p "$ROOT"
ok=0

venv() {  # venv DIR STAMP PACKAGES...
  local dir="$1" stamp="$2"; shift 2
  if [[ -f "$dir/.installed" && "$(cat "$dir/.installed")" == "$stamp" ]]; then
    echo "install_clients: $(basename "$dir") already installed"; return 0
  fi
  rm -rf "$dir"
  "$PY" -m venv "$dir" && "$dir/bin/pip" install -q --disable-pip-version-check "$@" \
    && echo "$stamp" > "$dir/.installed"
}

# QualCoder's import needs these (its README, ../shared/clients/qualcoder/README.md).
QC_PKGS=("PyQt6>=6.5,<7" "pymupdf<2" "Pillow<13" "qtawesome<2" "python-vlc<4" "openpyxl<4" "pandas<3"
         "odfpy<2" "rispy<1" "striprtf<1" "diff-match-patch" "pdfminer.six" "charset-normalizer<4"
         "json_repair<1" "tabulate<1" "defusedxml<1" "PyYAML<7")
if venv "$ROOT/qualcoder-venv" "v1 ${QC_PKGS[*]}" "${QC_PKGS[@]}"; then ok=1
else echo "install_clients: QualCoder's packages failed to install; its tests will skip" >&2; fi

TAG_PKGS=("taguette>=1.5,<2")
if venv "$ROOT/taguette-venv" "v1 ${TAG_PKGS[*]}" "${TAG_PKGS[@]}"; then ok=1
else echo "install_clients: taguette failed to install; its tests will skip" >&2; fi

apt_calibre() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends calibre >/dev/null; }
if ! command -v ebook-convert >/dev/null && [[ -z "${INSTALL_CLIENTS_NO_APT:-}" ]] && command -v apt-get >/dev/null; then
  echo "install_clients: installing calibre (Taguette's converter for .txt/.docx)"
  apt_calibre || { apt-get update -qq && apt_calibre; } \
    || echo "install_clients: calibre failed to install; Taguette's .txt/.docx tests will skip" >&2
fi

[[ $ok == 1 ]]
