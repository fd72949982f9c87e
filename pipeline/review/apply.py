"""``interview-pipeline apply-review OUT decisions.json``: validate, record, re-pseudonymise, re-export.

Order matters: under the output folder's lock, the decisions file is checked completely against
the interview as it is now (and the key is opened) before anything is written; a refused file
changes nothing. Then the accumulated decisions, the project lists and the audit trail are saved,
and only the deidentify and export stages re-run: for the reviewed interview, or for every
interview when the known-names or allow list changed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pipeline.review.common import (
    AUDIT_NAME,
    DECISIONS_NAME,
    LIST_KEYS,
    ORIGINAL_NAME,
    PAGE_NAME,
    RAW_NAME,
    REVIEWER_RECOGNIZER,
    ReviewError,
    entity_types,
    interview_ids,
    lists_path,
    load_interview,
    load_project_lists,
    load_stored_decisions,
    merge_project_lists,
    redaction_id,
    save_project_lists,
    state_hash,
)
from pipeline.review.decisions import (
    append_audit,
    audit_records,
    check_header,
    merge_stored,
    parse_decisions_file,
    utc_now,
    validate,
)
from pipeline.store import (
    Layout,
    Manifest,
    OutputLock,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    sha256_file,
)

logger = logging.getLogger(__name__)


class RerunError(ValueError):
    """The decisions were saved, but re-pseudonymising or exporting failed afterwards."""


def _check_key(layout: Layout, passphrase: str | None) -> None:
    """Open the key now, so a wrong passphrase is refused before anything is written."""
    path = layout.restricted_root / "key.json"
    if not path.is_file():
        return
    from pipeline.deid.key import PseudonymKey

    try:
        PseudonymKey.load(path, passphrase)
    except (ValueError, OSError) as e:
        raise ReviewError(f"{path}: cannot open the pseudonym key ({type(e).__name__}: {e})") from e


def _unapplied(layout: Layout, interview_id: str, stored: dict[str, Any]) -> int:
    """How many stored decisions the freshly written redaction log does not reflect (should be 0)."""
    _, final = load_interview(layout, interview_id)
    by_id = {redaction_id(r): r for r in final}
    missing = 0
    for rid, d in stored.get("decisions", {}).items():
        if d["action"] == "reject":
            r = by_id.get(rid)
            missing += r is not None and r.recognizer != REVIEWER_RECOGNIZER
        elif d["action"] == "add":
            missing += not any(
                r.segment_id == d["segment_id"] and r.start <= d["start"] and d["end"] <= r.end for r in final
            )
    return missing


def _rerun(out: Path, config: Any, passphrase: str | None, ids: list[str]) -> tuple[list[str], int]:
    """Re-run deidentify for ``ids`` and then the export, through the coordinator (lock already held)."""
    from pipeline.runner import Coordinator

    layout = Layout(out)
    coordinator = Coordinator(out, config, passphrase=passphrase, progress=False)
    coordinator.manifest = Manifest.load(layout)
    for iid in ids:
        coordinator.manifest.clear_stage(iid, "deidentify")
    coordinator.manifest.save()
    failed: list[str] = []
    for iid in ids:
        try:
            coordinator.deidentify(iid)
        except Exception as e:  # one interview's failure must not stop the others
            logger.error("%s: deidentify after review failed (%s)", iid, type(e).__name__)
            failed.append(f"{iid} ({type(e).__name__})")
            continue
        stored = load_stored_decisions(layout, iid)
        if stored and _unapplied(layout, iid, stored):
            failed.append(f"{iid} (review decisions not applied by the deidentify stage)")
    if failed:
        raise RerunError(
            f"decisions saved, but re-pseudonymising failed for {', '.join(failed)}; "
            "fix the cause and run `interview-pipeline run` (or apply-review with a new review) again"
        )
    written = coordinator.export()
    return ids, len(written)


def _write_corrected(layout: Layout, iid: str, corrected: Any) -> None:
    """The corrected raw transcript replaces ``transcript.json``; the first version (the speaker-tagged
    ASR output) is kept as ``transcript.original.json``. The speakers stage's record is updated, so a
    later ``run`` keeps the correction instead of redoing the stage."""
    rdir = layout.restricted(iid)
    path, original = rdir / RAW_NAME, rdir / ORIGINAL_NAME
    if not original.is_file():
        atomic_write_bytes(original, path.read_bytes())
    atomic_write_text(path, corrected.to_json())
    m = Manifest.load(layout)
    rec = m.stage(iid, "speakers")
    rel = str(path.relative_to(layout.out))
    if rec is not None and rel in rec.outputs:
        rec.outputs[rel] = sha256_file(path)
        m.set_stage(iid, "speakers", rec)
        m.save()


def _refresh_pages(layout: Layout, ids: list[str]) -> None:
    from pipeline.review.page import write_page

    for iid in ids:
        if (layout.restricted(iid) / PAGE_NAME).is_file():
            write_page(layout, iid)


def apply_review(
    out: Path,
    decisions: Path,
    config: Any,
    config_path: str | None = None,
    passphrase: str | None = None,
) -> str:
    """Apply a reviewer's ``decisions.json`` to the output folder; returns a one-paragraph summary.

    Raises ``ReviewError`` (nothing changed) for an unusable decisions file, ``RerunError`` when the
    decisions were saved but a re-run failed, ``LockedError`` when another run holds the folder.
    """
    from pipeline.review.summary import write_audit_summary

    out, decisions = Path(out), Path(decisions)
    layout = Layout(out)
    if not layout.manifest_path.is_file():
        raise ReviewError(f"{out}: no pipeline output here (manifest.json missing)")
    with OutputLock(out):
        # 1. Validate everything; nothing is written before this block ends.
        obj, digest = parse_decisions_file(decisions)
        all_ids = interview_ids(layout)
        iid = check_header(decisions, obj, all_ids)
        raw, redactions = load_interview(layout, iid)
        lists = load_project_lists(out)
        review = validate(
            decisions, obj, digest, raw, redactions, state_hash(raw, redactions), entity_types(), lists
        )
        applied_at = utc_now()
        merged = merge_stored(load_stored_decisions(layout, iid), review, redactions, applied_at)
        new_lists = {
            k: lists[k] + [a["term"] for a in review.list_additions if a["list"] == k] for k in LIST_KEYS
        }
        _check_key(layout, passphrase)

        # 2. Record: the corrected raw transcript, decisions, lists, audit trail.
        if review.corrected is not None:
            _write_corrected(layout, iid, review.corrected)
        atomic_write_json(layout.restricted(iid) / DECISIONS_NAME, merged)
        if review.list_additions:
            save_project_lists(out, new_lists)
        records = audit_records(review, applied_at)
        records[0]["config"] = Path(config_path).name if config_path else None
        append_audit(layout.restricted_root / AUDIT_NAME, records)
        logger.info(
            "%s: review recorded (%d decision(s), %d list term(s))",
            iid,
            len(review.decisions),
            len(review.list_additions),
        )

        # 3. Re-run deidentify (+ export) where the outcome can change.
        affected = all_ids if review.list_additions else [iid]
        try:
            rerun_ids, n_written = _rerun(out, merge_project_lists(config, new_lists), passphrase, affected)
        finally:
            write_audit_summary(out)
        _refresh_pages(layout, rerun_ids)

    known = sum(a["list"] == "known_names" for a in review.list_additions)
    allowed = len(review.list_additions) - known
    lists_note = (
        f" {known} known name(s) and {allowed} allow-list term(s) added to {lists_path(out)}, applied to every interview."
        if review.list_additions
        else ""
    )
    c = review.correction_counts
    corr_note = (
        f" Transcript corrected: {c['edited']} segment(s) edited ({c['words_changed']} word(s)), "
        f"{c['speaker_changed']} speaker change(s), {c['split']} split(s), {c['merged']} merge(s), "
        f"{c['deleted']} deleted; the original is kept as {ORIGINAL_NAME}."
        if review.corrections
        else ""
    )
    approved = " Approved." if review.approved else ""
    return (
        f"Review of {iid} applied: {review.count('accept')} replacement(s) accepted, {review.count('reject')} rejected "
        f"(original restored), {review.count('add')} missed span(s) marked.{corr_note}{approved}{lists_note} "
        f"Re-pseudonymised {len(rerun_ids)} interview(s); {n_written} export file(s) rewritten. "
        f"Audit trail: {layout.restricted_root / AUDIT_NAME}; summary: {layout.shareable_root / 'audit_summary.csv'}."
    )
