"""Transcribe: speech to verbatim text with word timings, through a pluggable engine.

1. The language: the configured one, or detected first (on the first window with sound; the
   study's ``expected_languages`` weighted, :func:`choose_language`).
2. Decoding with the options of :func:`decode_options`: temperature ``[0.0]`` by default, so two
   runs give the same bytes; the verbatim prompt of that language only when ``verbatim.use_prompt``
   is on (off by default: measured, it adds words; README, verbatim mode).
3. The guard (:mod:`pipeline.verbatim`): words outside Silero VAD speech, prompt echoes and looping
   repeats are dropped; a speech region of 1 s or more without words is decoded again on its own
   or marked ``[inaudible mm:ss–mm:ss]``. What it did is counted in the provenance and the log.
4. Verbatim markers: pauses (silence between words, no VAD speech) of at least
   ``pause_min_seconds`` as ``(3 s)``; optionally uncertain words as ``word [?]``.
Markers are words of their own in ``segment.words`` (probability 1.0, spanning the pause or the
region), so every later stage that rebuilds text from words keeps them.
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
from pipeline.verbatim.guard import GuardCounts, Span, guard_segments, speech_regions
from pipeline.verbatim.markers import fill_speech_gaps, pause_markers

logger = logging.getLogger(__name__)

OUTPUT_NAME = "transcript.asr.json"
SILENCE_PEAK = 1e-4  # below this peak amplitude (of 1.0) a file is treated as silence
STAGE_VERSION = 2

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


def prompt_for(config: TranscribeConfig, language: str | None) -> str | None:
    """The verbatim prompt for ``language``: None when off, unknown language, or a no-prompt model."""
    v = config.verbatim
    if not (v.enabled and v.use_prompt) or language is None or config.model in v.no_prompt_models:
        return None
    return v.prompts.get(language) or None


def decode_options(config: TranscribeConfig, language: str | None = None) -> DecodeOptions:
    """Decoding options; the prompt is that of ``language`` (default: the configured one)."""
    language = language or config.language
    return DecodeOptions(
        language=language,
        beam_size=config.beam_size,
        word_timestamps=True,
        initial_prompt=prompt_for(config, language),
        condition_on_previous_text=config.condition_on_previous_text,
        temperature=tuple(config.temperature),
        seed=config.seed,
        vad_filter=config.vad_filter,
    )


@dataclass
class WindowedResult:
    """An engine's result over a whole file decoded window by window, and the windows (seconds)."""

    result: EngineResult
    windows: list[tuple[float, float]]
    skipped: int = 0  # windows of digital silence, not decoded
    options: DecodeOptions | None = None  # as decoded: the language and prompt chosen


class _Progress:
    """Forward only increasing positions (seconds of the whole file) to the caller's callback."""

    def __init__(self, callback: Callable[[float], None] | None) -> None:
        self.callback, self.done = callback, 0.0

    def __call__(self, seconds: float) -> None:
        if self.callback is not None and seconds > self.done:
            self.done = seconds
            self.callback(seconds)


def choose_language(probabilities: dict[str, float], expected: list[str], weight: float) -> tuple[str, float]:
    """The detected language: the most likely one, the ``expected`` languages weighted by ``weight``.

    Whisper base hears some Danish read speech as German (0.78 against 0.07 for Danish); a study
    that expects Danish gets Danish, while a German recording (Danish below 0.001) stays German.
    """
    language = max(probabilities, key=lambda k: probabilities[k] * (weight if k in expected else 1.0))
    return language, probabilities[language]


def _choose_language(
    engine: ASREngine,
    audio: np.ndarray,
    options: DecodeOptions,
    prompts: Callable[[str], str | None] | None,
    expected: tuple[list[str], float] = ([], 1.0),
) -> tuple[DecodeOptions, float | None]:
    """Options with the detected language and its prompt, when the language is still open."""
    if options.language is not None or prompts is None:
        return options, None
    probabilities = engine.language_probabilities(audio, vad_filter=options.vad_filter)
    language, probability = choose_language(probabilities, *expected)
    return replace(options, language=language, initial_prompt=prompts(language)), probability


