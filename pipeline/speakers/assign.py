"""Give each word a speaker and split segments where the speaker changes (pure logic, no models).

* A word's speaker is the one whose turns overlap the word the longest; with per-frame evidence
  (``Diarization.frame_scores``, the channel back-end's energy) the one with the most evidence over
  the word. A word that touches no turn (a pause marker, speech the VAD missed) takes the speaker of
  the word before it in the segment, else the word after it, else the nearest turn.
* A segment whose words have several speakers is split at those word boundaries; each piece's text
  is its words joined with spaces (Whisper's words carry their punctuation). Unsplit segments keep
  their text. Segment ids are renumbered 0..n-1 in time order.
"""

from __future__ import annotations

import bisect
from dataclasses import replace

import numpy as np

from pipeline.schema import Segment, Word
from pipeline.speakers.base import Diarization, Turn


class TurnIndex:
    """Turns sorted by start, for overlap queries."""

    def __init__(self, turns: list[Turn]) -> None:
        self.turns = sorted(turns, key=lambda t: t.start)
        self.starts = [t.start for t in self.turns]
        self.max_len = max((t.duration for t in self.turns), default=0.0)

    def overlap_by_speaker(self, start: float, end: float) -> dict[str, float]:
        out: dict[str, float] = {}
        lo = bisect.bisect_left(self.starts, start - self.max_len)
        hi = bisect.bisect_right(self.starts, end)
        for t in self.turns[lo:hi]:
            ov = min(end, t.end) - max(start, t.start)
            if ov > 0 or (end <= start and t.start <= start <= t.end):
                out[t.speaker] = out.get(t.speaker, 0.0) + max(ov, 0.0)
        return out

    def nearest(self, time: float) -> str | None:
        if not self.turns:
            return None
        best = min(
            self.turns,
            key=lambda t: 0.0 if t.start <= time <= t.end else min(abs(time - t.start), abs(time - t.end)),
        )
        return best.speaker


def word_speaker(start: float, end: float, index: TurnIndex, diar: Diarization) -> str | None:
    """The speaker of a word, or None when no turn touches it."""
    if diar.frame_scores is not None and diar.frame_hop > 0 and len(diar.frame_scores):
        a = int(start / diar.frame_hop)
        b = max(a + 1, int(np.ceil(end / diar.frame_hop)))
        scores = diar.frame_scores[a:b]
        if len(scores):
            return diar.score_labels[int(scores.mean(axis=0).argmax())]
    overlaps = index.overlap_by_speaker(start, end)
    if not overlaps:
        return None
    return max(overlaps.items(), key=lambda kv: kv[1])[0]


def label_words(words: list[Word], index: TurnIndex, diar: Diarization) -> list[Word]:
    labels = [word_speaker(w.start, w.end, index, diar) for w in words]
    for i in range(len(labels)):  # forward fill, then backward fill, then nearest turn
        if labels[i] is None and i > 0:
            labels[i] = labels[i - 1]
    for i in range(len(labels) - 2, -1, -1):
        if labels[i] is None:
            labels[i] = labels[i + 1]
    out = []
    for w, lab in zip(words, labels):
        if lab is None:
            lab = index.nearest((w.start + w.end) / 2)
        out.append(replace(w, speaker=lab))
    return out


SNAP_WORDS = 2  # how far (in words) a speaker change may move
SENTENCE_END = (".", "?", "!", "…")


def _boundary_score(words: list[Word], i: int) -> float:
    """How good a place for a speaker change the boundary before ``words[i]`` is: the pause (s), plus
    0.3 after a sentence end and 0.1 after a comma."""
    prev = words[i - 1].text.strip()
    bonus = 0.3 if prev.endswith(SENTENCE_END) else 0.1 if prev.endswith((",", ";", ":")) else 0.0
    return max(0.0, words[i].start - words[i - 1].end) + bonus


