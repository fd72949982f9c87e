"""Apply a reviewer's stored decisions to one freshly pseudonymised interview.

``apply_decisions`` is called by the coordinator right after ``Deidentifier.deidentify``: rejected
replacements are dropped (the original text comes back), spans the reviewer marked as missed are
added with pseudonyms from the project key (the deid library's assigner: the same value or person
gets the same pseudonym as everywhere else), and the touched segments of the shareable transcript
are re-rendered from the raw text and the final list of spans with the deid library's
``rewrite_segment``: text and words, so no original value survives in a word either.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from typing import Any

from pipeline.review.common import REVIEWER_RECOGNIZER, redaction_id
from pipeline.schema import Redaction, Transcript

logger = logging.getLogger(__name__)


def assign_pseudonyms(
    raw: Transcript, context: list[Redaction], added: list[Redaction], key: Any, config: Any = None
) -> None:
    """Fill ``replacement`` of the reviewer's spans through the deid library's pseudonym assigner.

    The replaced people of this interview go along as context, so a marked "Anna" joins the person
    "Anna Jensen" already found here, and a name the key knows keeps its pseudonym everywhere.
    """
    from pipeline.deid.config import DeidentifyConfig
    from pipeline.deid.gazetteer import load_name_gazetteer
    from pipeline.deid.pseudonyms import Detection, PseudonymAssigner

    config = config or DeidentifyConfig()
    index = {s.id: i for i, s in enumerate(raw.segments)}

    def det(r: Redaction) -> Detection:
        return Detection(index[r.segment_id], r.start, r.end, r.entity_type, r.score, r.recognizer, r.text)

    people = [det(r) for r in context if r.entity_type == "PERSON" and r.segment_id in index]
    mine = [det(r) for r in added]
    names = load_name_gazetteer(tuple(config.recognizers.name_gazetteer_locales))
    PseudonymAssigner(config, key, names, raw.interview_id).assign(people + mine)
    for r, d in zip(added, mine):
        r.replacement = d.replacement


def _overlaps(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


def _stored(decisions: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not decisions:
        return []
    items = decisions.get("decisions") or {}
    return list(items.values()) if isinstance(items, dict) else list(items)


def final_spans(
    raw: Transcript,
    redactions: list[Redaction],
    decisions: dict[str, Any] | None,
    key: Any,
    config: Any = None,
) -> tuple[list[Redaction], dict[str, int]]:
    """The redactions after the decisions, sorted, non-overlapping; plus counts of what changed.

    A stored decision whose span no longer matches the raw text (the transcript was corrected since)
    is skipped and counted as ``stale``; for a reject that means the detector's replacement stays.
    """
    texts = {s.id: s.text for s in raw.segments}
    counts = {"rejected": 0, "added": 0, "stale": 0}

    def matches(d: dict[str, Any]) -> bool:
        t = texts.get(int(d["segment_id"]))
        s, e = int(d["start"]), int(d["end"])
        return t is not None and 0 <= s < e <= len(t) and (d.get("text") is None or t[s:e] == d["text"])

    rejected: set[str] = set()
    adds: list[dict[str, Any]] = []
    for d in _stored(decisions):
        action = d.get("action")
        if action not in ("reject", "add"):
            continue
        if not matches(d):
            counts["stale"] += 1
        elif action == "reject":
            rejected.add(redaction_id(d))
        else:
            adds.append(d)

    kept = []
    for r in redactions:
        if redaction_id(r) in rejected:
            counts["rejected"] += 1
        else:
            kept.append(r)

    # A marked span that overlaps a replacement (or another marked span) grows to cover both:
    # when in doubt, more is replaced, never less.
    added: list[tuple[int, int, int, str]] = []
    for d in sorted(adds, key=lambda d: (int(d["segment_id"]), int(d["start"]))):
        span = (int(d["segment_id"]), int(d["start"]), int(d["end"]))
        while True:
            hit = [r for r in kept if _overlaps(span, (r.segment_id, r.start, r.end))]
            prev = [a for a in added if _overlaps(span, a[:3])]
            if not hit and not prev:
                break
            for r in hit:
                span = (span[0], min(span[1], r.start), max(span[2], r.end))
                kept.remove(r)
            for a in prev:
                span = (span[0], min(span[1], a[1]), max(span[2], a[2]))
                added.remove(a)
        added.append((*span, str(d["entity_type"])))

    new = [Redaction(g, s, e, texts[g][s:e], etype, 1.0, REVIEWER_RECOGNIZER, "") for g, s, e, etype in added]
    if new:
        assign_pseudonyms(raw, kept, new, key, config)
    kept += new
    counts["added"] = len(new)
    order = {s.id: i for i, s in enumerate(raw.segments)}
    kept.sort(key=lambda r: (order.get(r.segment_id, -1), r.start, r.end))
    return kept, counts


def apply_decisions(
    raw: Transcript,
    shareable: Transcript,
    redactions: list[Redaction],
    decisions: dict[str, Any] | None,
    key: Any,
    config: Any = None,
) -> tuple[Transcript, list[Redaction]]:
    """Apply stored review decisions (the contents of ``review_decisions.json``) to one interview.

    ``key`` is the project's ``PseudonymKey`` and ``config`` the ``DeidentifyConfig`` used for the
    interview (label format, pseudonym style; defaults when None). Returns the shareable transcript
    and the final redactions (what ``redactions.json`` should hold). With no decisions, or none that
    change anything, the inputs come back unchanged (the same objects).
    """
    from pipeline.deid.rewrite import rewrite_segment

    if not _stored(decisions):
        return shareable, redactions
    spans, counts = final_spans(raw, redactions, decisions, key, config)
    if counts["stale"]:
        logger.warning(
            "%s: %d stored review decision(s) no longer match the transcript",
            raw.interview_id,
            counts["stale"],
        )
    before = {redaction_id(r) for r in redactions}
    after = {redaction_id(r) for r in spans}
    touched = {r.segment_id for r in redactions if redaction_id(r) not in after}
    touched |= {r.segment_id for r in spans if redaction_id(r) not in before}
    if not touched:
        return shareable, redactions
    by_seg: dict[int, list[Redaction]] = {}
    for r in spans:
        by_seg.setdefault(r.segment_id, []).append(r)
    raw_by_id = {s.id: s for s in raw.segments}
    out = copy.deepcopy(shareable)
    for k, seg in enumerate(out.segments):
        if seg.id not in touched or seg.id not in raw_by_id:
            continue
        reps = [(r.start, r.end, r.replacement, r.text) for r in by_seg.get(seg.id, [])]
        fresh = rewrite_segment(raw_by_id[seg.id], reps)
        out.segments[k] = dataclasses.replace(seg, text=fresh.text, words=fresh.words)
    out.provenance = {**out.provenance, "review": {k: counts[k] for k in ("rejected", "added", "stale")}}
    logger.info(
        "%s: review applied (%d restored, %d added, %d segment(s) re-rendered)",
        raw.interview_id,
        counts["rejected"],
        counts["added"],
        len(touched),
    )
    return out, spans
