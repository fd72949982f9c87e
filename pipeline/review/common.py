"""What the review code shares: reading the artefacts, redaction ids, the state hash, project lists.

A redaction is identified by where it is: ``"<segment_id>:<start>:<end>"`` (code-point offsets in
the raw segment text). The *state hash* binds a decisions file to one interview as it was when the
review page was written: sha256 over the raw transcript and its redaction log, canonically encoded,
so a decisions file made against another interview or an older run is refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import yaml

from pipeline.schema import Redaction, SchemaError, Transcript
from pipeline.store import Layout, atomic_write_text

logger = logging.getLogger(__name__)

RAW_NAME = "transcript.json"
ORIGINAL_NAME = "transcript.original.json"  # the raw transcript before a reviewer's first correction
REDACTIONS_NAME = "redactions.json"
DECISIONS_NAME = "review_decisions.json"
PAGE_NAME = "review.html"
LISTS_NAME = "project_lists.yaml"
AUDIT_NAME = "audit_trail.jsonl"
LIST_KEYS = ("known_names", "allow_list")
REVIEWER_RECOGNIZER = "reviewer"  # the recognizer name of spans a reviewer marked as missed
MAX_TERM_CHARS = 200

# Used when pipeline.deid is not importable (it always is in a full install).
_FALLBACK_ENTITY_TYPES = (
    "PERSON", "LOCATION", "STREET_ADDRESS", "ORGANIZATION", "PHONE_NUMBER", "EMAIL_ADDRESS", "URL",
    "IP_ADDRESS", "DATE_TIME", "AGE", "NRP", "CREDIT_CARD", "IBAN_CODE", "ID_NUMBER",
)  # fmt: skip


class ReviewError(ValueError):
    """A review input is unusable (decisions file, project lists, missing artefacts); nothing was changed.

    The message is one line naming the file and the problem, never transcript text or a name.
    """


def entity_types() -> tuple[str, ...]:
    """Entity types a reviewer may give a missed span: those the deidentify stage knows."""
    try:
        from pipeline.deid.config import ENTITY_TYPES
    except ImportError:  # pragma: no cover - partial installs only
        return _FALLBACK_ENTITY_TYPES
    return tuple(ENTITY_TYPES)


def redaction_id(r: Redaction | dict[str, Any]) -> str:
    if isinstance(r, dict):
        return f"{int(r['segment_id'])}:{int(r['start'])}:{int(r['end'])}"
    return f"{r.segment_id}:{r.start}:{r.end}"


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def state_hash(raw: Transcript, redactions: list[Redaction]) -> str:
    """sha256 of the raw transcript plus its redactions, independent of file formatting."""
    h = hashlib.sha256()
    h.update(canonical_json(raw.to_dict()))
    h.update(b"\n")
    h.update(canonical_json([r.to_dict() for r in redactions]))
    return h.hexdigest()


def interview_ids(layout: Layout) -> list[str]:
    """Interviews that have been pseudonymised: a raw transcript and a redaction log, sorted."""
    root = layout.restricted_root
    if not root.is_dir():
        return []
    return sorted(
        d.name
        for d in root.iterdir()
        if d.is_dir() and (d / RAW_NAME).is_file() and (d / REDACTIONS_NAME).is_file()
    )


def load_redactions(path: Path) -> list[Redaction]:
    """The redaction log: ``{"interview_id": ..., "redactions": [...]}`` or a bare list."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReviewError(f"{path}: not a readable redaction log ({type(e).__name__})") from e
    items = data.get("redactions") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ReviewError(f"{path}: no list of redactions")
    try:
        return [Redaction.from_dict(d) for d in items]
    except (KeyError, TypeError, ValueError) as e:
        raise ReviewError(f"{path}: malformed redaction ({type(e).__name__})") from e


