"""One small interface for speech-recognition engines, and the name -> class registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from pipeline.schema import Segment

SAMPLE_RATE = 16000


class EngineError(RuntimeError):
    """An engine could not load its model or decode; the message names the model or file."""


@dataclass
class DecodeOptions:
    """Decoding settings shared by every engine (both get the same, so timings compare)."""

    language: str | None = None  # None: detect
    beam_size: int = 5
    word_timestamps: bool = True
    initial_prompt: str | None = None
    condition_on_previous_text: bool = True
    temperature: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    vad_filter: bool = False
    # Whisper's no-speech gate: a 30 s window whose no-speech probability is above this (and whose
    # text is unlikely) is skipped. None: off (a speech region decoded again on its own).
    no_speech_threshold: float | None = 0.6
    seed: int = 0  # random seed of sampled temperatures (set before every decode)
    suppress_blank: bool = True
    # Token ids to suppress; [-1] is whisper's default set. Verbatim mode may pass [] so that
    # fillers written with punctuation are not suppressed.
    suppress_tokens: list[int] = field(default_factory=lambda: [-1])

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["temperature"] = list(self.temperature)
        return d


@dataclass
class EngineResult:
    segments: list[Segment]
    language: str | None
    language_probability: float | None
    model: dict[str, Any]  # name, source, sha256, engine version: goes into provenance


ProgressCallback = Callable[[float], None]  # called with seconds of audio done so far


class ASREngine(ABC):
    """Load a model once, then transcribe many 16 kHz mono float32 arrays with it."""

    name: str = ""
    model_info: dict[str, Any]  # name, source, sha256, engine version (set by the constructor)

    @abstractmethod
    def transcribe(
        self,
        audio: np.ndarray,
        options: DecodeOptions,
        progress: ProgressCallback | None = None,
    ) -> EngineResult: ...

    @abstractmethod
    def language_probabilities(self, audio: np.ndarray, vad_filter: bool = False) -> dict[str, float]:
        """Probability of each language code on the first 30 s of ``audio`` (of its speech, with
        ``vad_filter`` where the engine has a VAD), as Whisper detects a language."""


def check_audio(audio: np.ndarray) -> np.ndarray:
    """Validate the engine input: a 1-D float32 array at 16 kHz (other float dtypes are cast)."""
    arr = np.asarray(audio)
    if arr.ndim != 1:
        raise EngineError(f"audio must be mono (1-D), got shape {arr.shape}")
    if arr.dtype.kind != "f":
        raise EngineError(f"audio must be float samples in [-1, 1], got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)
