"""The decisions file a reviewer downloads: validate it, fold it into the stored decisions, audit it.

Everything here is checked before anything is written: a refused file changes nothing. Error
messages name the file, ids and offsets, never the text of a span or a list term. The format
(version 2, with the migration from version 1) is defined in ``fileformat``; its structure is checked
by the pydantic schema there, its content against the interview here.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.review import fileformat
from pipeline.review.common import (
    LIST_KEYS,
    MAX_TERM_CHARS,
    ReviewError,
    redaction_id,
)
from pipeline.review.corrections import apply_corrections, check_corrections, correction_counts
from pipeline.schema import Redaction, Transcript
from pipeline.store import FILE_MODE, StoreError, ensure_dir

FORMAT = fileformat.FORMAT
VERSION = fileformat.VERSION
STORED_VERSION = 2
ACTIONS = ("accept", "reject", "add")


@dataclass
class Review:
    """A validated decisions file."""

    interview_id: str
    state_sha256: str
    reviewer: str
    created: str | None
    file_sha256: str
    decisions: list[dict[str, Any]] = field(default_factory=list)
    list_additions: list[dict[str, str]] = field(default_factory=list)
    corrections: list[Any] = field(default_factory=list)  # fileformat.Correction
    corrected: Transcript | None = None  # the raw transcript with the corrections applied
    correction_counts: dict[str, int] = field(default_factory=dict)
    approved: bool = False

    def count(self, action: str) -> int:
        return sum(d["action"] == action for d in self.decisions)


def parse_decisions_file(path: Path) -> tuple[dict[str, Any], str]:
    """The JSON object in ``path`` and the sha256 of its bytes; ``ReviewError`` if it is not one."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ReviewError(f"{path}: cannot read the decisions file ({e.strerror or type(e).__name__})") from e
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        where = f" at line {e.lineno}, column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        raise ReviewError(f"{path}: not valid JSON{where}; download it again from the review page") from e
    except RecursionError as e:
        raise ReviewError(f"{path}: nested too deeply to be a decisions file") from e
    if not isinstance(obj, dict):
        raise ReviewError(f"{path}: not a decisions file (the top level must be a JSON object)")
    return obj, hashlib.sha256(data).hexdigest()


def check_header(path: Path, obj: dict[str, Any], known_interviews: list[str]) -> str:
    """Format, version and the interview id; returns the interview id."""
    if obj.get("format") != FORMAT:
        raise ReviewError(f"{path}: not a review decisions file (format must be {FORMAT!r})")
    if obj.get("version") not in fileformat.SUPPORTED:
        shown = (
            obj.get("version") if isinstance(obj.get("version"), int) else type(obj.get("version")).__name__
        )
        raise ReviewError(
            f"{path}: unsupported decisions version {shown!r} "
            f"(supported: {', '.join(map(str, fileformat.SUPPORTED))})"
        )
    iid = obj.get("interview_id")
    if not isinstance(iid, str) or iid not in known_interviews:
        shown = iid if isinstance(iid, str) and len(iid) <= 80 else type(iid).__name__
        raise ReviewError(f"{path}: interview {shown!r} is not in this output folder")
    return iid


def _check_add(where: str, d: Any, texts: dict[int, str], iid: str, allowed_types: tuple[str, ...]) -> dict:
    if d.segment_id not in texts:
        raise ReviewError(f"{where}: unknown segment id {d.segment_id} in interview {iid!r}")
    t = texts[d.segment_id]
    if not 0 <= d.start < d.end <= len(t):
        raise ReviewError(f"{where}: offsets {d.start}-{d.end} are out of range for segment {d.segment_id}")
    if t[d.start : d.end] != d.text:
        raise ReviewError(
            f"{where}: offsets {d.start}-{d.end} do not match the text of segment {d.segment_id}"
        )
    if d.entity_type not in allowed_types:
        shown = d.entity_type if len(d.entity_type) <= 40 else "..."
        raise ReviewError(f"{where}: unknown entity type {shown!r} (known: {', '.join(allowed_types)})")
    return {"action": "add", "segment_id": d.segment_id, "start": d.start, "end": d.end, "text": d.text,
            "entity_type": d.entity_type}  # fmt: skip


