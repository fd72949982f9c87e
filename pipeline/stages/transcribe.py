"""Transcribe: speech to verbatim text with word timings, through a pluggable engine.

Verbatim mode (on by default) does three things on top of the engine:
1. decodes with a prompt written in verbatim style, which makes Whisper keep more fillers
   ("um", "uh") and false starts than its default clean-up does;
2. marks silences between words of at least ``pause_min_seconds`` as a marker word, e.g. ``(3 s)``;
3. optionally marks words whose probability is below ``uncertain_threshold``, e.g. ``word [?]``.
Markers are words of their own in ``segment.words`` (probability 1.0, spanning the pause), so every
later stage that rebuilds text from words keeps them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from pipeline.audio import (
    CUT_SEARCH_SECONDS,
    SAMPLE_RATE,
    WINDOW_SECONDS,
    open_audio,
    peak,
    plan_windows,
    read_frames,
)
from pipeline.config import TranscribeConfig
from pipeline.engines.base import ASREngine, DecodeOptions, EngineResult
from pipeline.schema import AudioInfo, Segment, Transcript, Word

logger = logging.getLogger(__name__)

OUTPUT_NAME = "transcript.asr.json"
SILENCE_PEAK = 1e-4  # below this peak amplitude (of 1.0) a file is treated as silence
STAGE_VERSION = 1

_ENGINES: dict[tuple, ASREngine] = {}


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads(workers: int = 1) -> int:
    """Threads per worker when ``cpu_threads`` is 0: the usable cores shared evenly by the workers."""
    return max(1, usable_cores() // max(1, workers))


def get_engine(config: TranscribeConfig, workers: int = 1) -> ASREngine:
    """The engine for this config, loaded once per process and kept."""
    from pipeline.engines import load_engine

    threads = config.cpu_threads or default_threads(workers)
    key = (config.engine, config.model, config.device, config.compute_type, threads)
    if key not in _ENGINES:
        started = time.monotonic()
        kwargs: dict[str, Any] = {"device": config.device}
        if config.engine == "faster-whisper":
            kwargs.update(compute_type=config.compute_type, cpu_threads=threads)
        else:
            kwargs.update(cpu_threads=threads)
        _ENGINES[key] = load_engine(config.engine, config.model, **kwargs)
        logger.info("loaded %s model %s in %.1f s", config.engine, config.model, time.monotonic() - started)
    return _ENGINES[key]


def decode_options(config: TranscribeConfig) -> DecodeOptions:
    v = config.verbatim
    return DecodeOptions(
        language=config.language,
        beam_size=config.beam_size,
        word_timestamps=True,
        initial_prompt=v.prompt
        if v.enabled and v.prompt and config.model not in v.no_prompt_models
        else None,
        condition_on_previous_text=config.condition_on_previous_text,
        vad_filter=config.vad_filter,
    )


@dataclass
class WindowedResult:
    """An engine's result over a whole file decoded window by window, and the windows (seconds)."""

    result: EngineResult
    windows: list[tuple[float, float]]
    skipped: int = 0  # windows of digital silence, not decoded


class _Progress:
    """Forward only increasing positions (seconds of the whole file) to the caller's callback."""

    def __init__(self, callback: Callable[[float], None] | None) -> None:
        self.callback, self.done = callback, 0.0

    def __call__(self, seconds: float) -> None:
        if self.callback is not None and seconds > self.done:
            self.done = seconds
            self.callback(seconds)


def transcribe_windows(
    engine: ASREngine,
    path: Path,
    options: DecodeOptions,
    progress: Callable[[float], None] | None = None,
    *,
    window_seconds: float = WINDOW_SECONDS,
    search_seconds: float = CUT_SEARCH_SECONDS,
) -> WindowedResult:
    """Decode a 16 kHz file with ``engine``, holding one window (at most ``window_seconds``) at a time.

    A file no longer than one window is decoded in one call, exactly as before windows existed.
    A longer one is cut at quiet points (:func:`pipeline.audio.plan_windows`) and each window is
    decoded as a file of its own with the same options (``initial_prompt`` included); its times
    are shifted by the window's start and kept within the window, segment ids renumbered. With
    ``language=None`` the language is detected on the first window that yields speech and reused
    for the rest. Windows of digital silence (peak below ``SILENCE_PEAK``) are not decoded.
    ``progress`` gets increasing seconds of the file.

    The previous window's text is not carried into the next window's prompt: as a plain-text
    prompt (no timestamp tokens) it made tiny.en write 20-30 s segments and decode 1.4-1.8x
    slower, for no better WER (docs/long_audio.md).
    """
    windows = plan_windows(path, window_seconds=window_seconds, search_seconds=search_seconds)
    spans = [(a / SAMPLE_RATE, b / SAMPLE_RATE) for a, b in windows]
    with open_audio(path) as f:
        if len(windows) == 1:
            return WindowedResult(engine.transcribe(read_frames(f, 0, f.frames), options, progress), spans)
        report = _Progress(progress)
        segments: list[Segment] = []
        language, probability = options.language, None
        decoded: EngineResult | None = None
        skipped = 0
        for (a, b), (start, end) in zip(windows, spans, strict=True):
            audio = read_frames(f, a, b - a)
            if audio.size == 0 or float(np.max(np.abs(audio))) < SILENCE_PEAK:
                skipped += 1
                report(end)
                continue
            opts = replace(options, language=language)
            length = end - start

            def shifted(t: float, start: float = start, length: float = length) -> None:
                report(start + min(max(t, 0.0), length))

            res = engine.transcribe(audio, opts, shifted)
            del audio
            decoded = decoded or res
            if language is None and res.segments:
                language, probability = res.language, res.language_probability
            first_id = len(segments)
            segments += [_shift(seg, first_id + i, start, end) for i, seg in enumerate(res.segments)]
            logger.debug("window %.1f-%.1f s: %d segments", start, end, len(res.segments))
        report(spans[-1][1])
    if decoded is None:
        result = EngineResult([], options.language, None, dict(engine.model_info))
    else:
        result = EngineResult(
            segments,
            language if language is not None else decoded.language,
            probability if probability is not None else decoded.language_probability,
            decoded.model,
        )
    return WindowedResult(result, spans, skipped)


