"""Block-wise reading of the normalised 16 kHz audio, so memory does not grow with recording length.

The ingest stage writes a 16 kHz WAV; a 3-hour one is 690 MB as float32 samples. Stages that need
samples read them here, one block or window at a time, through ``soundfile.SoundFile`` seek/read:

* :func:`open_audio` checks the sample rate and returns the open file and its frame count;
* :func:`read_frames` reads ``[start, start + frames)`` as mono float32 (channels averaged);
* :func:`peak` is the largest absolute sample, read block by block (stops early at ``stop_at``);
* :func:`plan_windows` splits a long recording into windows of at most ``window_seconds``, each cut
  at the quietest ``QUIET_FRAME_SECONDS`` of its last ``search_seconds``, so no word is cut.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import soundfile as sf

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
BLOCK_SECONDS = 60.0  # block size of the whole-file scans (peak): 3.8 MB of float32
WINDOW_SECONDS = 600.0  # longest stretch of audio a stage holds (and an engine decodes) at once
CUT_SEARCH_SECONDS = 30.0  # a window ends at the quietest point of its last this-many seconds
QUIET_FRAME_SECONDS = 0.5  # length of the frames compared for quietness
QUIET_HOP_SECONDS = 0.05  # step between those frames


class AudioFileError(ValueError):
    """The normalised audio cannot be read as 16 kHz samples; the message names the file."""


def open_audio(path: str | Path) -> sf.SoundFile:
    """Open a 16 kHz audio file for block reads (use as a context manager)."""
    try:
        f = sf.SoundFile(str(path))
    except (RuntimeError, OSError) as e:  # LibsndfileError is a RuntimeError
        raise AudioFileError(f"{path}: cannot open audio ({type(e).__name__})") from e
    if f.samplerate != SAMPLE_RATE:
        f.close()
        raise AudioFileError(f"{path}: expected 16 kHz audio, found {f.samplerate} Hz")
    return f


def read_frames(f: sf.SoundFile, start: int, frames: int) -> np.ndarray:
    """Samples ``[start, start + frames)`` as contiguous mono float32 (the mean of the channels)."""
    f.seek(start)
    data = f.read(frames, dtype="float32", always_2d=True)
    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1)
    return np.ascontiguousarray(mono, dtype=np.float32)


def read_audio(path: str | Path) -> np.ndarray:
    """The whole file as mono float32. Memory grows with length: prefer windows for long files."""
    with open_audio(path) as f:
        return read_frames(f, 0, f.frames)


def peak(path: str | Path, *, stop_at: float | None = None, block_seconds: float = BLOCK_SECONDS) -> float:
    """The largest absolute sample of the file, read one block at a time.

    With ``stop_at``, returns as soon as a block reaches it (enough to tell "not silent").
    """
    block = max(1, int(block_seconds * SAMPLE_RATE))
    found = 0.0
    with open_audio(path) as f:
        for start in range(0, f.frames, block):
            data = read_frames(f, start, min(block, f.frames - start))
            if data.size:
                found = max(found, float(np.max(np.abs(data))))
            if stop_at is not None and found >= stop_at:
                break
    return found


def quietest_point(audio: np.ndarray, frame: int, hop: int) -> int:
    """Index of the centre of the lowest-energy ``frame``-sample stretch of ``audio`` (steps of ``hop``).

    Ties go to the latest stretch, so a window stays as long as it can. Audio shorter than one
    frame gives its middle.
    """
    n = len(audio)
    if n <= frame:
        return n // 2
    power = np.concatenate(([0.0], np.cumsum(np.square(audio, dtype=np.float64))))
    starts = np.arange(0, n - frame + 1, hop)
    energy = power[starts + frame] - power[starts]
    last_min = len(energy) - 1 - int(np.argmin(energy[::-1]))
    return int(starts[last_min]) + frame // 2


def plan_windows(
    path: str | Path,
    *,
    window_seconds: float = WINDOW_SECONDS,
    search_seconds: float = CUT_SEARCH_SECONDS,
) -> list[tuple[int, int]]:
    """``(start, end)`` sample ranges that cover the file, each at most ``window_seconds`` long.

    A file no longer than ``window_seconds`` is one window. A longer one is split into windows of
    about equal length (as few as fit, one more at worst); each cut lies at the quietest
    ``QUIET_FRAME_SECONDS`` of ``search_seconds`` ending at the nominal end. Only those stretches
    are read from the file.
    """
    if not 0 < search_seconds < window_seconds:
        raise ValueError(
            f"search_seconds ({search_seconds}) must be above 0 and below window_seconds ({window_seconds})"
        )
    limit = window_seconds * SAMPLE_RATE  # float: inf means one window
    search = int(search_seconds * SAMPLE_RATE)
    frame = int(QUIET_FRAME_SECONDS * SAMPLE_RATE)
    hop = max(1, int(QUIET_HOP_SECONDS * SAMPLE_RATE))
    windows: list[tuple[int, int]] = []
    with open_audio(path) as f:
        total, start = f.frames, 0
        while total - start > limit:
            left = total - start
            # An equal share of what is left, plus the search stretch (within the limit), so a
            # cut before the nominal end does not leave more than the remaining windows can hold.
            share = math.ceil(left / math.ceil(left / limit))
            target = start + int(min(limit, share + search))
            lo = max(start + 1, target - search)
            cut = lo + quietest_point(read_frames(f, lo, target - lo), frame, hop)
            windows.append((start, cut))
            start = cut
        windows.append((start, total))
    logger.debug("%s: %d window(s)", Path(path).name, len(windows))
    return windows