def validate(
    path: Path,
    obj: dict[str, Any],
    file_sha256: str,
    raw: Transcript,
    redactions: list[Redaction],
    current_hash: str,
    allowed_types: tuple[str, ...],
    lists: dict[str, list[str]],
) -> Review:
    """Check a decisions file against the interview as it is now; ``ReviewError`` on the first problem."""
    iid = raw.interview_id
    if obj.get("interview_id") != iid:
        raise ReviewError(f"{path}: made for interview {obj.get('interview_id')!r}, not {iid!r}")
    if obj.get("state_sha256") != current_hash:
        raise ReviewError(
            f"{path}: made against another state of interview {iid!r} (hash mismatch: it was changed or "
            "re-pseudonymised since the review page was written); write the page again and redo the review"
        )
    if not isinstance(obj.get("reviewer"), str) or not obj["reviewer"].strip():
        raise ReviewError(f"{path}: 'reviewer' must be the reviewer's name (1-200 characters)")
    try:
        f = fileformat.parse(obj)
    except ValueError as e:
        raise ReviewError(f"{path}: {e}") from None

    check_corrections(str(path), f.corrections, raw)
    corrected = apply_corrections(raw, f.corrections)
    replaced = {i for g in f.corrections for i in g.replaces}
    texts = {s.id: s.text for s in corrected.segments}
    ids = {redaction_id(r) for r in redactions if r.segment_id in texts}  # not speaker-label replacements
    seen: set[str] = set()
    decisions: list[dict[str, Any]] = []
    for n, d in enumerate(f.decisions, 1):
        where = f"{path}: decision {n}"
        if d.action in ("accept", "reject"):
            if d.id not in ids:
                shown = d.id if len(d.id) <= 40 else "..."
                raise ReviewError(f"{where}: unknown redaction id {shown!r} in interview {iid!r}")
            seg_id, start, end = (int(x) for x in d.id.split(":"))
            if seg_id in replaced:
                raise ReviewError(
                    f"{where}: redaction {d.id} is in a corrected segment (it is detected again)"
                )
            decisions.append({"action": d.action, "segment_id": seg_id, "start": start, "end": end})
        else:
            decisions.append(_check_add(where, d, texts, iid, allowed_types))
        key = redaction_id(decisions[-1])
        if key in seen:
            raise ReviewError(f"{where}: a second decision for span {key}")
        seen.add(key)

    additions = _check_list_additions(path, [a.model_dump() for a in f.list_additions], lists)
    return Review(
        iid, current_hash, f.reviewer.strip(), f.created, file_sha256, decisions, additions,
        f.corrections, corrected if f.corrections else None, correction_counts(raw, f.corrections), f.approved,
    )  # fmt: skip


def _check_list_additions(path: Path, items: Any, lists: dict[str, list[str]]) -> list[dict[str, str]]:
    if not isinstance(items, list):
        raise ReviewError(f"{path}: 'list_additions' must be a list")
    folded = {k: {t.casefold() for t in lists.get(k, [])} for k in LIST_KEYS}
    out: list[dict[str, str]] = []
    for n, a in enumerate(items, 1):
        where = f"{path}: list addition {n}"
        if not isinstance(a, dict) or set(a) != {"list", "term"}:
            raise ReviewError(f"{where}: needs exactly 'list' and 'term'")
        if a["list"] not in LIST_KEYS:
            raise ReviewError(f"{where}: 'list' must be one of {', '.join(LIST_KEYS)}")
        term = a["term"].strip() if isinstance(a["term"], str) else ""
        if not term or len(term) > MAX_TERM_CHARS or "\n" in term:
            raise ReviewError(f"{where}: 'term' must be one line of 1-{MAX_TERM_CHARS} characters")
        other = LIST_KEYS[1 - LIST_KEYS.index(a["list"])]
        if term.casefold() in folded[other]:
            raise ReviewError(f"{where}: the term is already on the {other} list; a term cannot be on both")
        if term.casefold() not in folded[a["list"]]:
            folded[a["list"]].add(term.casefold())
            out.append({"list": a["list"], "term": term})
    return out


