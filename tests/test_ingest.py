"""Ingest: every format ffmpeg reads becomes a 16 kHz mono WAV; bad input fails with one line naming the file."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
import soundfile as sf
from conftest import eval_path, ffmpeg

from pipeline.config import IngestConfig
from pipeline.stages import ingest


def _make_bad(kind: str, tmp: Path) -> Path:
    if kind == "empty":
        p = tmp / "empty.mp3"
        p.write_bytes(b"")
    elif kind == "text_as_mp3":
        p = tmp / "notes.mp3"
        p.write_text("This is a text file, not audio.\n" * 20)
    elif kind == "truncated":
        src = eval_path("asr", "multilingual.mp3")
        p = tmp / "cut off.mp3"
        data = src.read_bytes()
        p.write_bytes(data[: len(data) // 3])
    elif kind == "zero_seconds":
        p = tmp / "zero.wav"
        with wave.open(str(p), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(b"")
    elif kind == "missing":
        p = tmp / "does-not-exist.wav"
    else:
        raise AssertionError(kind)
    return p


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("empty", "empty file"),
        ("text_as_mp3", "ffmpeg can"),
        ("truncated", "truncated"),
        ("zero_seconds", "no audio"),
        ("missing", "no such file"),
    ],
)
def test_bad_input_fails_with_one_line_naming_the_file(kind, reason, tmp_path):
    src = _make_bad(kind, tmp_path)
    out = tmp_path / "out"
    with pytest.raises(ingest.InputError) as exc:
        ingest.run(src, "x", out, IngestConfig())
    msg = str(exc.value)
    assert str(src) in msg and reason in msg and "\n" not in msg
    # nothing half-written
    assert not out.exists() or not any(p.name.endswith(".wav") for p in out.iterdir())


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("jfk stereo 44k.flac", None),
        ("ïnterview med Søren.m4a", ["-c:a", "aac", "-b:a", "64k"]),
        ("video call.mp4", "video"),
        ("phone.ogg", ["-c:a", "libvorbis"]),
    ],
)
def test_formats_and_odd_names_decode_to_16k_mono(name, make, tmp_path):
    jfk = eval_path("asr", "jfk.flac")
    src = tmp_path / name
    if make is None:
        src.write_bytes(jfk.read_bytes())
    elif make == "video":
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            "color=c=black:s=64x48:r=5",
            "-i",
            str(jfk),
            "-shortest",
            "-c:v",
            "libx264",
            "-c:a",
            "aac",
            str(src),
        )
    else:
        ffmpeg("-i", str(jfk), *make, str(src))
    out = tmp_path / "out"
    info = ingest.run(src, "jfk", out, IngestConfig())
    data, sr = sf.read(out / info.normalized_path)
    assert sr == 16000 and data.ndim == 1
    assert info.duration == pytest.approx(11.0, abs=0.2)
    assert len(info.source_sha256) == 64 and info.source_path == str(src.resolve())


def test_original_channels_are_kept_for_stereo(tmp_path):
    src = eval_path("speakers", "stereo_diarization.wav")
    info = ingest.run(src, "stereo", tmp_path, IngestConfig())
    assert info.channels == 2 and info.channels_path
    data, sr = sf.read(tmp_path / info.channels_path)
    assert sr == 16000 and data.shape[1] == 2
    mono = IngestConfig(keep_channels=False)
    info2 = ingest.run(src, "stereo", tmp_path / "b", mono)
    assert info2.channels_path is None