def transcribe_windows(
    engine: ASREngine,
    path: Path,
    options: DecodeOptions,
    progress: Callable[[float], None] | None = None,
    *,
    window_seconds: float = WINDOW_SECONDS,
    search_seconds: float = CUT_SEARCH_SECONDS,
    prompts: Callable[[str], str | None] | None = None,
    expected: tuple[list[str], float] = ([], 1.0),
) -> WindowedResult:
    """Decode a 16 kHz file with ``engine``, holding one window (at most ``window_seconds``) at a time.

    A file no longer than one window is decoded in one call. A longer one is cut at quiet points
    (:func:`pipeline.audio.plan_windows`) and each window is decoded as a file of its own with the
    same options (``initial_prompt`` included); its times are shifted by the window's start and
    kept within the window, segment ids renumbered. With ``language=None`` the language is
    detected on the first window that is not digital silence and reused for the rest; with
    ``prompts``, that window and the rest are decoded with ``prompts(language)`` as the prompt, so
    the prompt is always in the language being decoded; ``expected`` (languages, weight) biases
    that detection (:func:`choose_language`). Windows of digital silence (peak below
    ``SILENCE_PEAK``) are not decoded. ``progress`` gets increasing seconds of the file.

    The previous window's text is not carried into the next window's prompt: as a plain-text
    prompt (no timestamp tokens) it made tiny.en write 20-30 s segments and decode 1.4-1.8x
    slower, for no better WER (docs/long_audio.md).
    """
    windows = plan_windows(path, window_seconds=window_seconds, search_seconds=search_seconds)
    spans = [(a / SAMPLE_RATE, b / SAMPLE_RATE) for a, b in windows]
    report = _Progress(progress)
    segments: list[Segment] = []
    probability: float | None = None
    decoded: EngineResult | None = None
    skipped = 0
    with open_audio(path) as f:
        for (a, b), (start, end) in zip(windows, spans, strict=True):
            audio = read_frames(f, a, b - a)
            if len(windows) > 1 and (audio.size == 0 or float(np.max(np.abs(audio))) < SILENCE_PEAK):
                skipped += 1
                report(end)
                continue
            options, detected = _choose_language(engine, audio, options, prompts, expected)
            probability = detected if detected is not None else probability
            length = end - start

            def shifted(t: float, start: float = start, length: float = length) -> None:
                report(start + min(max(t, 0.0), length))

            res = engine.transcribe(audio, options, shifted)
            del audio
            decoded = decoded or res
            if options.language is None and res.segments:
                options = replace(options, language=res.language)
                probability = res.language_probability
            first_id = len(segments)
            segments += [_shift(seg, first_id + i, start, end) for i, seg in enumerate(res.segments)]
            logger.debug("window %.1f-%.1f s: %d segments", start, end, len(res.segments))
        report(spans[-1][1])
    if decoded is None:
        result = EngineResult([], options.language, None, dict(engine.model_info))
    else:
        result = EngineResult(
            segments,
            options.language if options.language is not None else decoded.language,
            probability if probability is not None else decoded.language_probability,
            decoded.model,
        )
    return WindowedResult(result, spans, skipped, options)


def _shift(seg: Segment, idx: int, start: float, end: float) -> Segment:
    """A window's segment on the file's timeline: times shifted by ``start`` and kept within the window."""

    def t(x: float) -> float:
        return min(max(start + x, start), end)

    words = [Word(start=t(w.start), end=t(w.end), text=w.text, probability=w.probability) for w in seg.words]
    return Segment(id=idx, start=t(seg.start), end=t(seg.end), text=seg.text, words=words)


def apply_verbatim(
    segments: list[Segment], config: TranscribeConfig, regions: list[Span] | None = None
) -> list[Segment]:
    """Insert pause markers (over silence only, when VAD ``regions`` are given) and uncertain-word
    markers; rebuild each segment's text from its words."""
    if not config.verbatim.enabled:
        return segments
    return pause_markers(segments, regions, config.verbatim)


def guard(
    engine: ASREngine,
    path: Path,
    segments: list[Segment],
    options: DecodeOptions,
    config: TranscribeConfig,
) -> tuple[list[Segment], list[Span] | None, GuardCounts]:
    """Drop invented words, decode wordless speech again or mark it (see :mod:`pipeline.verbatim`)."""
    counts = GuardCounts()
    if not config.guard.enabled:
        return segments, None, counts
    regions = speech_regions(path, config.guard)
    segments = guard_segments(segments, regions, options.initial_prompt, config.guard, counts)
    segments = fill_speech_gaps(engine, path, segments, regions, options, config.guard, counts)
    return [replace(seg, id=i) for i, seg in enumerate(segments)], regions, counts


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
            prompts=lambda language: prompt_for(config, language),
            expected=(config.expected_languages, config.expected_language_weight),
        )
        used = windowed.options or options
        segments, regions, counts = guard(engine, path, windowed.result.segments, used, config)
    result = windowed.result
    provenance["transcribe"]["decode"] = used.to_dict()
    provenance["transcribe"]["guard"] = counts.to_dict()
    if len(windowed.windows) > 1:  # how a long file was cut; a short file's artefact is unchanged
        provenance["transcribe"]["windows"] = [[round(a, 3), round(b, 3)] for a, b in windowed.windows]
        logger.info(
            "%s: %d windows (%d silent, skipped)",
            audio_info.interview_id,
            len(windowed.windows),
            windowed.skipped,
        )
    logger.info(
        "%s: guard removed %d words (%d outside speech, %d prompt echo, %d repeats); "
        "%d wordless speech regions decoded again, %d words recovered, %d inaudible markers",
        audio_info.interview_id,
        counts.removed,
        counts.outside_speech,
        counts.prompt_echo,
        counts.repeats,
        counts.regions_redecoded,
        counts.words_recovered,
        counts.inaudible,
    )
    segments = apply_verbatim(segments, config, regions)
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