# ---------------------------------------------------------------------------------------------
# Stored decisions (accumulated) and the audit trail


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def merge_stored(
    stored: dict[str, Any] | None, review: Review, redactions: list[Redaction], applied_at: str
) -> dict[str, Any]:
    """The accumulated decisions with this review folded in: a later decision on a span replaces an earlier one."""
    data = stored or {
        "version": STORED_VERSION,
        "interview_id": review.interview_id,
        "decisions": {},
        "reviews": [],
    }
    if any(r.get("decisions_sha256") == review.file_sha256 for r in data.get("reviews", [])):
        raise ReviewError(f"this decisions file was already applied to interview {review.interview_id!r}")
    by_id = {redaction_id(r): r for r in redactions}
    replaced = {i for g in review.corrections for i in g.replaces}
    # Earlier decisions on corrected segments no longer match their text: dropped (detected again).
    decisions = {k: v for k, v in data.get("decisions", {}).items() if int(v["segment_id"]) not in replaced}
    for d in review.decisions:
        rid = redaction_id(d)
        entry = dict(d)
        if d["action"] != "add":
            r = by_id[rid]
            entry.update(text=r.text, entity_type=r.entity_type, recognizer=r.recognizer, score=r.score)
        entry.update(reviewer=review.reviewer, decided_at=applied_at)
        decisions[rid] = entry
    reviews = [
        *data.get("reviews", []),
        {
            "reviewer": review.reviewer,
            "applied_at": applied_at,
            "created": review.created,
            "decisions_sha256": review.file_sha256,
            "state_sha256": review.state_sha256,
            "accepted": review.count("accept"),
            "rejected": review.count("reject"),
            "added": review.count("add"),
            "list_additions": len(review.list_additions),
            "corrections": review.correction_counts,
            "corrected_segments": sorted({i for g in review.corrections for i in g.replaces}),
            "approved": review.approved,
        },
    ]
    history = list(data.get("corrections", []))
    if review.corrections:
        history.append(
            {
                "reviewer": review.reviewer,
                "applied_at": applied_at,
                "groups": [g.model_dump() for g in review.corrections],
            }
        )
    return {
        "corrections": history,
        **data,
        "version": STORED_VERSION,
        "interview_id": review.interview_id,
        "decisions": decisions,
        "reviews": reviews,
    }


def audit_records(review: Review, applied_at: str) -> list[dict[str, Any]]:
    """One line for the review, one per decision, one per list addition."""
    base = {"ts": applied_at, "reviewer": review.reviewer, "interview_id": review.interview_id}
    lines = [
        {
            **base,
            "event": "review_applied",
            "decisions_sha256": review.file_sha256,
            "state_sha256": review.state_sha256,
            "created": review.created,
            "accepted": review.count("accept"),
            "rejected": review.count("reject"),
            "added": review.count("add"),
            "list_additions": len(review.list_additions),
        }
    ]
    lines[0].update(corrections=review.correction_counts, approved=review.approved)
    lines += [{**base, "event": "decision", "id": redaction_id(d), **d} for d in review.decisions]
    lines += [
        {**base, "event": "correction", "replaces": list(g.replaces), "segments": [x.id for x in g.segments],
         "speakers": [x.speaker for x in g.segments]}
        for g in review.corrections
    ]  # fmt: skip
    if review.approved:
        lines.append({**base, "event": "approved", "state_sha256": review.state_sha256})
    lines += [{**base, "event": "list_addition", **a} for a in review.list_additions]
    return lines


def append_audit(path: Path, records: list[dict[str, Any]]) -> None:
    """Append JSON lines to the audit trail (created 0600; never rewritten), then fsync."""
    ensure_dir(path.parent)
    payload = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records).encode(
        "utf-8"
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(path, FILE_MODE)
    except OSError as e:
        raise StoreError(
            f"{path}: could not append to the audit trail ({e.strerror or type(e).__name__})"
        ) from e
