"""One small interface for speaker back-ends ("who spoke when"), and what they return."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from pipeline.speakers.config import ResolvedSpeakers, SpeakersConfig

SAMPLE_RATE = 16000


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


@dataclass
class AudioInput:
    """The audio a back-end may use: mono always, the original channels when the recording had several."""

    mono_path: Path
    channels_path: Path | None = None

    def mono(self) -> np.ndarray:
        return load_wav(self.mono_path, mono=True)

    def channels(self) -> np.ndarray | None:
        """(samples, channels) float32, or None when there is no multi-channel copy."""
        if self.channels_path is None:
            return None
        x = load_wav(self.channels_path, mono=False)
        return x if x.shape[1] > 1 else None


def load_wav(path: Path, mono: bool) -> np.ndarray:
    """Read a 16 kHz WAV as float32: 1-D when ``mono``, else (samples, channels)."""
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
