"""Shared fixtures: evaluation data from ../shared/eval (never copied here), sample interviews, tools."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EVAL = REPO.parent / "shared" / "eval"
SAMPLES = REPO / "audio_samples"


def eval_path(*parts: str) -> Path:
    """A file under ../shared/eval, or skip the test with the reason."""
    p = EVAL.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"evaluation data missing: {p} (see ../shared/eval/README.md)")
    return p


@pytest.fixture(scope="session")
def eval_dir() -> Path:
    if not EVAL.is_dir():
        pytest.skip(f"evaluation data folder missing: {EVAL}")
    return EVAL


@pytest.fixture(scope="session")
def sample_interviews() -> list[Path]:
    files = sorted(SAMPLES.glob("interview_*.mp3"))
    if not files:
        pytest.skip("no sample interviews in audio_samples/")
    return files


def ffmpeg(*args: str) -> None:
    """Make test media with ffmpeg (the same binary the ingest stage uses)."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)
