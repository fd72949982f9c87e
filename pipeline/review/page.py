"""The offline review page: one self-contained HTML file per interview, on the restricted side.

The page holds the original text, so it is written to ``OUT/restricted/<id>/review.html``. CSS and
JavaScript are inlined from ``page.css`` / ``page.js`` next to this module; the data travel as JSON
in a ``<script type="application/json">`` block with ``<``, ``>``, ``&`` escaped, so transcript text
such as ``</script>`` cannot end the block. A Content-Security-Policy forbids every network request and every inline script or style but
the page's own (allowed by their sha256 hashes, no ``'unsafe-inline'``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import re
from functools import cache
from pathlib import Path
from typing import Any

from pipeline.review.audio import AUDIO_NAME, ensure_review_audio
from pipeline.review.common import (
    PAGE_NAME,
    REVIEWER_RECOGNIZER,
    ReviewError,
    entity_types,
    interview_ids,
    load_interview,
    load_stored_decisions,
    redaction_id,
    state_hash,
)
from pipeline.schema import Redaction, Segment, Transcript
from pipeline.store import Layout, OutputLock, atomic_write_text

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
DEFAULT_LOW_SCORE = 0.6
LOW_WORD_PROBABILITY = 0.5  # words the recogniser was less sure of are highlighted
# Recognizers whose hits come from a word list or fuzzy matching rather than context: flagged.
LIST_RECOGNIZER = re.compile(r"gazetteer|known|fuzzy|deny|list", re.IGNORECASE)
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


@cache
def _asset(name: str) -> str:
    return (HERE / name).read_text(encoding="utf-8")


def embed_json(obj: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">`` (no ``</script>``, no ``<!--``)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_ESCAPES[m.group(0)], text)


def _u16(text: str, i: int) -> int:
    """Code-point offset -> UTF-16 offset (what JavaScript strings index by)."""
    if text.isascii():
        return i
    return len(text[:i].encode("utf-16-le")) // 2


def word_spans(seg: Segment) -> list[float]:
    """The segment's words, flat: UTF-16 start, end in the text, start and end time, probability, ...

    A word whose text cannot be found in order in the segment text gets offsets -1, -1 (still timed).
    """
    out: list[float] = []
    pos = 0
    for w in seg.words:
        token = w.text.strip()
        i = seg.text.find(token, pos) if token else -1
        s, e = (_u16(seg.text, i), _u16(seg.text, i + len(token))) if i >= 0 else (-1, -1)
        if i >= 0:
            pos = i + len(token)
        out += [s, e, round(w.start, 2), round(w.end, 2), round(float(w.probability), 2)]
    return out


def flags_for(r: Redaction, low_score: float) -> list[str]:
    flags = []
    if r.score < low_score:
        flags.append("low")
    if LIST_RECOGNIZER.search(r.recognizer or ""):
        flags.append("list")
    return flags


def page_data(
    raw: Transcript,
    redactions: list[Redaction],
    stored: dict[str, Any] | None,
    low_score: float = DEFAULT_LOW_SCORE,
    audio: str | None = None,
) -> dict[str, Any]:
    """Everything the page shows, compact: segments and redactions as arrays of plain values."""
    seg_index = {s.id: i for i, s in enumerate(raw.segments)}
    texts = {s.id: s.text for s in raw.segments}
    prior = (stored or {}).get("decisions", {})
    segs = [
        [s.id, round(s.start, 2), round(s.end, 2), raw.speaker_label(s.speaker), s.text, s.speaker,
         word_spans(s), bool(s.overlap)]
        for s in raw.segments
    ]  # fmt: skip
    reds = []
    for r in redactions:
        if r.segment_id not in seg_index:
            continue
        t = texts[r.segment_id]
        rid = redaction_id(r)
        p = prior.get(rid)
        reds.append(
            {
                "id": rid,
                "g": seg_index[r.segment_id],
                "s": _u16(t, r.start),
                "e": _u16(t, r.end),
                "ty": r.entity_type,
                "sc": round(float(r.score), 3),
                "rc": r.recognizer,
                "rp": r.replacement,
                "fl": flags_for(r, low_score),
                "pd": [p["action"], p.get("reviewer", ""), p.get("decided_at", "")[:10]] if p else None,
            }
        )
    restored = []
    current = {redaction_id(r) for r in redactions}
    for rid, p in prior.items():
        t = texts.get(int(p["segment_id"]))
        s, e = int(p["start"]), int(p["end"])
        if p.get("action") == "reject" and rid not in current and t is not None and t[s:e] == p.get("text"):
            restored.append(
                {
                    "g": seg_index[int(p["segment_id"])],
                    "s": _u16(t, s),
                    "e": _u16(t, e),
                    "by": p.get("reviewer", ""),
                    "on": p.get("decided_at", "")[:10],
                }
            )
    reviews = (stored or {}).get("reviews", [])
    return {
        "interview_id": raw.interview_id,
        "state_sha256": state_hash(raw, redactions),
        "low_score": low_score,
        "entity_types": list(entity_types()),
        "segments": segs,
        "timed": any(s.end > 0 for s in raw.segments),
        "redactions": reds,
        "restored": restored,
        "last_review": {"by": reviews[-1]["reviewer"], "on": reviews[-1]["applied_at"][:10]}
        if reviews
        else None,
        "reviewer_recognizer": REVIEWER_RECOGNIZER,
        "speakers": [[sp.id, sp.label] for sp in raw.speakers],
        "low_word": LOW_WORD_PROBABILITY,
        "audio": audio,
        "approved": bool(reviews and reviews[-1].get("approved")),
    }


def csp_hash(text: str) -> str:
    """A Content-Security-Policy source for exactly this inline script or style (no 'unsafe-inline')."""
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


JS_PARTS = ("page.js", "file.js", "player.js", "edit.js", "main.js")


@cache
def page_script() -> str:
    """The page's one script: the parts joined into one strict function scope."""
    body = "\n".join(_asset(name) for name in JS_PARTS)
    return '"use strict";\n(function () {\n' + body + "})();\n"


