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
import warnings
from collections.abc import Iterable
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
        with warnings.catch_warnings():
            # webrtcvad's "pkg_resources is deprecated" warning is for its authors, not our users
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
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
    return speech_probabilities_blocks([audio], len(audio))


def speech_probabilities_blocks(blocks: Iterable[np.ndarray], total: int) -> np.ndarray:
    """Silero speech probabilities of ``total`` samples given as consecutive blocks.

    Every block but the last must hold a multiple of ``VAD_FRAME`` samples. The model's state runs
    on from one block to the next, so the result is that of one pass over the whole audio (Silero's
    ``audio_forward``: states reset once, the last frame zero padded).
    """
    import torch

    if total < VAD_FRAME:
        return np.zeros(0, dtype=np.float32)
    model = vad_model()
    # One float per frame, written in place: a list of the model's per-frame outputs would hold a
    # tensor each (~1.1 KB per 32 ms frame: 380 MB for 3 hours).
    probs = np.zeros(-(-total // VAD_FRAME), dtype=np.float32)
    k = 0
    with _lock:  # the ONNX wrapper keeps state between calls
        model.reset_states()
        for block in blocks:
            x = np.ascontiguousarray(block, dtype=np.float32)
            if len(x) % VAD_FRAME:
                x = np.pad(x, (0, VAD_FRAME - len(x) % VAD_FRAME))
            t = torch.from_numpy(x)[None, :]
            for i in range(0, len(x), VAD_FRAME):
                probs[k] = model(t[:, i : i + VAD_FRAME], SAMPLE_RATE).numpy()[0, 0]
                k += 1
    if k != len(probs):
        raise ValueError(f"speech_probabilities_blocks: blocks held {k} frames, expected {len(probs)}")
    return probs


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    log_part = f >= 1000.0
    return np.where(log_part, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), (200.0 / 3) * m)


def mel_filterbank() -> np.ndarray:
    """(40, 201) Slaney-normalised triangular filters, as ``librosa.filters.mel(sr=16000, n_fft=400, n_mels=40)``."""
    if "mel_fb" not in _cache:
        fft_freqs = np.fft.rfftfreq(MEL_WINDOW, 1.0 / SAMPLE_RATE)
        mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), MEL_BANDS + 2))
        fdiff = np.diff(mel_f)
        ramps = mel_f[:, None] - fft_freqs[None, :]
        lower = -ramps[:-2] / fdiff[:-1, None]
        upper = ramps[2:] / fdiff[1:, None]
        weights = np.maximum(0.0, np.minimum(lower, upper))
        weights *= (2.0 / (mel_f[2 : MEL_BANDS + 2] - mel_f[:MEL_BANDS]))[:, None]
        _cache["mel_fb"] = weights.astype(np.float32)
    return _cache["mel_fb"]


def mel_frames(audio: np.ndarray, chunk_frames: int = 6000) -> np.ndarray:
    """Resemblyzer's input features for the whole recording: (frames, 40) power mel, 10 ms hop.

    The frames of ``librosa.feature.melspectrogram(sr=16000, n_fft=400, hop_length=160, n_mels=40)``
    (centred, zero padded, Hann window), computed with numpy (librosa's first call costs ~2 s) and
    ``chunk_frames`` (60 s) at a time so that hour-long recordings stay small in memory.
    """
    half = MEL_WINDOW // 2
    padded = np.pad(np.asarray(audio, dtype=np.float32), (half, half))
    return mel_of_padded(padded, 1 + len(audio) // MEL_HOP, chunk_frames)


def mel_of_padded(padded: np.ndarray, count: int, chunk_frames: int = 6000) -> np.ndarray:
    """``count`` mel frames; frame ``t`` is the window ``padded[t * MEL_HOP : t * MEL_HOP + MEL_WINDOW]``.

    ``padded[0]`` is the sample ``MEL_WINDOW // 2`` before the first frame's centre (zeros outside
    the recording), so frames of a stretch of a recording equal those of the whole recording.
    """
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(MEL_WINDOW) / MEL_WINDOW)).astype(np.float32)
    fb = mel_filterbank()
    parts = []
    for t0 in range(0, count, chunk_frames):
        t1 = min(count, t0 + chunk_frames)
        piece = padded[t0 * MEL_HOP : (t1 - 1) * MEL_HOP + MEL_WINDOW]
        if len(piece) < MEL_WINDOW:
            piece = np.pad(piece, (0, MEL_WINDOW - len(piece)))
        frames = np.lib.stride_tricks.sliding_window_view(piece, MEL_WINDOW)[::MEL_HOP][: t1 - t0]
        power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
        parts.append((power.astype(np.float32) @ fb.T).astype(np.float32))
    return np.concatenate(parts) if parts else np.zeros((0, MEL_BANDS), dtype=np.float32)


def embed_spans(
    mel: np.ndarray, spans: list[tuple[int, int]], batch: int = 256, threads: int = 1
) -> np.ndarray:
    """L2-normed d-vectors of mel frame spans [a, b); spans of equal length are batched together.

    ``threads``: torch threads for the encoder (0: leave torch's setting). One by default: on this
    project's shared 2-core machines two threads were 3-10x slower (spin-waiting) and at best ~1.2x
    faster when the machine was idle.
    """
    import torch

    out = np.zeros((len(spans), 256), dtype=np.float32)
    if not spans:
        return out
    encoder = voice_encoder()
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        _encode(encoder, mel, spans, batch, out)
    finally:
        torch.set_num_threads(previous)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-9)


def _encode(encoder: Any, mel: np.ndarray, spans: list[tuple[int, int]], batch: int, out: np.ndarray) -> None:
    import torch

    groups: dict[int, list[int]] = {}
    for i, (a, b) in enumerate(spans):
        groups.setdefault(b - a, []).append(i)
    for length, idx in groups.items():
        for k in range(0, len(idx), batch):
            chunk = idx[k : k + batch]
            mels = np.stack([_frames(mel, spans[i][0], length) for i in chunk])
            with torch.no_grad():
                out[chunk] = encoder(torch.from_numpy(mels)).numpy()


def _frames(mel: np.ndarray, start: int, length: int) -> np.ndarray:
    piece = mel[start : start + length]
    if len(piece) < length:
        piece = np.pad(piece, ((0, length - len(piece)), (0, 0)))
    return piece
