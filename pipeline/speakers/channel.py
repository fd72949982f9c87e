"""Channel back-end: one speaker per channel (two lavalier microphones, a call recorder).

Per 32 ms frame and channel: level in dBFS. A channel is *active* above ``active_db`` and
``active_above_floor_db`` over its own noise floor (10th percentile). A channel *speaks* in a frame
when it is active and the loudest channel, or within ``overlap_within_db`` of the loudest (crosstalk
from the other microphone is usually 10-20 dB down). Two channels speaking at once is overlap. Each
word goes to the channel with the most energy over the word (``Diarization.frame_scores``).

Auto-detection (``backend: auto``), all of, over every pair of channels:
* |waveform correlation| < ``max_correlation`` (rules out a mono mix copied or panned to both sides);
* correlation of the dB level curves on active frames < ``max_envelope_correlation`` (rules out a
  stereo pair in one room: both microphones rise and fall with the same voices);
* on at least ``min_dominant_fraction`` of the active frames one channel is ``min_dominance_db``
  louder than the other.
"""

from __future__ import annotations

import logging

import numpy as np

from pipeline.speakers.base import (
    SAMPLE_RATE,
    AudioInput,
    Diarization,
    Samples,
    SpeakerBackend,
    SpeakersError,
    Turn,
    block_samples,
)
from pipeline.speakers.config import ChannelConfig, ResolvedSpeakers

logger = logging.getLogger(__name__)


def frame_levels(x: np.ndarray, frame_seconds: float) -> np.ndarray:
    """(frames, channels) level in dBFS."""
    n = max(1, int(round(frame_seconds * SAMPLE_RATE)))
    frames = len(x) // n
    if frames == 0:
        return np.zeros((0, x.shape[1]), dtype=np.float32)
    power = (x[: frames * n].reshape(frames, n, x.shape[1]).astype(np.float64) ** 2).mean(axis=1)
    return (10 * np.log10(power + 1e-10)).astype(np.float32)


def active_frames(db: np.ndarray, cfg: ChannelConfig) -> np.ndarray:
    floor = np.quantile(db, 0.1, axis=0) if len(db) else np.zeros(db.shape[1])
    return db > np.maximum(cfg.active_db, floor + cfg.active_above_floor_db)


class _PairMoments:
    """Running Pearson correlation of two channels over blocks (Chan et al.'s pairwise update)."""

    def __init__(self) -> None:
        self.n, self.ma, self.mb, self.saa, self.sbb, self.sab = 0, 0.0, 0.0, 0.0, 0.0, 0.0
        self.equal = True
        self.first: float | None = None  # the one-block value, exactly as ``_corr`` gives it

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        m = len(a)
        if m == 0:
            return
        self.first = _corr(a, b) if self.n == 0 else None
        self.equal = self.equal and bool(np.array_equal(a, b))
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        ma, mb = float(a64.mean()), float(b64.mean())
        da, db = a64 - ma, b64 - mb
        saa, sbb, sab = float(da @ da), float(db @ db), float(da @ db)
        n = self.n + m
        ea, eb = ma - self.ma, mb - self.mb
        w = self.n * m / n
        self.saa += saa + ea * ea * w
        self.sbb += sbb + eb * eb * w
        self.sab += sab + ea * eb * w
        self.ma += ea * m / n
        self.mb += eb * m / n
        self.n = n

    def value(self) -> float:
        if self.first is not None:
            return self.first
        if self.n < 2 or self.saa <= 0 or self.sbb <= 0:
            return 1.0 if self.equal else 0.0
        return float(np.clip(self.sab / np.sqrt(self.saa) / np.sqrt(self.sbb), -1.0, 1.0))


