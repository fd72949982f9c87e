"""Embedding back-end (default, offline): Silero VAD -> Resemblyzer windows -> clustering -> turns.

1. Speech regions: Silero probability > ``vad_threshold`` per 32 ms frame; regions closer than
   ``vad_min_silence`` are joined, shorter than ``vad_min_speech`` dropped, ``vad_pad`` added.
2. The speech is levelled to ``gain_dbfs`` RMS (Resemblyzer's mel input is not log-scaled, so a quiet
   recording otherwise gets blurred embeddings).
3. Windows of ``window`` s every ``hop`` s inside each region (a region shorter than a window gets
   one window on it, at least 0.5 s); one d-vector per window.
4. Windows are clustered (``pipeline.speakers.clustering``), then each 10 ms frame of speech takes
   the label most of its covering windows have: turns are runs of one label.
5. Opt-in (``overlap_detection``): a second speaker where a frame's windows sit between two
   clusters (``second_voices``); off by default because its measured precision is below 0.5.

Memory: audio is read ``BLOCK_SECONDS`` (10 min) at a time, block starts at multiples of 0.16 s
(the VAD frame and the mel hop both divide it). Silero's state runs on across blocks; the levelling
gain is summed over the speech regions read piece by piece; each block's mel frames are computed
with the margin its windows reach past the edge and only the d-vectors are kept. A recording of at
most one block gives exactly one pass's results; a longer one the same probabilities and regions,
and d-vectors within float rounding (~3e-7). What grows with length: the probabilities (4 bytes per
32 ms), the d-vectors (1 KB per window: ~1 MB per 4 min of speech) and the turn labelling's votes
(4 bytes per 10 ms frame and cluster).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from pipeline.speakers import models
from pipeline.speakers.base import (
    SAMPLE_RATE,
    AudioInput,
    Diarization,
    Samples,
    SpeakerBackend,
    Turn,
    block_samples,
)
from pipeline.speakers.clustering import Span, centroids, cluster_speakers
from pipeline.speakers.config import EmbeddingConfig, ResolvedSpeakers

logger = logging.getLogger(__name__)

FRAME = 0.01  # label resolution (s), one mel frame
MIN_WINDOW = 0.5
# Blocks start at multiples of both the VAD frame (512) and the mel hop (160): 0.16 s.
BLOCK_MULTIPLE = int(np.lcm(models.VAD_FRAME, models.MEL_HOP))


def speech_regions(probs: np.ndarray, cfg: EmbeddingConfig, duration: float) -> list[Span]:
    """Speech regions (s) from Silero frame probabilities."""
    hop = models.VAD_FRAME / SAMPLE_RATE
    speech = probs > cfg.vad_threshold
    runs: list[list[float]] = []
    i, n = 0, len(speech)
    while i < n:
        if speech[i]:
            j = i
            while j < n and speech[j]:
                j += 1
            if runs and i * hop - runs[-1][1] < cfg.vad_min_silence:
                runs[-1][1] = j * hop
            else:
                runs.append([i * hop, j * hop])
            i = j
        else:
            i += 1
    out: list[list[float]] = []
    for s, e in runs:
        if e - s < cfg.vad_min_speech:
            continue
        s, e = max(0.0, s - cfg.vad_pad), min(duration, e + cfg.vad_pad)
        if out and s <= out[-1][1]:
            out[-1][1] = e
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def windows(regions: list[Span], duration: float, window: float, hop: float) -> list[Span]:
    """Embedding windows (s) inside speech regions."""
    out: list[Span] = []
    for s, e in regions:
        length = e - s
        if length <= window:
            c, half = (s + e) / 2, max(length, MIN_WINDOW) / 2
            out.append((max(0.0, c - half), min(duration, c + half)))
            continue
        n = int(np.ceil((length - window) / hop)) + 1
        for k in range(n):
            a = min(s + k * hop, e - window)
            out.append((a, a + window))
    return out


def speech_gain(src: Samples, regions: list[Span], target_dbfs: float) -> np.float32 | None:
    """The factor that gives the speech in ``regions`` (default: all) ``target_dbfs`` RMS, or None
    for silence. Sums of squares are taken over pieces of at most 2**20 samples read from ``src``."""
    total, count = 0.0, 0
    for s, e in regions or [(0.0, src.duration)]:
        for a in range(int(s * SAMPLE_RATE), min(src.frames, int(e * SAMPLE_RATE)), 1 << 20):
            piece = src.read(a, min(a + (1 << 20), int(e * SAMPLE_RATE))).astype(np.float64)
            total += float(np.dot(piece, piece))
            count += len(piece)
    rms = (total / count) ** 0.5 if count else 0.0
    if rms < 1e-6:
        return None
    return np.float32(10 ** (target_dbfs / 20) / rms)


def speech_probabilities(src: Samples, block: int) -> np.ndarray:
    """Silero probabilities per 32 ms frame, reading ``block`` samples (a multiple of 512) at a time."""
    return models.speech_probabilities_blocks((x for _, x in src.blocks(block)), src.frames)


def _mel_range(src: Samples, f0: int, f1: int, gain: np.float32 | None) -> np.ndarray:
    """Mel frames ``[f0, f1)`` of the levelled recording, equal to those of one pass over all of it."""
    half = models.MEL_WINDOW // 2
    lo, hi = f0 * models.MEL_HOP - half, (f1 - 1) * models.MEL_HOP + half
    x = src.read(lo, hi)
    if gain is not None:
        x = (x * gain).astype(np.float32, copy=False)
    left = max(0, -lo)
    padded = np.pad(np.asarray(x, dtype=np.float32), (left, max(0, hi - lo - left - len(x))))
    return models.mel_of_padded(padded, f1 - f0)


def embed_windows(
    src: Samples,
    spans: list[Span],
    gain: np.float32 | None,
    block: int = 1 << 62,
    threads: int = 1,
) -> np.ndarray:
    """One d-vector per span (s), computing mel frames one block of ``block`` samples (a multiple
    of the mel hop) at a time, plus the margin the windows starting in that block reach into.
    A recording of at most one block gives exactly the vectors of one pass."""
    frames = [
        (int(round(a / FRAME)), max(int(round(a / FRAME)) + 20, int(round(b / FRAME)))) for a, b in spans
    ]
    out = np.zeros((len(frames), 256), dtype=np.float32)
    total = 1 + src.frames // models.MEL_HOP
    per_block = max(1, block // models.MEL_HOP)
    groups: dict[int, list[int]] = {}
    for i, (a, _) in enumerate(frames):
        groups.setdefault(a // per_block, []).append(i)
    for k in sorted(groups):
        idx = groups[k]
        f0 = k * per_block
        f1 = min(total, max(f0 + per_block, max(frames[i][1] for i in idx)))
        mel = _mel_range(src, f0, f1, gain)
        out[idx] = models.embed_spans(
            mel, [(frames[i][0] - f0, frames[i][1] - f0) for i in idx], threads=threads
        )
    return out


def _frame_votes(spans: list[Span], labels: np.ndarray, duration: float) -> np.ndarray:
    """(frames, clusters): how many windows of each cluster cover each 10 ms frame."""
    nf = int(np.ceil(duration / FRAME)) + 1
    k = int(labels.max()) + 1 if len(labels) else 1
    votes = np.zeros((nf, k), dtype=np.float32)
    for (a, b), lab in zip(spans, labels):
        votes[int(a / FRAME) : int(np.ceil(b / FRAME)), lab] += 1
    return votes


def _runs(flag: np.ndarray, value: np.ndarray) -> list[tuple[int, int]]:
    """[i, j) runs where ``flag`` holds and ``value`` stays the same."""
    out, i, n = [], 0, len(flag)
    while i < n:
        if not flag[i]:
            i += 1
            continue
        j = i
        while j < n and flag[j] and value[j] == value[i]:
            j += 1
        out.append((i, j))
        i = j
    return out


def label_frames(regions: list[Span], spans: list[Span], labels: np.ndarray, duration: float) -> list[Turn]:
    """Each speech frame takes the majority label of the windows covering it; turns are runs of one label."""
    votes = _frame_votes(spans, labels, duration)
    nf = len(votes)
    best = votes.argmax(axis=1)
    turns: list[Turn] = []
    for s, e in regions:
        i, end = int(round(s / FRAME)), min(nf, int(round(e / FRAME)))
        while i < end:
            j = i
            while j < end and best[j] == best[i]:
                j += 1
            turns.append(Turn(round(i * FRAME, 3), round(min(j * FRAME, duration), 3), f"C{best[i]}"))
            i = j
    return [t for t in turns if t.end > t.start]


def second_voices(
    regions: list[Span],
    spans: list[Span],
    labels: np.ndarray,
    emb: np.ndarray,
    duration: float,
    cfg: EmbeddingConfig,
) -> list[Turn]:
    """Opt-in overlap detection: turns of a second speaker inside another speaker's speech.

    A speech frame gets the second speaker when (1) the mean cosine similarity of its covering
    windows to the two nearest cluster centroids differs by less than ``overlap_margin`` and (2)
    at least ``overlap_min_share`` of those windows carry the second cluster's label, for at least
    ``overlap_min_seconds``. Measured on sample.wav + 12 AMI excerpts: precision 0.47, recall 0.17
    against the RTTM overlap (docs/speakers.md), hence off by default.
    """
    if len(labels) == 0 or labels.max() < 1:
        return []
    votes = _frame_votes(spans, labels, duration)
    sims = np.zeros_like(votes)
    for (a, b), row in zip(spans, emb @ centroids(emb, labels).T):
        sims[int(a / FRAME) : int(np.ceil(b / FRAME))] += row
    total = votes.sum(axis=1)
    sims /= np.maximum(total, 1)[:, None]
    top = np.sort(sims, axis=1)
    margin = top[:, -1] - top[:, -2]
    rest = votes.copy()
    rest[np.arange(len(votes)), votes.argmax(axis=1)] = -1
    other = rest.argmax(axis=1)
    share = rest.max(axis=1) / np.maximum(total, 1)
    speech = np.zeros(len(votes), dtype=bool)
    for s, e in regions:
        speech[int(round(s / FRAME)) : int(round(e / FRAME))] = True
    flag = speech & (total > 0) & (margin < cfg.overlap_margin) & (share >= max(cfg.overlap_min_share, 1e-6))
    return [
        Turn(round(i * FRAME, 3), round(min(j * FRAME, duration), 3), f"C{other[i]}")
        for i, j in _runs(flag, other)
        if (j - i) * FRAME >= cfg.overlap_min_seconds
    ]


def _segment(src: Samples, cfg: EmbeddingConfig):
    """Segmentation-3.0 activity of the recording, or None (switched off, or the model is unavailable)."""
    if not cfg.segmentation:
        return None
    from pipeline.speakers import segmentation
    from pipeline.speakers.fetch import model_path

    path = model_path("segmentation-3.0.bin", download=False)  # a run never opens a connection
    if path is None:
        logger.warning(
            "segmentation-3.0 not installed (run scripts/install_speaker_models.sh): "
            "no overlap marking, one-voice check off"
        )
        return None
    return segmentation.activity(src, path, step=cfg.segmentation_step, threads=cfg.torch_threads)


def second_speakers(
    overlaps: list[tuple[float, float]],
    turns: list[Turn],
    spans: list[Span],
    labels: np.ndarray,
    emb: np.ndarray,
) -> list[Turn]:
    """In each overlap span, the second voice: the cluster other than the span's main speaker whose
    centroid the span's windows are most similar to; attributed only when some of those windows carry
    that cluster's label (evidence that the voice is heard there), else the span is overlap without a
    named second speaker."""
    if len(labels) == 0 or labels.max() < 1:
        return []
    cent = centroids(emb, labels)
    starts = np.array([a for a, _ in spans])
    ends = np.array([b for _, b in spans])
    out: list[Turn] = []
    for s, e in overlaps:
        inside = (starts < e) & (ends > s)
        if not inside.any():
            continue
        share: dict[str, float] = {}
        for t in turns:
            ov = min(e, t.end) - max(s, t.start)
            if ov > 0:
                share[t.speaker] = share.get(t.speaker, 0.0) + ov
        if not share:
            continue
        main = int(max(share, key=lambda k: share[k])[1:])
        sims = (emb[inside] @ cent.T).mean(axis=0)
        sims[main] = -np.inf
        other = int(np.argmax(sims))
        if (labels[inside] == other).any():
            out.append(Turn(s, e, f"C{other}"))
    return out


def _support(turns: list[Turn]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for t in sorted(turns, key=lambda t: t.start):
        if out and t.start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], t.end)
        else:
            out.append([t.start, t.end])
    return [(s, e) for s, e in out]


def _cluster(
    emb: np.ndarray, spans: list[Span], settings: ResolvedSpeakers, cfg: EmbeddingConfig
) -> tuple[np.ndarray, dict]:
    """Cluster at most ``max_cluster_windows`` evenly spaced windows; the others join the nearest centroid."""
    n = len(emb)
    idx = np.arange(n)
    if n > cfg.max_cluster_windows:
        idx = np.unique(np.linspace(0, n - 1, cfg.max_cluster_windows).round().astype(int))
    scale = len(idx) / n  # the subset covers about this fraction of the speech
    sub, info = cluster_speakers(
        emb[idx],
        [spans[i] for i in idx],
        min_k=settings.min_speakers,
        max_k=settings.max_speakers,
        min_seconds=cfg.min_speaker_seconds * scale if scale < 1 else cfg.min_speaker_seconds,
        silhouette_min=cfg.silhouette_min,
        penalty=cfg.speaker_penalty,
        merge_similarity=cfg.merge_similarity,
    )
    if len(idx) == n:
        return sub, info
    cent = centroids(emb[idx], sub)
    return (emb @ cent.T).argmax(axis=1), {**info, "clustered_windows": int(len(idx))}


class EmbeddingBackend(SpeakerBackend):
    name = "embedding"

    def diarize(self, audio: AudioInput, settings: ResolvedSpeakers) -> Diarization:
        with audio.open_mono() as src:
            return self.diarize_samples(src, settings)

    def diarize_array(
        self, x: np.ndarray, settings: ResolvedSpeakers, block_seconds: float | None = None
    ) -> Diarization:
        return self.diarize_samples(Samples.of_array(x), settings, block_seconds)

    def diarize_samples(
        self, src: Samples, settings: ResolvedSpeakers, block_seconds: float | None = None
    ) -> Diarization:
        """Diarize reading ``block_seconds`` (default ``BLOCK_SECONDS``) of audio at a time.

        Memory: one block of samples and its mel frames, plus what grows with the amount of speech:
        the d-vectors (256 floats per window, ~1 MB per 4 min of speech with the default 0.25 s
        hop) and the per-10 ms-frame votes of the turn labelling (4 bytes per frame and cluster).
        """
        cfg = self.config.embedding
        started = time.monotonic()
        block = block_samples(block_seconds, BLOCK_MULTIPLE)
        duration = src.duration
        regions = speech_regions(speech_probabilities(src, block), cfg, duration)
        stats: dict = {
            "speech_regions": len(regions),
            "speech_seconds": round(sum(e - s for s, e in regions), 2),
        }
        if not regions:
            stats.update(windows=0, num_speakers=0, seconds=round(time.monotonic() - started, 3))
            return Diarization([], self.name, stats=stats)
        gain = speech_gain(src, regions, cfg.gain_dbfs)
        spans = windows(regions, duration, cfg.window, cfg.hop)
        emb = embed_windows(src, spans, gain, block, cfg.torch_threads)
        act = _segment(src, cfg)
        if act is not None and settings.num_speakers is None and settings.min_speakers <= 1:
            local = act.local_speakers(cfg.one_voice_seconds)
            stats["max_local_speakers"] = max(local)
            if max(local) <= 1:  # no 10 s stretch holds two voices: one speaker
                settings = settings.model_copy(update={"max_speakers": 1})
            else:  # at least as many speakers as one 10 s stretch holds
                floor = max(settings.min_speakers, min(max(local), settings.max_speakers))
                settings = settings.model_copy(update={"min_speakers": floor})
        labels, info = _cluster(emb, spans, settings, cfg)
        turns = label_frames(regions, spans, labels, duration)
        overlaps: list[tuple[float, float]] = []
        if act is not None:
            from pipeline.speakers.segmentation import overlap_regions

            overlaps = overlap_regions(act, cfg.segmentation_overlap)
            extra = second_speakers(overlaps, turns, spans, labels, emb)
        elif cfg.overlap_detection:
            extra = second_voices(regions, spans, labels, emb, duration, cfg)
            overlaps = _support(extra)
        else:
            extra = []
        stats["segmentation"] = act is not None
        stats.update(info)
        stats.update(
            windows=len(spans),
            num_speakers=len({t.speaker for t in turns}),
            seconds=round(time.monotonic() - started, 3),
        )
        stats["overlap_seconds"] = round(sum(e - s for s, e in overlaps), 2)
        logger.info(
            "embedding diarization: %d blocks, %d regions, %d windows, %d speakers in %.2f s",
            -(-src.frames // block),
            len(regions),
            len(spans),
            stats["num_speakers"],
            stats["seconds"],
        )
        return Diarization(turns, self.name, overlaps=overlaps, secondary=extra, stats=stats)


def voice_embedding(
    x: np.ndarray | Samples,
    spans: list[Span] | None = None,
    cfg: EmbeddingConfig | None = None,
    block_seconds: float | None = None,
) -> np.ndarray | None:
    """One L2-normed voice print from the speech in ``spans`` (default: all speech found by the VAD).

    ``x``: mono samples, or :class:`Samples` read one block at a time (memory independent of length).
    """
    cfg = cfg or EmbeddingConfig()
    src = x if isinstance(x, Samples) else Samples.of_array(x)
    block = block_samples(block_seconds, BLOCK_MULTIPLE)
    duration = src.duration
    if spans is None:
        spans = speech_regions(speech_probabilities(src, block), cfg, duration)
    spans = [(max(0.0, a), min(duration, b)) for a, b in spans if b - a >= 0.3]
    if not spans:
        return None
    gain = speech_gain(src, spans, cfg.gain_dbfs)
    emb = embed_windows(src, windows(spans, duration, cfg.window, cfg.hop), gain, block, cfg.torch_threads)
    v = emb.mean(axis=0)
    return v / max(float(np.linalg.norm(v)), 1e-9)
