"""End to end through the CLI: a batch with bad files, re-runs that skip finished work, SIGKILL and resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import REPO, eval_path

from pipeline.cli import main
from pipeline.store import TMP_MARK

TINY = ["--model", "tiny.en", "--no-progress"]


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def _tmp_files(out: Path) -> list[Path]:
    return [p for p in out.rglob(f"*{TMP_MARK}*")]


@pytest.fixture
def batch(tmp_path):
    d = tmp_path / "in put"
    d.mkdir()
    shutil.copy(eval_path("asr", "jfk.flac"), d / "Ærø interview 1.flac")
    sf.write(d / "silence.wav", np.zeros(16000 * 3, dtype="float32"), 16000)
    (d / "empty.mp3").write_bytes(b"")
    (d / "notes.mp3").write_text("not audio\n" * 50)
    data = eval_path("asr", "multilingual.mp3").read_bytes()
    (d / "cut.mp3").write_bytes(data[: len(data) // 3])
    sf.write(d / "zero.wav", np.zeros(0, dtype="int16"), 16000)
    return d


def test_batch_with_bad_files_names_each_and_finishes_the_good_ones(batch, tmp_path, capsys):
    out = tmp_path / "out"
    missing = tmp_path / "nowhere.wav"
    code = main(["run", str(batch), str(missing), "--out", str(out), *TINY])
    printed = capsys.readouterr().out
    assert code == 1
    m = _manifest(out)["interviews"]
    # file names that are not codes (P01, INT-03) get neutral ids: found by their source file
    by_file = {Path(rec["source"]).name: iid for iid, rec in m.items() if rec.get("source")}
    aero, silent = by_file["Ærø interview 1.flac"], by_file["silence.wav"]
    assert aero.startswith("interview-") and silent.startswith("interview-")
    good = m[aero]["stages"]
    assert all(good[s]["status"] == "done" for s in ("ingest", "transcribe", "speakers", "deidentify"))
    assert m[silent]["stages"]["deidentify"]["status"] == "done"
    silence = json.loads((out / "restricted" / silent / "transcript.json").read_text())
    assert silence["segments"] == []
    for name, reason in [
        ("empty.mp3", "empty file"),
        ("notes.mp3", "ffmpeg can"),
        ("cut.mp3", "truncated"),
        ("zero.wav", "no audio"),
        ("nowhere.wav", "no such file"),
    ]:
        line = next((ln for ln in printed.splitlines() if name in ln), "")
        assert reason in line and "failed" in line, (name, printed)
    # the good interview is shareable; the transcript schema is the public contract
    t = json.loads((out / "shareable" / aero / "transcript.json").read_text())
    assert {"schema_version", "interview_id", "language", "speakers", "segments"} <= set(t)
    seg = t["segments"][0]
    assert {"id", "start", "end", "speaker", "text", "words"} <= set(seg)
    assert {"start", "end", "text", "probability"} <= set(seg["words"][0])
    assert not _tmp_files(out)

    # a re-run redoes nothing that finished, and still reports the bad files
    before = {k: v["stages"] for k, v in _manifest(out)["interviews"].items()}
    code = main(["run", str(batch), "--out", str(out), *TINY])
    assert code == 1
    after = _manifest(out)["interviews"]
    for iid in (aero, silent):
        for stage in ("ingest", "transcribe", "speakers", "deidentify"):
            assert after[iid]["stages"][stage]["finished_at"] == before[iid][stage]["finished_at"]


def test_changed_config_redoes_only_the_affected_stages(tmp_path):
    src = tmp_path / "a.flac"
    shutil.copy(eval_path("asr", "jfk.flac"), src)
    out = tmp_path / "out"
    assert main(["run", str(src), "--out", str(out), *TINY]) == 0
    first = _manifest(out)["interviews"]["a"]["stages"]
    cfg = tmp_path / "c.yaml"
    cfg.write_text("transcribe:\n  beam_size: 2\n")
    assert main(["run", str(src), "--out", str(out), "--config", str(cfg), *TINY]) == 0
    second = _manifest(out)["interviews"]["a"]["stages"]
    assert second["ingest"]["finished_at"] == first["ingest"]["finished_at"]
    assert second["transcribe"]["finished_at"] > first["transcribe"]["finished_at"]


def test_corrupted_artefact_is_detected_and_redone(tmp_path):
    src = tmp_path / "a.flac"
    shutil.copy(eval_path("asr", "jfk.flac"), src)
    out = tmp_path / "out"
    assert main(["run", str(src), "--out", str(out), *TINY]) == 0
    asr = out / "restricted" / "a" / "transcript.asr.json"
    good = asr.read_bytes()
    asr.write_bytes(good[: len(good) // 2])
    assert main(["run", str(src), "--out", str(out), *TINY]) == 0
    assert asr.read_bytes() == good


def test_sigkill_mid_batch_then_rerun_completes_without_redoing(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    clip = eval_path("asr", "multilingual.mp3")
    for i in range(3):
        shutil.copy(clip, d / f"interview {i}.mp3")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "pipeline", "run", str(d), "--out", str(out), "--workers", "1", *TINY]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    first_done = None
    while time.time() < deadline and proc.poll() is None:
        try:
            stages = _manifest(out)["interviews"].get("interview-0", {}).get("stages", {})
        except (OSError, ValueError, KeyError):
            stages = {}
        if stages.get("deidentify", {}).get("status") == "done":
            first_done = dict(stages)
            break
        time.sleep(0.05)
    assert first_done, "first interview did not finish in time"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert main(["run", str(d), "--out", str(out), "--workers", "1", *TINY]) == 0
    m = _manifest(out)["interviews"]
    assert m["interview-0"]["stages"]["transcribe"]["finished_at"] == first_done["transcribe"]["finished_at"]
    for i in range(3):
        assert m[f"interview-{i}"]["stages"]["deidentify"]["status"] == "done"
    assert not _tmp_files(out)


def test_second_run_on_same_output_folder_is_refused(tmp_path, capsys):
    from pipeline.store import OutputLock

    out = tmp_path / "out"
    with OutputLock(out):
        code = main(["run", str(eval_path("asr", "jfk.flac")), "--out", str(out), *TINY])
    assert code == 1
    assert "another run" in capsys.readouterr().err