def snap_changes(words: list[Word]) -> list[Word]:
    """Move each speaker change to the best boundary (longest pause, sentence end) within
    ``SNAP_WORDS`` words, so a turn never starts inside a phrase (a name cut in two) because the
    voices' turns were a few frames off. A change at a pause of >= 0.15 s stays; a change moves only
    to a boundary scoring >= 0.25 and 0.1 above the current one."""
    labels = [w.speaker for w in words]
    i = 1
    while i < len(labels):
        if labels[i] == labels[i - 1] or labels[i] is None or labels[i - 1] is None:
            i += 1
            continue
        here = _boundary_score(words, i)
        best, best_score = i, here
        if here < 0.15:
            for j in range(max(1, i - SNAP_WORDS), min(len(words), i + SNAP_WORDS + 1)):
                lo, hi = min(i, j), max(i, j)
                run = labels[lo:hi]
                same = labels[i] if j > i else labels[i - 1]
                if j == i or any(x != same for x in run):
                    continue  # only move across words of one of the two speakers
                score = _boundary_score(words, j)
                if score >= 0.25 and score > best_score + 0.1:
                    best, best_score = j, score
        if best < i:
            labels[best:i] = [labels[i]] * (i - best)
        elif best > i:
            labels[i:best] = [labels[i - 1]] * (best - i)
        i = max(i, best) + 1
    return [w if w.speaker == lab else replace(w, speaker=lab) for w, lab in zip(words, labels)]


def join_words(words: list[Word]) -> str:
    return " ".join(w.text.strip() for w in words if w.text.strip())


def split_segment(seg: Segment, words: list[Word]) -> list[Segment]:
    """One segment per run of same-speaker words (ids are set later)."""
    runs: list[list[Word]] = []
    for w in words:
        if runs and runs[-1][-1].speaker == w.speaker:
            runs[-1].append(w)
        else:
            runs.append([w])
    if len(runs) <= 1:
        return [replace(seg, words=words, speaker=words[0].speaker if words else seg.speaker)]
    pieces = []
    for k, run in enumerate(runs):
        start = seg.start if k == 0 else run[0].start
        end = seg.end if k == len(runs) - 1 else run[-1].end
        pieces.append(
            Segment(
                id=seg.id,
                start=start,
                end=max(start, end),
                text=join_words(run),
                speaker=run[0].speaker,
                words=run,
                overlap=seg.overlap,
            )
        )
    return pieces


def overlaps_segment(seg: Segment, overlaps: list[tuple[float, float]], min_seconds: float) -> bool:
    """True when an overlap span covers at least ``min_seconds`` of the segment (or all of a shorter one)."""
    need = min(min_seconds, max(seg.end - seg.start, 0.0))
    for s, e in overlaps:
        shared = min(seg.end, e) - max(seg.start, s)
        if shared > 0 and shared >= need:
            return True
    return False


def word_in_overlap(w: Word, overlaps: list[tuple[float, float]]) -> bool:
    """At least half of the word (its midpoint for a zero-length word) lies in overlapped speech."""
    if w.end <= w.start:
        return any(s <= w.start <= e for s, e in overlaps)
    shared = sum(max(0.0, min(w.end, e) - max(w.start, s)) for s, e in overlaps)
    return shared >= 0.5 * (w.end - w.start)


def assign(
    segments: list[Segment],
    diar: Diarization,
    mark_overlap: bool = True,
    overlap_marker: str | None = None,
    overlap_min_seconds: float = 0.2,
) -> list[Segment]:
    """New segments: every word labelled with a back-end speaker label, split at speaker changes."""
    index = TurnIndex(diar.turns)
    out: list[Segment] = []
    ordered = sorted(segments, key=lambda s: (s.start, s.id))
    # Speaker changes are snapped over the whole word sequence, so a change at a segment boundary
    # (Whisper cut "... Kyle" | "Gas. ...") can move too.
    labelled = [label_words(seg.words, index, diar) for seg in ordered]
    flat = snap_changes([w for ws in labelled for w in ws])
    k = 0
    for i, ws in enumerate(labelled):
        labelled[i], k = flat[k : k + len(ws)], k + len(ws)
    for seg, words in zip(ordered, labelled):
        if seg.words:
            if mark_overlap and diar.overlaps:
                words = [replace(w, overlap=word_in_overlap(w, diar.overlaps)) for w in words]
            out.extend(split_segment(seg, words))
        else:
            mid = (seg.start + seg.end) / 2
            sp = word_speaker(seg.start, seg.end, index, diar) or index.nearest(mid)
            out.append(replace(seg, speaker=sp))
    out.sort(key=lambda s: (s.start, s.end))
    final = []
    for i, seg in enumerate(out):
        flagged = (
            seg.overlap
            or any(w.overlap for w in seg.words)
            or (mark_overlap and overlaps_segment(seg, diar.overlaps, overlap_min_seconds))
        )
        text = seg.text
        if flagged and overlap_marker and not text.rstrip().endswith(overlap_marker):
            text = f"{text.rstrip()} {overlap_marker}"
        final.append(replace(seg, id=i, overlap=flagged, text=text))
    return final
