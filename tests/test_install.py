"""What a new installation needs: the pipeline without ffmpeg on PATH (imageio-ffmpeg's binary, files
probed without ffprobe), the ``doctor`` report, and ``--help`` that states each default once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import REPO, SAMPLES, eval_path, ffmpeg

from pipeline.cli import build_parser
from pipeline.stages import ingest


def _env_without_ffmpeg(tmp_path: Path) -> dict[str, str]:
    """PATH holds only an empty folder: no ffmpeg, no ffprobe, nothing else."""
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    return {**os.environ, "PATH": str(empty), "PYTHONPATH": str(REPO)}


def _cli(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 600
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_ffmpeg_tools_fall_back_to_the_packaged_binary(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    exe, probe, source = ingest.ffmpeg_tools()
    assert source == "imageio-ffmpeg" and probe is None
    assert "imageio_ffmpeg" in exe and os.access(exe, os.X_OK)


@pytest.mark.parametrize(
    "name, make",
    [
        ("stereo44.wav", ["-ac", "2", "-ar", "44100"]),
        ("voice.ogg", ["-c:a", "libopus", "-ar", "48000"]),
        ("voice.m4a", ["-c:a", "aac", "-ar", "22050"]),
        ("voice.mp3", ["-ar", "24000"]),
    ],
)
def test_probe_with_ffmpeg_agrees_with_ffprobe(tmp_path, name, make):
    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe not installed: nothing to compare with")
    src = tmp_path / name
    ffmpeg("-i", str(eval_path("asr", "jfk.flac")), *make, str(src))
    with_ffprobe = ingest._probe(src)
    import imageio_ffmpeg

    without = ingest._probe_with_ffmpeg(src, imageio_ffmpeg.get_ffmpeg_exe())
    assert without["stream"]["channels"] == with_ffprobe["stream"]["channels"]
    assert int(without["stream"]["sample_rate"]) == int(with_ffprobe["stream"]["sample_rate"])
    assert ingest._declared_duration(without) == pytest.approx(
        ingest._declared_duration(with_ffprobe), rel=0.01
    )


def test_probe_with_ffmpeg_refuses_what_is_not_audio(tmp_path):
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    text = tmp_path / "notes.mp3"
    text.write_text("not audio\n" * 50)
    with pytest.raises(ingest.InputError, match=r"notes\.mp3: not an audio or video file ffmpeg can read"):
        ingest._probe_with_ffmpeg(text, exe)
    video = tmp_path / "silent.mp4"
    subprocess.run(
        [exe, "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=32x32:d=1", "-an", str(video)], check=True
    )
    with pytest.raises(ingest.InputError, match=r"silent\.mp4: no audio stream"):
        ingest._probe_with_ffmpeg(video, exe)


@pytest.mark.slow
def test_run_on_the_sample_interviews_without_ffmpeg_on_path(tmp_path):
    """The README's first command with no ffmpeg/ffprobe anywhere on PATH; bad files still named."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    for s in sorted(SAMPLES.glob("interview_*.mp3")):
        shutil.copy(s, inputs / s.name)
    (inputs / "notes.mp3").write_text("not audio\n" * 50)
    sf.write(inputs / "zero.wav", np.zeros(0, dtype="int16"), 16000)
    out = tmp_path / "out"
    p = _cli(
        ["run", str(inputs), "--out", str(out), "--model", "tiny.en", "--no-progress"],
        _env_without_ffmpeg(tmp_path),
        tmp_path,
    )
    assert p.returncode == 1, p.stderr[-2000:]  # the two bad files fail, the rest is done
    assert "2 done, 2 failed" in p.stdout
    assert "notes.mp3: not an audio or video file ffmpeg can read" in p.stdout
    assert "zero.wav" in p.stdout
    for iid, seconds in (("interview-01", 98.4), ("interview-02", None)):
        info = json.loads((out / "restricted" / iid / "ingest.json").read_text())
        assert info["sample_rate"] == 24000 and info["channels"] == 1
        if seconds:
            assert info["duration"] == pytest.approx(seconds, abs=0.2)
        shared = json.loads((out / "shareable" / iid / "transcript.json").read_text())
        assert len(shared["segments"]) > 5 and {s["speaker"] for s in shared["segments"]} >= {"S1", "S2"}
    assert (out / "shareable" / "project.qdpx").stat().st_size > 0


