"""Apply a reviewer's stored decisions to one freshly pseudonymised interview.

``apply_decisions`` is called by the coordinator right after ``Deidentifier.deidentify``: rejected
replacements are dropped (the original text comes back), spans the reviewer marked as missed are
added with pseudonyms from the project key (the same value gets the same pseudonym as everywhere
else), and the touched segments of the shareable transcript are re-rendered from the raw text and
the final list of spans: text and words, so no original value survives in a word either.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable
from typing import Any

from pipeline.review.common import REVIEWER_RECOGNIZER, redaction_id
from pipeline.schema import Redaction, Segment, Transcript, Word

logger = logging.getLogger(__name__)

# Method names a pseudonym key may use for "get the pseudonym of this value, creating one if new";
# each is called as method(entity_type, value). The first that exists is used.
_KEY_METHODS = ("pseudonym", "pseudonym_for", "get_or_create")


def pseudonym_for(key: Any, value: str, entity_type: str) -> str:
    """The key's pseudonym for ``value`` (created and remembered if new): one adapter, one place."""
    for name in _KEY_METHODS:
        method = getattr(key, name, None)
        if callable(method):
            return str(method(entity_type, value))
    raise TypeError(f"{type(key).__name__} has none of the pseudonym methods {', '.join(_KEY_METHODS)}")


def _overlaps(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


def _stored(decisions: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not decisions:
        return []
    items = decisions.get("decisions") or {}
    return list(items.values()) if isinstance(items, dict) else list(items)


def final_spans(
    raw: Transcript, redactions: list[Redaction], decisions: dict[str, Any] | None, key: Any
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
        etype = str(d["entity_type"])
        for r in [r for r in kept if _overlaps(span, (r.segment_id, r.start, r.end))]:
            span = (span[0], min(span[1], r.start), max(span[2], r.end))
            kept.remove(r)
        while added and _overlaps(span, added[-1][:3]):
            prev = added.pop()
            span = (span[0], min(span[1], prev[1]), max(span[2], prev[2]))
        added.append((*span, etype))

    for seg_id, s, e, etype in added:
        value = texts[seg_id][s:e]
        kept.append(
            Redaction(seg_id, s, e, value, etype, 1.0, REVIEWER_RECOGNIZER, pseudonym_for(key, value, etype))
        )
        counts["added"] += 1
    order = {s.id: i for i, s in enumerate(raw.segments)}
    kept.sort(key=lambda r: (order.get(r.segment_id, -1), r.start, r.end))
    return kept, counts


def render_text(text: str, spans: Iterable[Redaction]) -> str:
    """``text`` with each span replaced by its replacement (spans sorted, non-overlapping)."""
    out, pos = [], 0
    for r in spans:
        out.append(text[pos : r.start])
        out.append(r.replacement)
        pos = r.end
    out.append(text[pos:])
    return "".join(out)


def align_words(text: str, words: list[Word]) -> list[tuple[int, int]] | None:
    """Character range of each word in ``text`` (words in order), or None when they do not line up."""
    ranges, cursor = [], 0
    for w in words:
        token = w.text.strip()
        if not token:
            ranges.append((cursor, cursor))
            continue
        at = text.find(token, cursor)
        if at < 0:
            return None
        ranges.append((at, at + len(token)))
        cursor = at + len(token)
    return ranges


def render_words(seg: Segment, spans: list[Redaction]) -> list[Word]:
    """The raw segment's words with every span replaced.

    Words that one span covers become one word (first word's start, last word's end). When the words
    cannot be located in the text, the segment gets one word holding the rendered text: never a raw one.
    """
    if not seg.words:
        return []
    ranges = align_words(seg.text, seg.words)
    if ranges is None:
        logger.warning(
            "segment %s: words do not line up with the text; using one word for the segment", seg.id
        )
        return [Word(seg.start, seg.end, " " + render_text(seg.text, spans).strip(), 1.0, seg.speaker)]
    out: list[Word] = []
    i, n = 0, len(seg.words)
    while i < n:
        lo, hi = ranges[i]
        hit = [r for r in spans if r.start < hi and lo < r.end] if hi > lo else []
        if not hit:
            out.append(copy.copy(seg.words[i]))
            i += 1
            continue
        # Grow the group while the next word is covered by a span of the group.
        j, cov_lo, cov_hi = i, min(lo, *(r.start for r in hit)), max(hi, *(r.end for r in hit))
        while j + 1 < n and ranges[j + 1][0] < cov_hi and ranges[j + 1][1] > ranges[j + 1][0]:
            j += 1
            more = [r for r in spans if r.start < ranges[j][1] and ranges[j][0] < r.end]
            cov_hi = max(cov_hi, ranges[j][1], *(r.end for r in more))
        inside = [
            Redaction(
                r.segment_id,
                r.start - cov_lo,
                r.end - cov_lo,
                r.text,
                r.entity_type,
                r.score,
                r.recognizer,
                r.replacement,
            )
            for r in spans
            if cov_lo <= r.start and r.end <= cov_hi
        ]
        first, last = seg.words[i], seg.words[j]
        lead = first.text[: len(first.text) - len(first.text.lstrip())]
        group = seg.words[i : j + 1]
        out.append(
            Word(
                start=first.start,
                end=last.end,
                text=lead + render_text(seg.text[cov_lo:cov_hi], inside),
                probability=min(w.probability for w in group),
                speaker=first.speaker,
            )
        )
        i = j + 1
    return out


def apply_decisions(
    raw: Transcript,
    shareable: Transcript,
    redactions: list[Redaction],
    decisions: dict[str, Any] | None,
    key: Any,
) -> tuple[Transcript, list[Redaction]]:
    """Apply stored review decisions (the contents of ``review_decisions.json``) to one interview.

    Returns the shareable transcript and the final redactions (what ``redactions.json`` should hold).
    With no decisions, or none that change anything, the inputs come back unchanged.
    """
    if not _stored(decisions):
        return shareable, redactions
    spans, counts = final_spans(raw, redactions, decisions, key)
    if counts["stale"]:
        logger.warning(
            "%s: %d stored review decision(s) no longer match the transcript",
            raw.interview_id,
            counts["stale"],
        )
    before = {redaction_id(r): r for r in redactions}
    after = {redaction_id(r): r for r in spans}
    touched = {r.segment_id for k, r in before.items() if k not in after} | {
        r.segment_id for k, r in after.items() if k not in before
    }
    if not touched:
        return shareable, redactions
    by_seg: dict[int, list[Redaction]] = {}
    for r in spans:
        by_seg.setdefault(r.segment_id, []).append(r)
    raw_by_id = {s.id: s for s in raw.segments}
    out = copy.deepcopy(shareable)
    for seg in out.segments:
        if seg.id not in touched or seg.id not in raw_by_id:
            continue
        src, seg_spans = raw_by_id[seg.id], by_seg.get(seg.id, [])
        seg.text = render_text(src.text, seg_spans)
        seg.words = render_words(src, seg_spans)
    out.provenance = {
        **out.provenance,
        "review": {"rejected": counts["rejected"], "added": counts["added"], "stale": counts["stale"]},
    }
    logger.info(
        "%s: review applied (%d restored, %d added, %d segment(s) re-rendered)",
        raw.interview_id,
        counts["rejected"],
        counts["added"],
        len(touched),
    )
    return out, spans
