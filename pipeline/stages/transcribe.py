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
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from threadpoolctl import threadpool_limits

from pipeline.config import TranscribeConfig
from pipeline.engines.base import ASREngine, DecodeOptions
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
        initial_prompt=v.prompt if v.enabled and v.prompt and config.model not in v.no_prompt_models else None,
        condition_on_previous_text=config.condition_on_previous_text,
        vad_filter=config.vad_filter,
    )


def load_audio(path: Path) -> np.ndarray:
    audio, sr = sf.read(str(path), dtype="float32", always_2d=False)
    if sr != 16000:
        raise ValueError(f"{path}: expected 16 kHz audio, found {sr} Hz")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    return np.ascontiguousarray(audio)


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
) -> Transcript:
    """Transcribe the interview's normalised audio; the caller writes the artefact."""
    audio = load_audio(interview_dir / audio_info.normalized_path)
    duration = len(audio) / 16000
    options = decode_options(config)
    provenance: dict[str, Any] = {
        "transcribe": {
            "stage_version": STAGE_VERSION,
            "config": config.model_dump(mode="json"),
            "decode": options.to_dict(),
        }
    }
    started = time.monotonic()
    if audio.size == 0 or float(np.max(np.abs(audio))) < SILENCE_PEAK:
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
        result = engine.transcribe(audio, options, progress)
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