def load_interview(layout: Layout, interview_id: str) -> tuple[Transcript, list[Redaction]]:
    """The raw (speaker-tagged) transcript and the redaction log of one interview."""
    rdir = layout.restricted(interview_id)
    raw_path, red_path = rdir / RAW_NAME, rdir / REDACTIONS_NAME
    if not raw_path.is_file() or not red_path.is_file():
        raise ReviewError(f"{interview_id}: no pseudonymised interview with this id in {layout.out}")
    try:
        raw = Transcript.load(raw_path)
    except SchemaError as e:
        raise ReviewError(str(e)) from e
    return raw, load_redactions(red_path)


def load_stored_decisions(layout: Layout, interview_id: str) -> dict[str, Any] | None:
    """The accumulated decisions of one interview (``review_decisions.json``), or None."""
    path = layout.restricted(interview_id) / DECISIONS_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReviewError(f"{path}: unreadable ({type(e).__name__}); restore it from a backup") from e
    if not isinstance(data, dict) or not isinstance(data.get("decisions"), dict):
        raise ReviewError(f"{path}: not a review decisions file")
    return data


def review_state(stored: dict[str, Any] | None) -> str:
    """``approved`` (the last applied review approved it), ``corrected`` (a reviewer corrected the
    transcript) or ``draft``."""
    if not stored:
        return "draft"
    reviews = stored.get("reviews") or []
    if reviews and reviews[-1].get("approved"):
        return "approved"
    return "corrected" if stored.get("corrections") else "draft"


# ---------------------------------------------------------------------------------------------
# Project lists: known names and allowed terms added during review (restricted: names are personal)


def lists_path(out: str | Path) -> Path:
    return Layout(out).restricted_root / LISTS_NAME


def load_project_lists(out: str | Path) -> dict[str, list[str]]:
    """``{"known_names": [...], "allow_list": [...]}`` from ``OUT/restricted/project_lists.yaml``.

    Empty lists when the file does not exist; a malformed file is a ``ReviewError`` (never a silent
    fall-back: dropping the known names would let them through unreplaced).
    """
    path = lists_path(out)
    empty: dict[str, list[str]] = {k: [] for k in LIST_KEYS}
    if not path.is_file():
        return empty
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ReviewError(f"{path}: unreadable project lists ({type(e).__name__})") from e
    if data is None:
        return empty
    if not isinstance(data, dict):
        raise ReviewError(f"{path}: the top level must be a mapping with {' and '.join(LIST_KEYS)}")
    unknown = set(data) - set(LIST_KEYS)
    if unknown:
        raise ReviewError(f"{path}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    for k in LIST_KEYS:
        items = data.get(k) or []
        if not isinstance(items, list) or not all(isinstance(t, str) and t.strip() for t in items):
            raise ReviewError(f"{path}: '{k}' must be a list of non-empty strings")
        empty[k] = list(items)
    return empty


def save_project_lists(out: str | Path, lists: dict[str, list[str]]) -> Path:
    header = (
        "# Project-wide lists added during review (interview-pipeline apply-review).\n"
        "# RESTRICTED: known names are personal data. Applied to every interview of this output folder.\n"
    )
    body = yaml.safe_dump({k: list(lists.get(k, [])) for k in LIST_KEYS}, allow_unicode=True, sort_keys=False)
    return atomic_write_text(lists_path(out), header + body)


def _merged(base: list[str], extra: list[str]) -> list[str]:
    seen = {t.casefold() for t in base}
    out = list(base)
    for t in extra:
        if t.casefold() not in seen:
            seen.add(t.casefold())
            out.append(t)
    return out


def merge_project_lists(config: Any, lists: dict[str, list[str]]) -> Any:
    """A copy of the pipeline config whose ``deidentify`` lists include the project lists.

    Idempotent: terms already in the config (compared case-insensitively) are not repeated.
    """
    if not any(lists.get(k) for k in LIST_KEYS):
        return config
    deid = config.deidentify.model_copy(
        update={k: _merged(list(getattr(config.deidentify, k)), lists.get(k, [])) for k in LIST_KEYS}
    )
    return config.model_copy(update={"deidentify": deid})