def scan_channels(
    x: np.ndarray | Samples, frame_seconds: float, block_seconds: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(frames, channels) levels in dBFS and the (channels, channels) waveform correlations.

    Reads ``block_seconds`` (default ``BLOCK_SECONDS``, a multiple of the frame) at a time: levels
    are those of one pass; a recording of one block gets exactly ``np.corrcoef``'s correlations,
    a longer one the same up to rounding (running sums).
    """
    src = x if isinstance(x, Samples) else Samples.of_array(x)
    frame = max(1, int(round(frame_seconds * SAMPLE_RATE)))
    chans = src.channels
    pairs = {(i, j): _PairMoments() for i in range(chans) for j in range(i + 1, chans)}
    levels = []
    for _, data in src.blocks(block_samples(block_seconds, frame), mono=False):
        levels.append(frame_levels(data, frame_seconds))
        for (i, j), acc in pairs.items():
            acc.add(data[:, i], data[:, j])
    corr = np.eye(chans)
    for (i, j), acc in pairs.items():
        corr[i, j] = corr[j, i] = acc.value()
    db = np.concatenate(levels) if levels else np.zeros((0, chans), dtype=np.float32)
    return db, corr


def separation_from(db: np.ndarray, corr: np.ndarray, cfg: ChannelConfig) -> dict[str, float]:
    """The three measures of the auto-detection rule, worst pair of channels."""
    act = active_frames(db, cfg).any(axis=1)
    worst = {
        "waveform_correlation": 0.0,
        "envelope_correlation": -1.0,
        "dominant_fraction": 1.0,
        "active_frames": int(act.sum()),
    }
    chans = db.shape[1]
    for i in range(chans):
        for j in range(i + 1, chans):
            wc = corr[i, j]
            ec = _corr(db[act, i], db[act, j]) if act.sum() > 2 else 1.0
            dom = (
                float((np.abs(db[act, i] - db[act, j]) >= cfg.min_dominance_db).mean()) if act.any() else 0.0
            )
            worst["waveform_correlation"] = max(worst["waveform_correlation"], abs(wc))
            worst["envelope_correlation"] = max(worst["envelope_correlation"], ec)
            worst["dominant_fraction"] = min(worst["dominant_fraction"], dom)
    return {k: round(float(v), 4) if isinstance(v, float) else v for k, v in worst.items()}


def channels_are_separate(
    x: np.ndarray | Samples | None, cfg: ChannelConfig, block_seconds: float | None = None
) -> tuple[bool, dict[str, float]]:
    """The ``auto`` rule: whether every pair of channels holds a different voice; and its measures."""
    if x is None or (x.channels if isinstance(x, Samples) else (x.shape[1] if x.ndim == 2 else 1)) < 2:
        return False, {}
    s = separation_from(*scan_channels(x, cfg.frame_seconds, block_seconds), cfg)
    separate = (
        s["active_frames"] > 0
        and s["waveform_correlation"] < cfg.max_correlation
        and s["envelope_correlation"] < cfg.max_envelope_correlation
        and s["dominant_fraction"] >= cfg.min_dominant_fraction
    )
    return separate, s


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or np.std(a) == 0 or np.std(b) == 0:
        return 1.0 if np.array_equal(a, b) else 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _runs(mask: np.ndarray, hop: float, min_gap: float) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    idx = np.flatnonzero(mask)
    for i in idx:
        s, e = i * hop, (i + 1) * hop
        if out and s - out[-1][1] < min_gap:
            out[-1][1] = e
        else:
            out.append([s, e])
    return [(round(s, 3), round(e, 3)) for s, e in out if e - s >= 2 * hop]


def overlaps_of(turns: list[Turn], min_seconds: float) -> list[tuple[float, float]]:
    """Spans where turns of two different speakers overlap for at least ``min_seconds``."""
    spans = []
    ordered = sorted(turns, key=lambda t: t.start)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b.start >= a.end:
                break
            if a.speaker != b.speaker:
                s, e = max(a.start, b.start), min(a.end, b.end)
                if e - s >= min_seconds:
                    spans.append((s, e))
    spans.sort()
    merged: list[list[float]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


class ChannelBackend(SpeakerBackend):
    name = "channel"

    def diarize(self, audio: AudioInput, settings: ResolvedSpeakers) -> Diarization:
        with audio.open_channels() as src:
            if src is None:
                raise SpeakersError(
                    f"{audio.mono_path.name}: the channel back-end needs a recording with two or more channels"
                )
            return self.diarize_samples(src)

    def diarize_array(self, x: np.ndarray, block_seconds: float | None = None) -> Diarization:
        return self.diarize_samples(Samples.of_array(x), block_seconds)

    def diarize_samples(self, src: Samples, block_seconds: float | None = None) -> Diarization:
        """Turns from per-frame channel levels, read ``block_seconds`` (default ``BLOCK_SECONDS``) at a time."""
        cfg = self.config.channel
        db, corr = scan_channels(src, cfg.frame_seconds, block_seconds)
        act = active_frames(db, cfg)
        loudest = db.max(axis=1, keepdims=True) if len(db) else db
        speaks = act & (db >= loudest - cfg.overlap_within_db)
        turns = [
            Turn(s, e, f"ch{c + 1}")
            for c in range(src.channels)
            for s, e in _runs(speaks[:, c], cfg.frame_seconds, cfg.min_gap)
        ]
        turns.sort(key=lambda t: (t.start, t.speaker))
        overlaps = overlaps_of(turns, self.config.overlap.min_seconds)
        sep = separation_from(db, corr, cfg) if src.channels > 1 else {}
        stats = {
            "channels": int(src.channels),
            "num_speakers": len({t.speaker for t in turns}),
            "overlap_seconds": round(sum(e - s for s, e in overlaps), 2),
            **sep,
        }
        power = 10 ** (db / 10)  # linear energy per frame: the word goes to the channel with the most
        return Diarization(
            turns,
            self.name,
            overlaps=overlaps,
            stats=stats,
            frame_scores=power,
            frame_hop=cfg.frame_seconds,
            score_labels=[f"ch{c + 1}" for c in range(src.channels)],
        )
