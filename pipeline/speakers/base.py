"""One small interface for speaker back-ends ("who spoke when"), and what they return."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from pipeline.audio import SAMPLE_RATE
from pipeline.speakers.config import ResolvedSpeakers, SpeakersConfig

BLOCK_SECONDS = 600.0  # the longest stretch of samples a back-end holds at once (38 MB of mono float32)


class SpeakersError(RuntimeError):
    """A speaker back-end cannot run (missing model, unreadable audio); the message names which."""


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str  # back-end's own label; the stage renames them S1, S2, ...

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Diarization:
    """Speaker turns of one recording. Turns of one speaker never overlap; turns of two may (overlap)."""

    turns: list[Turn]
    backend: str
    overlaps: list[tuple[float, float]] = field(default_factory=list)  # spans where >= 2 voices were found
    # Second voices found inside another speaker's turn (embedding back-end's opt-in overlap
    # detection): scored as speech of that speaker, never used to choose a word's speaker.
    secondary: list[Turn] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)  # counts, durations, options: goes into provenance
    # Optional per-frame evidence (frames x speakers, higher = more likely that speaker), used to give
    # each word the speaker with the most evidence over its span (the channel back-end: energy).
    frame_scores: np.ndarray | None = None
    frame_hop: float = 0.0
    score_labels: list[str] = field(default_factory=list)

    @property
    def all_turns(self) -> list[Turn]:
        """Main turns plus second voices (what a diarization metric should score)."""
        return sorted(self.turns + self.secondary, key=lambda t: (t.start, t.end))

    @property
    def speakers(self) -> list[str]:
        seen: dict[str, None] = {}
        for t in sorted(self.turns, key=lambda t: (t.start, t.end)):
            seen.setdefault(t.speaker, None)
        return list(seen)


class Samples:
    """16 kHz samples read one block at a time: from an open file (memory does not grow with its
    length) or from an array (tests, benchmarks). ``read`` clips to ``[0, frames)``."""

    def __init__(self, frames: int, channels: int, reader: Callable[[int, int], np.ndarray], name: str):
        self.frames = frames
        self.channels = channels
        self.name = name
        self._reader = reader  # (start, stop) -> (n, channels) float32, 0 <= start <= stop <= frames

    @classmethod
    def of_array(cls, x: np.ndarray, name: str = "array") -> Samples:
        """Wrap a 1-D (mono) or (samples, channels) float32 array; no copy is made."""
        arr = np.asarray(x, dtype=np.float32)
        two_d = arr[:, None] if arr.ndim == 1 else arr
        return cls(len(two_d), two_d.shape[1], lambda a, b: two_d[a:b], name)

    @property
    def duration(self) -> float:
        return self.frames / SAMPLE_RATE

    def read(self, start: int, stop: int, mono: bool = True) -> np.ndarray:
        """Samples ``[start, stop)`` (clipped to the file): 1-D mean of the channels when ``mono``."""
        a, b = max(0, int(start)), min(self.frames, int(stop))
        data = self._reader(a, max(a, b))
        if not mono:
            return data
        return data[:, 0] if data.shape[1] == 1 else data.mean(axis=1)

    def blocks(self, block: int, mono: bool = True) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, samples)`` of consecutive blocks of ``block`` samples (the last one shorter)."""
        for start in range(0, self.frames, max(1, int(block))):
            yield start, self.read(start, start + block, mono)


def block_samples(block_seconds: float | None, multiple: int) -> int:
    """Block length in samples: ``block_seconds`` (default ``BLOCK_SECONDS``) rounded down to ``multiple``."""
    seconds = BLOCK_SECONDS if block_seconds is None else block_seconds
    if not seconds > 0:
        raise ValueError(f"block_seconds must be above 0, got {block_seconds}")
    if seconds == float("inf"):
        return 1 << 62
    return max(multiple, int(seconds * SAMPLE_RATE) // multiple * multiple)


@contextmanager
def open_samples(path: Path) -> Iterator[Samples]:
    """A 16 kHz audio file as :class:`Samples`, open for block reads while the context lasts."""
    from pipeline.audio import AudioFileError, open_audio

    name = Path(path).name
    try:
        f = open_audio(path)
    except AudioFileError as e:
        raise SpeakersError(f"{name}: cannot read audio as {SAMPLE_RATE} Hz samples") from e

    def reader(start: int, stop: int) -> np.ndarray:
        try:
            f.seek(start)
            return f.read(stop - start, dtype="float32", always_2d=True)
        except (OSError, RuntimeError) as e:  # LibsndfileError is a RuntimeError
            raise SpeakersError(f"{name}: cannot read audio ({type(e).__name__})") from e

    with f:
        yield Samples(f.frames, f.channels, reader, name)


@dataclass
class AudioInput:
    """The audio a back-end may use: mono always, the original channels when the recording had several.

    Back-ends read it block by block (``open_mono``, ``open_channels``), so memory does not grow with
    the recording's length.
    """

    mono_path: Path
    channels_path: Path | None = None

    @contextmanager
    def open_mono(self) -> Iterator[Samples]:
        with open_samples(self.mono_path) as src:
            yield src

    @contextmanager
    def open_channels(self) -> Iterator[Samples | None]:
        """The multi-channel copy, or None when there is none (or it has one channel)."""
        if self.channels_path is None:
            yield None
            return
        with open_samples(self.channels_path) as src:
            yield src if src.channels > 1 else None


def load_wav(path: Path, mono: bool) -> np.ndarray:
    """Read a whole 16 kHz WAV as float32: 1-D when ``mono``, else (samples, channels)."""
    try:
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError, sf.LibsndfileError) as e:
        raise SpeakersError(f"{Path(path).name}: cannot read audio ({type(e).__name__})") from e
    if sr != SAMPLE_RATE:
        raise SpeakersError(f"{Path(path).name}: expected {SAMPLE_RATE} Hz audio, got {sr} Hz")
    return x.mean(axis=1) if mono else x


class SpeakerBackend(ABC):
    """Find who spoke when. Implementations load their models once per process (module-level cache)."""

    name: str = ""

    def __init__(self, config: SpeakersConfig) -> None:
        self.config = config

    @abstractmethod
    def diarize(self, audio: AudioInput, settings: ResolvedSpeakers) -> Diarization: ...
