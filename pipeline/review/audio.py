"""The review page's audio: a compressed copy of the interview's recording beside the page.

``restricted/<id>/review_audio.mp3`` (MP3, mono, 32 kbit/s constant: 14 MB per hour) is made with
ffmpeg from the normalised recording the ingest stage wrote (``audio.wav``) and referenced by the page
by its relative name, so the page and its audio stay together on the restricted side and the page's
Content-Security-Policy can allow media from its own folder only. MP3 at a constant bit rate because
Chromium finds a time in it by arithmetic (Ogg needs a search) and LAME encodes it several times
faster than libopus (bench/bench_review.py times the first page write with the encoding). It is made again when the
recording is newer than the copy. No recording (an interview imported as a transcript) or no ffmpeg:
no audio, the page works without it.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

from pipeline.store import FILE_MODE

logger = logging.getLogger(__name__)

AUDIO_NAME = "review_audio.mp3"
SOURCE_NAME = "audio.wav"  # the ingest stage's normalised recording
BITRATE = "32k"


def ensure_review_audio(rdir: Path, *, source_name: str = SOURCE_NAME) -> Path | None:
    """The page's audio copy in ``rdir`` (made or refreshed if needed), or None when there is none."""
    src, dest = rdir / source_name, rdir / AUDIO_NAME
    if not src.is_file():
        return None
    if dest.is_file() and dest.stat().st_mtime >= src.stat().st_mtime:
        return dest
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        logger.warning("%s: ffmpeg not found; the review page has no audio", rdir.name)
        return None
    tmp = dest.with_name(f".{AUDIO_NAME}.{os.getpid()}.tmp.mp3")
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(src), "-map", "0:a:0", "-ac", "1",
           "-c:a", "libmp3lame", "-b:a", BITRATE, str(tmp)]  # fmt: skip
    t0 = time.monotonic()
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=3600)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, dest)
    except (OSError, subprocess.SubprocessError) as e:
        tmp.unlink(missing_ok=True)
        logger.warning(
            "%s: could not make the review audio (%s); the page has no audio", rdir.name, type(e).__name__
        )
        return None
    logger.info(
        "%s: review audio written (%.1f MB, %.1f s)",
        rdir.name,
        dest.stat().st_size / 1e6,
        time.monotonic() - t0,
    )
    return dest
