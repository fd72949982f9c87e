"""The decisions file a reviewer downloads: validate it, fold it into the stored decisions, audit it.

Everything here is checked before anything is written: a refused file changes nothing. Error
messages name the file, ids and offsets, never the text of a span or a list term.

Format (``format`` and ``version`` are checked)::

    {"format": "interview-pipeline/review-decisions", "version": 1,
     "interview_id": "interview-01", "state_sha256": "<hash embedded in the review page>",
     "reviewer": "A. Researcher", "created": "2024-05-01T10:00:00.000Z",
     "decisions": [{"action": "accept", "id": "12:5:16"}, {"action": "reject", "id": "14:0:6"},
                   {"action": "add", "segment_id": 20, "start": 3, "end": 14, "text": "...",
                    "entity_type": "PERSON"}],
     "list_additions": [{"list": "known_names", "term": "..."}, {"list": "allow_list", "term": "..."}]}
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.review.common import (
    LIST_KEYS,
    MAX_TERM_CHARS,
    ReviewError,
    redaction_id,
)
from pipeline.schema import Redaction, Transcript
from pipeline.store import FILE_MODE, StoreError, ensure_dir

FORMAT = "interview-pipeline/review-decisions"
VERSION = 1
STORED_VERSION = 1
ACTIONS = ("accept", "reject", "add")
_TOP_KEYS = {
    "format",
    "version",
    "interview_id",
    "state_sha256",
    "reviewer",
    "created",
    "decisions",
    "list_additions",
}
_MAX_REVIEWER_CHARS = 200


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
        raise ReviewError(f"{path}: JSON nested too deeply to be a decisions file") from e
    if not isinstance(obj, dict):
        raise ReviewError(f"{path}: not a decisions file (the top level must be a JSON object)")
    return obj, hashlib.sha256(data).hexdigest()


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_header(path: Path, obj: dict[str, Any], known_interviews: list[str]) -> str:
    """Format, version, known keys and the interview id; returns the interview id."""
    if obj.get("format") != FORMAT:
        raise ReviewError(f"{path}: not a review decisions file (format must be {FORMAT!r})")
    if obj.get("version") != VERSION:
        raise ReviewError(
            f"{path}: unsupported decisions version {obj.get('version')!r} (supported: {VERSION})"
        )
    unknown = set(obj) - _TOP_KEYS
    if unknown:
        raise ReviewError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    iid = obj.get("interview_id")
    if not isinstance(iid, str) or iid not in known_interviews:
        shown = iid if isinstance(iid, str) and len(iid) <= 80 else type(iid).__name__
        raise ReviewError(f"{path}: interview {shown!r} is not in this output folder")
    return iid


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
    reviewer = obj.get("reviewer")
    if not isinstance(reviewer, str) or not reviewer.strip() or len(reviewer) > _MAX_REVIEWER_CHARS:
        raise ReviewError(
            f"{path}: 'reviewer' must be the reviewer's name (1-{_MAX_REVIEWER_CHARS} characters)"
        )
    created = obj.get("created")
    if created is not None and not isinstance(created, str):
        raise ReviewError(f"{path}: 'created' must be a timestamp string")
    items = obj.get("decisions", [])
    if not isinstance(items, list):
        raise ReviewError(f"{path}: 'decisions' must be a list")

    texts = {s.id: s.text for s in raw.segments}
    ids = {redaction_id(r) for r in redactions if r.segment_id in texts}  # not speaker-label replacements
    seen: set[str] = set()
    decisions: list[dict[str, Any]] = []
    for n, d in enumerate(items, 1):
        where = f"{path}: decision {n}"
        if not isinstance(d, dict) or d.get("action") not in ACTIONS:
            raise ReviewError(f"{where}: 'action' must be one of {', '.join(ACTIONS)}")
        if d["action"] in ("accept", "reject"):
            extra = set(d) - {"action", "id"}
            if extra:
                raise ReviewError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
            rid = d.get("id")
            if not isinstance(rid, str) or rid not in ids:
                shown = rid if isinstance(rid, str) and len(rid) <= 40 else type(rid).__name__
                raise ReviewError(f"{where}: unknown redaction id {shown!r} in interview {iid!r}")
            seg_id, start, end = (int(x) for x in rid.split(":"))
            decisions.append({"action": d["action"], "segment_id": seg_id, "start": start, "end": end})
        else:
            extra = set(d) - {"action", "segment_id", "start", "end", "text", "entity_type"}
            if extra:
                raise ReviewError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
            seg_id, start, end, text = d.get("segment_id"), d.get("start"), d.get("end"), d.get("text")
            if not (_int(seg_id) and _int(start) and _int(end)) or not isinstance(text, str):
                raise ReviewError(f"{where}: 'add' needs integer segment_id, start, end and the text")
            if seg_id not in texts:
                raise ReviewError(f"{where}: unknown segment id {seg_id} in interview {iid!r}")
            if not 0 <= start < end <= len(texts[seg_id]):
                raise ReviewError(f"{where}: offsets {start}-{end} are out of range for segment {seg_id}")
            if texts[seg_id][start:end] != text:
                raise ReviewError(f"{where}: offsets {start}-{end} do not match the text of segment {seg_id}")
            etype = d.get("entity_type")
            if etype not in allowed_types:
                shown = etype if isinstance(etype, str) and len(etype) <= 40 else type(etype).__name__
                raise ReviewError(
                    f"{where}: unknown entity type {shown!r} (known: {', '.join(allowed_types)})"
                )
            decisions.append(
                {
                    "action": "add",
                    "segment_id": seg_id,
                    "start": start,
                    "end": end,
                    "text": text,
                    "entity_type": etype,
                }
            )
        key = redaction_id(decisions[-1])
        if key in seen:
            raise ReviewError(f"{where}: a second decision for span {key}")
        seen.add(key)

    additions = _check_list_additions(path, obj.get("list_additions", []), lists)
    return Review(iid, current_hash, reviewer.strip(), created, file_sha256, decisions, additions)


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
    decisions = dict(data.get("decisions", {}))
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
        },
    ]
    return {
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
    lines += [{**base, "event": "decision", "id": redaction_id(d), **d} for d in review.decisions]
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
