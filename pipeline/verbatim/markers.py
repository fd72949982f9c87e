"""Nothing silently lost: speech without words is decoded again or marked; pauses only over silence.

* :func:`fill_speech_gaps`: a VAD speech region of at least ``inaudible_min_seconds`` that no word
  overlaps is decoded again on its own (gain normalised, Whisper's no-speech gate off, no prompt).
  Words found there (mean probability at least ``redecode_min_probability``) become a segment of
  their own; otherwise the region gets one marker word,
  ``[inaudible 00:12–00:18]`` by default (``guard.inaudible_marker``).
* :func:`pause_markers`: between two words, each stretch of at least ``pause_min_seconds`` that
  holds no VAD speech becomes a marker word such as ``(3 s)``.

Markers are words of their own (probability 1.0), so later stages that rebuild text keep them;
de-identification leaves them as they are.
"""

from __future__ import annotations

import bisect
import itertools
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from pipeline.audio import SAMPLE_RATE, open_audio, read_frames
from pipeline.config import GuardConfig, VerbatimConfig
from pipeline.engines.base import ASREngine, DecodeOptions
from pipeline.schema import Segment, Word
from pipeline.verbatim.guard import GuardCounts, Span, guard_segments

logger = logging.getLogger(__name__)

TARGET_RMS = 0.1  # -20 dBFS: the level a quiet region is brought to before it is decoded again
MAX_GAIN = 100.0  # +40 dB at most


def clock(seconds: float) -> str:
    """``mm:ss``, or ``h:mm:ss`` from one hour on."""
    s = int(seconds)
    h, m = divmod(s, 3600)
    m, s = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def inaudible_text(start: float, end: float, cfg: GuardConfig) -> str:
    return cfg.inaudible_marker.format(start=clock(start), end=clock(max(end, start + 1)))


def _silent_regions(segments: list[Segment], regions: list[Span], min_seconds: float) -> list[Span]:
    """Speech regions at least ``min_seconds`` long that no word overlaps."""
    spans = sorted((w.start, w.end) for seg in segments for w in seg.words)
    starts = [a for a, _ in spans]
    reach = list(itertools.accumulate((b for _, b in spans), max))  # latest end among the first k words
    out = []
    for s, e in regions:
        if e - s < min_seconds:
            continue
        i = bisect.bisect_left(starts, e)  # words starting before the region ends
        if i == 0 or reach[i - 1] <= s:
            out.append((s, e))
    return out


def _levelled(audio: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    if rms < 1e-6:
        return audio
    gain = min(MAX_GAIN, TARGET_RMS / rms)
    return np.clip(audio * gain, -1.0, 1.0).astype(np.float32)


def fill_speech_gaps(
    engine: ASREngine,
    path: Path,
    segments: list[Segment],
    regions: list[Span],
    options: DecodeOptions,
    cfg: GuardConfig,
    counts: GuardCounts,
) -> list[Segment]:
    """The segments, plus a segment for each wordless speech region: re-decoded words or a marker."""
    gaps = _silent_regions(segments, regions, cfg.inaudible_min_seconds)
    if not gaps:
        return segments
    again = replace(
        options,
        initial_prompt=None,
        no_speech_threshold=None,
        vad_filter=False,
        condition_on_previous_text=False,
    )
    added: list[Segment] = []
    with open_audio(path) as f:
        for s, e in gaps:
            a, b = int(s * SAMPLE_RATE), min(f.frames, int(e * SAMPLE_RATE))
            audio = _levelled(read_frames(f, a, b - a))
            counts.regions_redecoded += 1
            res = engine.transcribe(audio, again)
            found = guard_segments([_shift(seg, s, e) for seg in res.segments], [(s, e)], None, cfg, counts)
            words = [w for seg in found for w in seg.words]
            if words and np.mean([w.probability for w in words]) < cfg.redecode_min_probability:
                counts.redecoded_unsure += len(words)
                words = []
            if words:
                counts.words_recovered += len(words)
                added.append(
                    Segment(
                        id=0,
                        start=words[0].start,
                        end=words[-1].end,
                        text=" ".join(w.text for w in words),
                        words=words,
                    )
                )
            else:
                counts.inaudible += 1
                marker = Word(start=s, end=e, text=inaudible_text(s, e, cfg), probability=1.0)
                added.append(Segment(id=0, start=s, end=e, text=marker.text, words=[marker]))
    logger.info(
        "%d wordless speech regions decoded again: %d words recovered, %d marked inaudible",
        len(gaps),
        counts.words_recovered,
        counts.inaudible,
    )
    merged = sorted(segments + added, key=lambda seg: (seg.start, seg.end))
    return [replace(seg, id=i) for i, seg in enumerate(merged)]


def _shift(seg: Segment, start: float, end: float) -> Segment:
    def t(x: float) -> float:
        return min(max(start + x, start), end)

    words = [Word(start=t(w.start), end=t(w.end), text=w.text, probability=w.probability) for w in seg.words]
    return Segment(id=seg.id, start=t(seg.start), end=t(seg.end), text=seg.text, words=words)


def _silences(a: float, b: float, regions: list[Span]) -> list[Span]:
    """The parts of ``[a, b]`` outside every speech region (``regions`` None: all of it)."""
    out, t = [], a
    for s, e in regions:
        if e <= t:
            continue
        if s >= b:
            break
        if s > t:
            out.append((t, s))
        t = max(t, e)
    if t < b:
        out.append((t, b))
    return out


def pause_markers(segments: list[Segment], regions: list[Span] | None, v: VerbatimConfig) -> list[Segment]:
    """Insert pause markers (over silence only) and uncertain-word markers; text rebuilt from words."""
    prev_end: float | None = None
    out: list[Segment] = []
    for seg in segments:
        words: list[Word] = []
        for w in seg.words:
            if prev_end is not None and w.start - prev_end >= v.pause_min_seconds:
                quiet = (
                    _silences(prev_end, w.start, regions) if regions is not None else [(prev_end, w.start)]
                )
                for a, b in quiet:
                    if b - a >= v.pause_min_seconds:
                        text = v.pause_marker.format(seconds=b - a)
                        words.append(Word(start=a, end=b, text=text, probability=1.0))
            text = w.text
            if v.uncertain_threshold > 0 and w.probability < v.uncertain_threshold:
                text = v.uncertain_marker.format(word=w.text)
            words.append(Word(start=w.start, end=w.end, text=text, probability=w.probability))
            prev_end = max(prev_end or 0.0, w.end)
        text = " ".join(w.text for w in words) if words else seg.text
        start = min(seg.start, words[0].start) if words else seg.start
        out.append(Segment(id=seg.id, start=start, end=seg.end, text=text, words=words))
    return out
