#!/usr/bin/env bash
# Shows that the README's commands work on a clean checkout with a given Python: a fresh `git clone`
# of this repository (its committed HEAD) into a temporary folder, then
#   1. bash scripts/install.sh && .venv/bin/interview-pipeline run audio_samples/ --out out/
#      (the two halves timed apart; --no-progress added)
#      (checked: transcripts, pseudonymised exports, the QDPX project, a review page)
#   2. bash scripts/test.sh TESTS      (the fast tests below; --full: the whole suite)
#   3. with --wheel: the built wheel installed (not editable) into a second fresh environment, run on
#      the sample interviews from another folder, with configs/default.yaml read from the package.
#   --wheel-only: step 3 alone, its environment with the test tools too, then the fast tests run
#      against that installed package (a smoke test that costs one environment, not two).
#
#   bash scripts/check_fresh_install.sh /usr/bin/python3                 # Debian's own Python (PEP 668)
#   bash scripts/check_fresh_install.sh ~/.pyenv/versions/3.10.13/bin/python --wheel-only
# The pip cache is shared with other runs (downloads are not repeated); nothing else is reused.
set -euo pipefail
# (all in one function: bash reads it whole before running, so editing this file mid-run is safe)
main() {
  REPO=$(cd "$(dirname "$0")/.." && pwd)
  PY=${1:?usage: check_fresh_install.sh PYTHON [--wheel | --wheel-only] [--full]}
  shift
  WHEEL=0 FULL=0 EDITABLE=1
  for a in "$@"; do
    case $a in
      --wheel) WHEEL=1 ;; --wheel-only) WHEEL=1 EDITABLE=0 ;; --full) FULL=1 ;;
      *) echo "unknown option $a" >&2; exit 2 ;;
    esac
  done
  FAST_TESTS=(tests/test_install.py tests/test_config.py tests/test_store.py tests/test_ingest.py)

  WORK=$(mktemp -d "${TMPDIR:-/tmp}/fresh-install.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  step() { echo "== $(date +%T) $* ($(( SECONDS ))s)"; }
  git clone -q "$REPO" "$WORK/repo"
  # the evaluation recordings sit beside the repository (../shared/eval), read in place by the tests
  [ -d "$REPO/../shared" ] && ln -s "$(cd "$REPO/../shared" && pwd)" "$WORK/shared"
  cd "$WORK/repo"

  if [ "$EDITABLE" = 1 ]; then
    step "1. README command 1 with $("$PY" -V 2>&1) ($PY)"
    t0=$SECONDS
    PYTHON=$PY bash scripts/install.sh
    t1=$SECONDS
    .venv/bin/interview-pipeline run audio_samples/ --out out/ --no-progress
    echo "install.sh: $(( t1 - t0 )) s; run on the sample interviews: $(( SECONDS - t1 )) s"
    for f in out/restricted/interview-01/transcript.json out/restricted/interview-02/transcript.json \
      out/shareable/interview-01/transcript.json out/shareable/interview-02/interview-02.docx out/shareable/project.qdpx; do
      [ -s "$f" ] || { echo "missing after command 1: $f" >&2; exit 1; }
    done
    .venv/bin/interview-pipeline review out/ >/dev/null
    [ -s out/restricted/interview-01/review.html ] || { echo "no review page written" >&2; exit 1; }
    step "re-run of install.sh"
    t0=$SECONDS
    PYTHON=$PY bash scripts/install.sh
    echo "install.sh re-run: $(( SECONDS - t0 )) s"
    .venv/bin/interview-pipeline doctor

    if [ "$FULL" = 1 ]; then
      step "2. README command 2 (the whole suite)"
      PYTHON=$PY bash scripts/test.sh
    else
      step "2. README command 2 on the fast tests"
      PYTHON=$PY bash scripts/test.sh "${FAST_TESTS[@]}"
    fi
  fi

  if [ "$WHEEL" = 1 ]; then
    step "3. the built wheel in a fresh environment"
    "$PY" -m venv "$WORK/build-venv"
    "$WORK/build-venv/bin/python" -m pip wheel -q --no-deps -w "$WORK/dist" .
    wheel=$(ls "$WORK"/dist/interview_pipeline-*.whl)
    extras=""
    [ "$EDITABLE" = 0 ] && extras="[dev]"
    PYTHON=$PY VENV=$WORK/wheel-venv PACKAGE="$wheel$extras" bash scripts/install.sh
    mkdir "$WORK/elsewhere" && cd "$WORK/elsewhere"
    "$WORK/wheel-venv/bin/python" -c '
import importlib.resources, pipeline
from pipeline.config import load_config
assert "site-packages" in pipeline.__file__, pipeline.__file__
default = importlib.resources.files("pipeline") / "configs" / "default.yaml"
load_config(str(default))
print("configs/default.yaml in the installed package:", default.is_file())'
    "$WORK/wheel-venv/bin/interview-pipeline" run "$WORK/repo/audio_samples" --out out/ --no-progress
    "$WORK/wheel-venv/bin/interview-pipeline" review out/ >/dev/null
    [ -s out/restricted/interview-02/review.html ] && [ -s out/shareable/project.qdpx ] \
      || { echo "the wheel's run wrote no review page or project" >&2; exit 1; }
    if [ "$EDITABLE" = 0 ]; then
      step "the fast tests against the installed wheel"
      cd "$WORK/repo"  # pytest's own script: the installed package is imported, not ./pipeline
      "$WORK/wheel-venv/bin/pytest" -q -m "not device" "${FAST_TESTS[@]}"
    fi
  fi
  step "fresh install with $("$PY" -V 2>&1): all steps passed"
}
main "$@"