def _shift(seg: Segment, idx: int, start: float, end: float) -> Segment:
    """A window's segment on the file's timeline: times shifted by ``start`` and kept within the window."""

    def t(x: float) -> float:
        return min(max(start + x, start), end)

    words = [Word(start=t(w.start), end=t(w.end), text=w.text, probability=w.probability) for w in seg.words]
    return Segment(id=idx, start=t(seg.start), end=t(seg.end), text=seg.text, words=words)


def apply_verbatim(segments: list[Segment], config: TranscribeConfig) -> list[Segment]:
    """Insert pause markers and uncertain-word markers; rebuild each segment's text from its words."""
    v = config.verbatim
    if not v.enabled:
        return segments
    prev_end: float | None = None
    out: list[Segment] = []
    for seg in segments:
        words: list[Word] = []
        for w in seg.words:
            if prev_end is not None and w.start - prev_end >= v.pause_min_seconds:
                gap = w.start - prev_end
                words.append(
                    Word(
                        start=prev_end, end=w.start, text=v.pause_marker.format(seconds=gap), probability=1.0
                    )
                )
            text = w.text
            if v.uncertain_threshold > 0 and w.probability < v.uncertain_threshold:
                text = v.uncertain_marker.format(word=w.text)
            words.append(Word(start=w.start, end=w.end, text=text, probability=w.probability))
            prev_end = w.end
        text = " ".join(w.text for w in words) if words else seg.text
        start = min(seg.start, words[0].start) if words else seg.start
        out.append(Segment(id=seg.id, start=start, end=seg.end, text=text, words=words))
    return out


def run(
    audio_info: AudioInfo,
    interview_dir: Path,
    config: TranscribeConfig,
    *,
    workers: int = 1,
    progress: Callable[[float], None] | None = None,
    window_seconds: float = WINDOW_SECONDS,
) -> Transcript:
    """Transcribe the interview's normalised audio, one window at a time; the caller writes the artefact.

    ``window_seconds`` bounds the audio held and decoded at once (see :func:`transcribe_windows`).
    """
    path = interview_dir / audio_info.normalized_path
    with open_audio(path) as f:
        frames = f.frames
    duration = frames / SAMPLE_RATE
    options = decode_options(config)
    provenance: dict[str, Any] = {
        "transcribe": {
            "stage_version": STAGE_VERSION,
            "config": config.model_dump(mode="json"),
            "decode": options.to_dict(),
        }
    }
    started = time.monotonic()
    if frames == 0 or peak(path, stop_at=SILENCE_PEAK) < SILENCE_PEAK:
        logger.info("%s: silence (%.1f s), empty transcript", audio_info.interview_id, duration)
        provenance["transcribe"]["silence"] = True
        return Transcript(
            interview_id=audio_info.interview_id,
            language=config.language,
            duration=duration,
            provenance=provenance,
        )

    engine = get_engine(config, workers)
    # One BLAS thread while decoding: numpy's BLAS computes the log-mel features, and its sums
    # depend on its thread count, which changed words between executors (Dask sets 1, a plain
    # process uses every core). Fixed at 1, the text does not depend on workers or threads.
    with threadpool_limits(limits=1, user_api="blas"):
        windowed = transcribe_windows(
            engine,
            path,
            options,
            progress,
            window_seconds=window_seconds,
            search_seconds=min(CUT_SEARCH_SECONDS, window_seconds / 4),
        )
    result = windowed.result
    if len(windowed.windows) > 1:  # how a long file was cut; a short file's artefact is unchanged
        provenance["transcribe"]["windows"] = [[round(a, 3), round(b, 3)] for a, b in windowed.windows]
        logger.info(
            "%s: %d windows (%d silent, skipped)",
            audio_info.interview_id,
            len(windowed.windows),
            windowed.skipped,
        )
    segments = apply_verbatim(result.segments, config)
    elapsed = time.monotonic() - started
    provenance["transcribe"].update(
        model=result.model,
        language_probability=result.language_probability,
    )  # timings go to the manifest, not the artefact: the same input gives the same bytes
    logger.info(
        "%s: %d segments, %.1f s audio in %.1f s (RTF %.3f)",
        audio_info.interview_id,
        len(segments),
        duration,
        elapsed,
        elapsed / duration if duration else 0.0,
    )
    return Transcript(
        interview_id=audio_info.interview_id,
        language=result.language,
        segments=segments,
        duration=duration,
        provenance=provenance,
    )
