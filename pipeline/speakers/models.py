"""The two models of the embedding back-end, loaded once per process and shared.

* Silero VAD (ONNX, shipped inside the ``silero-vad`` package): speech probability per 32 ms frame.
* Resemblyzer's ``VoiceEncoder`` (GE2E d-vector; weights inside the ``resemblyzer`` package): a
  256-d, L2-normed embedding of a mel spectrogram.

Two environment quirks are handled here, so no other module needs to know:
* ``silero_vad`` calls ``torch.set_num_threads(1)`` when imported; the caller's thread count is put
  back right after the import.
* ``resemblyzer`` imports ``webrtcvad`` 2.0.10, which imports ``pkg_resources`` only to read its own
  version; setuptools >= 81 no longer ships that module. If it is missing, a minimal stand-in is
  registered for the duration of that one import and removed afterwards.
"""

from __future__ import annotations

import importlib.metadata
import logging
import sys
import threading
import time
import types
from typing import Any

import numpy as np

from pipeline.speakers.base import SAMPLE_RATE, SpeakersError

logger = logging.getLogger(__name__)

VAD_FRAME = 512  # samples per Silero frame at 16 kHz (32 ms)
MEL_HOP = 160  # samples per mel frame (10 ms), Resemblyzer's setting
MEL_WINDOW = 400  # 25 ms
MEL_BANDS = 40

_lock = threading.Lock()
_cache: dict[str, Any] = {}


def _import_silero() -> Any:
    import torch

    threads = torch.get_num_threads()
    try:
        from silero_vad import load_silero_vad
    finally:
        torch.set_num_threads(threads)
    return load_silero_vad


def vad_model() -> Any:
    with _lock:
        if "vad" not in _cache:
            started = time.monotonic()
            try:
                _cache["vad"] = _import_silero()(onnx=True)
            except (ImportError, OSError, RuntimeError) as e:
                raise SpeakersError(f"cannot load the Silero VAD model ({type(e).__name__}: {e})") from e
            logger.info("loaded Silero VAD in %.2f s", time.monotonic() - started)
        return _cache["vad"]


def _import_voice_encoder() -> type:
    try:
        from resemblyzer import VoiceEncoder
    except ModuleNotFoundError as e:
        if e.name != "pkg_resources":
            raise
        shim = types.ModuleType("pkg_resources")
        shim.get_distribution = lambda name: types.SimpleNamespace(version=importlib.metadata.version(name))  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = shim
        try:
            from resemblyzer import VoiceEncoder
        finally:
            if sys.modules.get("pkg_resources") is shim:
                del sys.modules["pkg_resources"]
    return VoiceEncoder


def voice_encoder() -> Any:
    with _lock:
        if "encoder" not in _cache:
            started = time.monotonic()
            try:
                _cache["encoder"] = _import_voice_encoder()(device="cpu", verbose=False)
            except (ImportError, OSError, RuntimeError) as e:
                raise SpeakersError(
                    f"cannot load the Resemblyzer voice encoder ({type(e).__name__}: {e})"
                ) from e
            logger.info("loaded Resemblyzer voice encoder in %.2f s", time.monotonic() - started)
        return _cache["encoder"]


def speech_probabilities(audio: np.ndarray) -> np.ndarray:
    """Silero speech probability for each 32 ms frame of 16 kHz mono audio."""
    import torch

    if len(audio) < VAD_FRAME:
        return np.zeros(0, dtype=np.float32)
    model = vad_model()
    with _lock:  # the ONNX wrapper keeps state between calls
        probs = model.audio_forward(
            torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)), SAMPLE_RATE
        )
    return probs.numpy()[0].astype(np.float32)


def mel_frames(audio: np.ndarray, chunk_frames: int = 6000) -> np.ndarray:
    """Resemblyzer's input features for the whole recording: (frames, 40) power mel, 10 ms hop.

    Same frames as ``librosa.feature.melspectrogram(center=True)`` on the whole signal (zero padded),
    computed ``chunk_frames`` (60 s) at a time so that hour-long recordings stay small in memory.
    """
    import librosa

    half = MEL_WINDOW // 2
    padded = np.pad(np.asarray(audio, dtype=np.float32), (half, half))
    total = 1 + len(audio) // MEL_HOP
    parts = []
    for t0 in range(0, total, chunk_frames):
        t1 = min(total, t0 + chunk_frames)
        piece = padded[t0 * MEL_HOP : (t1 - 1) * MEL_HOP + MEL_WINDOW]
        if len(piece) < MEL_WINDOW:
            piece = np.pad(piece, (0, MEL_WINDOW - len(piece)))
        mel = librosa.feature.melspectrogram(
            y=piece, sr=SAMPLE_RATE, n_fft=MEL_WINDOW, hop_length=MEL_HOP, n_mels=MEL_BANDS, center=False
        )
        parts.append(mel.astype(np.float32).T[: t1 - t0])
    return np.concatenate(parts) if parts else np.zeros((0, MEL_BANDS), dtype=np.float32)


def embed_spans(mel: np.ndarray, spans: list[tuple[int, int]], batch: int = 256) -> np.ndarray:
    """L2-normed d-vectors of mel frame spans [a, b); spans of equal length are batched together."""
    import torch

    out = np.zeros((len(spans), 256), dtype=np.float32)
    if not spans:
        return out
    encoder = voice_encoder()
    groups: dict[int, list[int]] = {}
    for i, (a, b) in enumerate(spans):
        groups.setdefault(b - a, []).append(i)
    for length, idx in groups.items():
        for k in range(0, len(idx), batch):
            chunk = idx[k : k + batch]
            mels = np.stack([_frames(mel, spans[i][0], length) for i in chunk])
            with torch.no_grad():
                out[chunk] = encoder(torch.from_numpy(mels)).numpy()
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-9)


def _frames(mel: np.ndarray, start: int, length: int) -> np.ndarray:
    piece = mel[start : start + length]
    if len(piece) < length:
        piece = np.pad(piece, ((0, length - len(piece)), (0, 0)))
    return piece