def test_doctor_reports_one_screen_without_personal_paths(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = _cli(["doctor", "--out", str(tmp_path / "study")], env, tmp_path, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    labels = [line[4:].split("  ")[0].strip() for line in lines if line[:3] in ("ok ", "BAD")]
    assert labels[:5] == ["python", "ffmpeg", "libraries", "model tiny.en", "model base"]
    assert {"engine", "cores", "memory", "workers", "disk (models)", "disk (output)"} <= set(labels)
    assert "tiny.en  present, sha256 1a5afae06a4db91c... verified" in p.stdout
    assert f"{sys.version_info.major}.{sys.version_info.minor}." in lines[0]
    assert "faster-whisper, model base, cpu/int8" in p.stdout
    assert len(lines) <= 25 and p.stdout.rstrip().endswith("all checks passed")
    home = str(Path.home())
    if home not in ("", "/"):
        assert home + os.sep not in p.stdout


def test_doctor_names_a_corrupt_model_and_a_missing_ffmpeg(tmp_path):
    cache = tmp_path / "cache"
    (cache / "base").mkdir(parents=True)
    (cache / "base" / "model.bin").write_bytes(b"not a model")
    config = tmp_path / "study.yaml"
    config.write_text("transcribe:\n  model: tiny.en\n  engine: openai-whisper\n")
    env = {**_env_without_ffmpeg(tmp_path), "INTERVIEW_PIPELINE_CACHE": str(cache)}
    p = _cli(["doctor", "--config", str(config)], env, tmp_path, timeout=300)
    assert p.returncode == 1
    assert "BAD model base" in p.stdout and "does not match the recorded" in p.stdout
    assert "from imageio-ffmpeg" in p.stdout and "no ffprobe: files are probed with ffmpeg" in p.stdout
    assert "openai-whisper, model tiny.en" in p.stdout
    assert p.stdout.rstrip().endswith("1 problem(s)")


def _subparsers(parser) -> dict:
    return next(a for a in parser._actions if a.dest == "command").choices


def test_help_states_each_default_once_from_the_configuration():
    from pipeline.config import PipelineConfig

    subs = _subparsers(build_parser())
    assert set(subs) >= {"run", "deidentify", "export", "status", "review", "apply-review", "doctor"}
    for name, sp in subs.items():
        formatter = sp._get_formatter()
        for action in sp._actions:
            text = formatter._expand_help(action) if action.help else ""
            assert text.count("default") <= 1 and "(default: None)" not in text, (name, action.dest, text)
    defaults = PipelineConfig()
    run = " ".join(subs["run"].format_help().split())
    assert f"(default: {defaults.transcribe.model}; configuration key transcribe.model)" in run
    assert f"(default: {defaults.transcribe.engine}; configuration key transcribe.engine)" in run
    assert f"(default: {defaults.run.executor}; configuration key run.executor)" in run
    assert "(default: detect per file; configuration key transcribe.language)" in run


def test_output_lock_without_fcntl_goes_through_filelock(monkeypatch, tmp_path):
    """The lock as it works where there is no fcntl (Windows): refused in this process and in another,
    naming the holder's pid; released when the holder is killed."""
    from pipeline import store

    monkeypatch.setattr(store, "fcntl", None)
    with store.OutputLock(tmp_path):
        with pytest.raises(store.LockedError, match=rf"another run \(pid {os.getpid()}\)"):
            store.OutputLock(tmp_path).acquire()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pipeline import store; store.fcntl = None; "
            f"lock = store.OutputLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(store.LockedError, match=rf"pid {holder.pid}\)"):
            store.OutputLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    store.OutputLock(tmp_path).acquire().release()