def render_page(data: dict[str, Any]) -> str:
    css, js = _asset("page.css"), page_script()
    values = {
        "TITLE": html.escape(f"Review: {data['interview_id']}"),
        "CSS": css,
        "JS": js,
        "CSSHASH": csp_hash(css),
        "JSHASH": csp_hash(js),
        "DATA": embed_json(data),
    }
    # One pass, so a value can never be substituted into again.
    return re.sub(r"@@([A-Z]+)@@", lambda m: values[m.group(1)], _asset("page.html"))


def write_page(layout: Layout, interview_id: str, low_score: float = DEFAULT_LOW_SCORE) -> Path:
    raw, redactions = load_interview(layout, interview_id)
    stored = load_stored_decisions(layout, interview_id)
    path = layout.restricted(interview_id) / PAGE_NAME
    audio = ensure_review_audio(layout.restricted(interview_id))
    data = page_data(raw, redactions, stored, low_score, AUDIO_NAME if audio else None)
    atomic_write_text(path, render_page(data))
    logger.info(
        "%s: review page written (%d segments, %d replacements)",
        interview_id,
        len(raw.segments),
        len(redactions),
    )
    return path


def write_review_pages(
    out: Path, interview: str | None = None, *, low_score: float = DEFAULT_LOW_SCORE
) -> list[Path]:
    """Write ``OUT/restricted/<id>/review.html`` for one or every pseudonymised interview.

    Also refreshes the shareable audit summary. Takes the output folder's lock.
    """
    from pipeline.review.summary import write_audit_summary

    layout = Layout(out)
    with OutputLock(out):
        ids = interview_ids(layout)
        if interview is not None:
            if interview not in ids:
                raise ReviewError(f"{interview}: no pseudonymised interview with this id in {out}")
            ids = [interview]
        if not ids:
            raise ReviewError(f"{out}: no pseudonymised interviews to review (run the pipeline first)")
        pages = [write_page(layout, i, low_score) for i in ids]
        write_audit_summary(out)
    return pages
