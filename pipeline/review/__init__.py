"""Auditing redactions: an offline review page, the reviewer's decisions applied back, an audit trail.

- ``write_review_pages(out, interview=None)``: ``OUT/restricted/<id>/review.html`` per interview.
- ``apply_review(out, decisions, config, config_path, passphrase)``: validate and apply a downloaded
  ``decisions.json``; re-runs deidentify and export; returns a one-paragraph summary.
- ``load_project_lists(out)`` / ``merge_project_lists(config, lists)``: the known names and allow
  list added during review, for the coordinator to merge into ``config.deidentify``.
- ``load_decisions(out, interview_id)`` + ``apply_decisions(raw, shareable, redactions, decisions, key)``:
  for the coordinator, right after ``Deidentifier.deidentify``.
- ``interview_review_state(out, id)``: draft / corrected / approved.
- ``write_audit_summary(out)``: ``OUT/shareable/audit_summary.csv`` and ``.html``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.review.apply import RerunError, apply_review
from pipeline.review.common import (
    ReviewError,
    load_project_lists,
    load_stored_decisions,
    merge_project_lists,
    review_state,
    state_hash,
)
from pipeline.review.page import write_review_pages
from pipeline.review.render import apply_decisions
from pipeline.review.summary import write_audit_summary
from pipeline.store import Layout


def interview_review_state(out: str | Path, interview_id: str) -> str:
    """``draft`` / ``corrected`` / ``approved`` for one interview (for ``status``)."""
    try:
        return review_state(load_stored_decisions(Layout(out), interview_id))
    except ReviewError:
        return "unreadable"


def load_decisions(out: str | Path, interview_id: str) -> dict[str, Any] | None:
    """The accumulated review decisions of one interview (``review_decisions.json``), or None."""
    return load_stored_decisions(Layout(out), interview_id)


__all__ = [
    "RerunError",
    "ReviewError",
    "apply_decisions",
    "apply_review",
    "interview_review_state",
    "load_decisions",
    "load_project_lists",
    "merge_project_lists",
    "review_state",
    "state_hash",
    "write_audit_summary",
    "write_review_pages",
]
