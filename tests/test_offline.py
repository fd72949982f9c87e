"""Offline, verified: the whole pipeline in a network namespace with no interfaces, and a guard that
fails the test on any attempt to reach a non-loopback address (main process and workers alike).

Neither test sets HF_HUB_OFFLINE or similar flags: the code must not try, whatever the environment.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from robust_helpers import (
    REPO,
    TINY,
    can_unshare_net,
    clean_env,
    cli,
    guard_attempts,
    guard_env,
    guarded_pids,
    sample,
    short_batch,
)

from pipeline.export.registry import WRITERS

ALL_FORMATS = ",".join(WRITERS)
TYPED = (
    "Interviewer: Thanks for coming in. How can people reach you?\n"
    "Participant: I'm Mette Holm. Write to mette.holm@example.org or look at https://www.example.co.uk/team/mette,\n"
    "or call +44 20 7946 0958. My old site was holm-consulting.example.net.\n"
)


def _ok(r: subprocess.CompletedProcess, what: str) -> None:
    assert r.returncode == 0, (
        f"{what}: exit {r.returncode}\nstdout: {r.stdout[-1500:]}\nstderr: {r.stderr[-3000:]}"
    )


def _whole_pipeline(
    out: Path, audio: list[Path], typed: Path, env: dict, prefix: list[str] | None = None, workers: int = 1
) -> None:
    """run -> deidentify (typed transcript) -> export (every format) -> review -> status, each must succeed."""
    _ok(
        cli(
            ["run", *map(str, audio), "--out", str(out), "--workers", str(workers), *TINY],
            env=env,
            prefix=prefix,
        ),
        "run",
    )
    _ok(
        cli(["deidentify", str(typed), "--out", str(out), "--no-progress"], env=env, prefix=prefix),
        "deidentify",
    )
    _ok(cli(["export", str(out), "--format", ALL_FORMATS, "--no-progress"], env=env, prefix=prefix), "export")
    _ok(cli(["review", str(out)], env=env, prefix=prefix), "review")
    _ok(cli(["status", str(out)], env=env, prefix=prefix), "status")


def _check_outputs(out: Path, ids: list[str]) -> None:
    m = json.loads((out / "manifest.json").read_text())["interviews"]
    for iid in ids:
        assert all(m[iid]["stages"][s]["status"] == "done" for s in ("speakers", "deidentify")), iid
        assert (out / "restricted" / iid / "review.html").is_file()
        assert (out / "shareable" / iid / "transcript.txt").is_file()
    assert m["_project"]["stages"]["export"]["status"] == "done"
    exported = set(m["_project"]["stages"]["export"]["outputs"])
    assert any(p.endswith(".qdpx") for p in exported) and any(p.endswith(".srt") for p in exported)
    typed = (out / "shareable" / "p09" / "transcript.txt").read_text()
    for value in ("mette.holm@example.org", "Mette", "Holm", "example.co.uk/team"):
        assert value.lower() not in typed.lower(), (
            f"typed transcript still holds a planted value ({len(value)} chars)"
        )
    assert "2079460958" not in re.sub(r"\D", "", typed), "typed transcript still holds the phone number"


@pytest.fixture
def typed(tmp_path: Path) -> Path:
    p = tmp_path / "p09.txt"
    p.write_text(TYPED, encoding="utf-8")
    return p


@pytest.mark.slow
def test_whole_pipeline_succeeds_in_a_network_namespace_without_interfaces(tmp_path, typed):
    reason = can_unshare_net()
    if reason:
        pytest.skip(reason)
    ns = ["unshare", "-n", "--"]
    env = clean_env(tmp_path / "home")
    # Control: inside the namespace there is only a loopback device, down, and nothing is reachable.
    probe = subprocess.run(
        [*ns, sys.executable, "-c",
         "import os, socket\n"
         "print(sorted(n for _, n in socket.if_nameindex()))\n"
         "try:\n socket.create_connection(('192.0.2.1', 80), timeout=3); print('connected')\n"
         "except OSError as e: print(e.errno)"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert probe.stdout.split("\n")[:2] == ["['lo']", "101"], probe.stdout + probe.stderr  # ENETUNREACH
    out = tmp_path / "OUT"
    _whole_pipeline(out, [sample("interview_01.mp3")], typed, env, prefix=ns)
    _check_outputs(out, ["interview-01", "p09"])


def test_network_guard_catches_the_known_offenders(tmp_path):
    """The guard is not blind: a download, a TCP connect and tldextract's default list fetch are caught,
    a loopback connection is not."""
    log, loaded = tmp_path / "net.log", tmp_path / "loaded"
    env = guard_env(tmp_path / "home", tmp_path / "guard", log, loaded)
    cases = {
        "download": "import urllib.request\ntry: urllib.request.urlopen('https://publicsuffix.org/list/public_suffix_list.dat', timeout=2)\nexcept OSError: pass",
        "connect": "import socket\ntry: socket.create_connection(('192.0.2.1', 80), timeout=2)\nexcept OSError: pass",
        "tldextract": "import tldextract\ntldextract.TLDExtract()('a.example.co.uk')",
        "loopback": "import socket\ns = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\nsocket.create_connection(s.getsockname(), timeout=2).close()",
    }
    caught = {}
    for name, code in cases.items():
        before = len(guard_attempts(log))
        r = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, f"{name}: {r.stderr[-1000:]}"
        caught[name] = len(guard_attempts(log)) - before
    assert caught["download"] >= 1 and caught["connect"] >= 1 and caught["tldextract"] >= 1, caught
    assert caught["loopback"] == 0, caught
    assert len(guarded_pids(loaded)) == len(cases)


@pytest.mark.slow
def test_no_network_attempt_during_a_full_run_with_workers(tmp_path, typed):
    """run (two worker processes: model loads, VAD, speaker embeddings), deidentify (Presidio, spaCy,
    tldextract on e-mail and URL), export of every format and review: not one non-loopback attempt."""
    log, loaded = tmp_path / "net.log", tmp_path / "loaded"
    env = guard_env(tmp_path / "home", tmp_path / "guard", log, loaded)
    audio = short_batch(tmp_path / "in")[:2]
    out = tmp_path / "OUT"
    _whole_pipeline(out, audio, typed, env, workers=2)
    attempts = guard_attempts(log)
    assert attempts == [], json.dumps(attempts, indent=1)[:4000]
    # the guard ran in the coordinator and in the spawned workers (5 CLI calls + at least 2 workers)
    assert len(guarded_pids(loaded)) >= 7, guarded_pids(loaded)
    print(f"\nOFFLINE guarded processes: {len(guarded_pids(loaded))}, non-loopback attempts: {len(attempts)}")
    _check_outputs(out, ["k1", "k2", "p09"])


def test_deid_package_keeps_tldextract_offline_after_import(tmp_path):
    """The deid package empties TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS before Presidio loads tldextract:
    a default extractor built afterwards reads that and uses its bundled snapshot."""
    log, loaded = tmp_path / "net.log", tmp_path / "loaded"
    env = guard_env(tmp_path / "home", tmp_path / "guard", log, loaded)
    code = (
        "import pipeline.deid, tldextract\n"
        "from pipeline.deid.engine import Deidentifier\n"
        "r = tldextract.TLDExtract()('a.example.co.uk')\n"
        "assert r.suffix == 'co.uk', r\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert guard_attempts(log) == []
