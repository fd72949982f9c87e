"""Stable speaker ids, the interviewer's role, and labels.

Ids: S1, S2, ... in order of each voice's first word; a voice with no word in the transcript gets none.

Interviewer, first rule that applies:
1. ``interviews.<id>.interviewer`` or ``interviewer`` in the config (e.g. ``S2``);
2. ``interviewer_sample``: the speaker whose voice print is closest to the enrolled sample, if the
   cosine similarity reaches ``enrol_threshold``;
3. inference (``infer_roles``), two or more speakers: the highest
   ``2 * share of all '?' + 1 * (speaks first) + 1 * (1 - share of speaking time)``
   (interviewers ask the questions, open the interview and talk less).
Labels: the interviewer gets ``labels.interviewer``; with one other speaker, that one gets
``labels.participant``; otherwise participants get ``labels.group_participant`` (P1, P2, ...) in
order of first speech. A lone voice gets ``labels.single`` unless it is named the interviewer.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.schema import Segment, Speaker
from pipeline.speakers.config import LabelsConfig


@dataclass
class SpeakerStats:
    speaker: str
    questions: int
    first: bool
    seconds: float
    words: int


def speaker_ids(segments: list[Segment]) -> dict[str, str]:
    """Back-end label -> S1, S2, ... in order of first word (voices without words get no id)."""
    order: dict[str, None] = {}
    for seg in sorted(segments, key=lambda s: s.start):
        for w in seg.words or []:
            if w.speaker is not None:
                order.setdefault(w.speaker, None)
        if not seg.words and seg.speaker is not None:
            order.setdefault(seg.speaker, None)
    return {label: f"S{i + 1}" for i, label in enumerate(order)}


def speaker_stats(segments: list[Segment]) -> list[SpeakerStats]:
    stats: dict[str, SpeakerStats] = {}
    first = None
    for seg in sorted(segments, key=lambda s: s.start):
        if seg.speaker is None:
            continue
        st = stats.setdefault(seg.speaker, SpeakerStats(seg.speaker, 0, False, 0.0, 0))
        if first is None:
            first = seg.speaker
        st.questions += seg.text.count("?")
        st.words += len(seg.words)
        st.seconds += (
            sum(max(0.0, w.end - w.start) for w in seg.words) if seg.words else max(0.0, seg.end - seg.start)
        )
    if first is not None:
        stats[first].first = True
    return list(stats.values())


def interviewer_scores(stats: list[SpeakerStats]) -> dict[str, float]:
    """The inference rule's score per speaker (higher: more likely the interviewer)."""
    total_q = sum(s.questions for s in stats)
    total_t = sum(s.seconds for s in stats) or 1.0
    return {
        s.speaker: round(
            2.0 * (s.questions / total_q if total_q else 0.0)
            + (1.0 if s.first else 0.0)
            + (1.0 - s.seconds / total_t),
            4,
        )
        for s in stats
    }


def infer_interviewer(stats: list[SpeakerStats]) -> str | None:
    if len(stats) < 2:
        return None
    scores = interviewer_scores(stats)
    return max(
        stats, key=lambda s: (scores[s.speaker], -int(s.speaker[1:]) if s.speaker[1:].isdigit() else 0)
    ).speaker


def build_speakers(
    ids: list[str], interviewer: str | None, labels: LabelsConfig, roles_known: bool
) -> list[Speaker]:
    """Speaker entries in id order with roles and labels."""
    if len(ids) == 1 and interviewer != ids[0]:
        return [Speaker(id=ids[0], label=labels.single, role="participant" if roles_known else "unknown")]
    others = [i for i in ids if i != interviewer]
    out = []
    n = 0
    for sid in ids:
        if sid == interviewer:
            out.append(Speaker(id=sid, label=labels.interviewer, role="interviewer"))
            continue
        n += 1
        if interviewer is not None and len(others) == 1:
            label = labels.participant
        else:
            label = labels.group_participant.format(n=n)
        out.append(Speaker(id=sid, label=label, role="participant" if roles_known else "unknown"))
    return out
