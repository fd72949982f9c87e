"""The shareable audit summary: per interview, counts and review status, never an original value.

``OUT/shareable/audit_summary.csv`` and ``.html``. The reviewer's name and the date appear (that is
the point of a sign-off); no transcript text, no replaced value, no list term.
"""

from __future__ import annotations

import csv
import html
import io
from collections import Counter
from pathlib import Path
from typing import Any

from pipeline.review.common import (
    REDACTIONS_NAME,
    interview_ids,
    load_redactions,
    load_stored_decisions,
    review_state,
)
from pipeline.store import Layout, atomic_write_text

CSV_NAME = "audit_summary.csv"
HTML_NAME = "audit_summary.html"
FIXED = [
    "interview",
    "state",
    "status",
    "reviewer",
    "reviewed_on",
    "replacements",
    "reviewed",
    "accepted",
    "rejected",
    "added",
]


def summary_rows(out: str | Path) -> tuple[list[str], list[dict[str, Any]]]:
    """Column names and one row per pseudonymised interview."""
    layout = Layout(out)
    rows: list[dict[str, Any]] = []
    types: set[str] = set()
    for iid in interview_ids(layout):
        redactions = load_redactions(layout.restricted(iid) / REDACTIONS_NAME)
        stored = load_stored_decisions(layout, iid) or {}
        per_type = Counter(r.entity_type for r in redactions)
        types |= set(per_type)
        actions = Counter(d.get("action") for d in stored.get("decisions", {}).values())
        reviews = stored.get("reviews", [])
        last = reviews[-1] if reviews else None
        reviewers = sorted({r["reviewer"] for r in reviews})
        rows.append(
            {
                "interview": iid,
                "state": review_state(stored),
                "status": f"reviewed by {'; '.join(reviewers)} on {last['applied_at'][:10]}"
                if last
                else "not reviewed",
                "reviewer": "; ".join(reviewers),
                "reviewed_on": last["applied_at"][:10] if last else "",
                "replacements": len(redactions),
                "reviewed": actions["accept"] + actions["reject"],
                "accepted": actions["accept"],
                "rejected": actions["reject"],
                "added": actions["add"],
                **per_type,
            }
        )
    columns = FIXED + sorted(types)
    for row in rows:
        for t in types:
            row.setdefault(t, 0)
    return columns, rows


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _html(columns: list[str], rows: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in columns) + "</tr>\n"
        for r in rows
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        "<title>De-identification audit summary</title><style>"
        "body{font:14px system-ui,sans-serif;margin:20px}table{border-collapse:collapse}"
        "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f0f0f0}"
        "</style></head><body><h1>De-identification audit summary</h1>"
        "<p>Per interview: state (draft, corrected by a reviewer, approved), replacements made (by entity type), how many a person reviewed, accepted, "
        "rejected (original kept) and added (missed data marked). No original value appears here.</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table></body></html>\n"
    )


def write_audit_summary(out: str | Path) -> list[Path]:
    """Write the CSV and HTML summary under ``OUT/shareable/``; returns their paths."""
    layout = Layout(out)
    columns, rows = summary_rows(out)
    root = layout.shareable_root
    return [
        atomic_write_text(root / CSV_NAME, _csv(columns, rows)),
        atomic_write_text(root / HTML_NAME, _html(columns, rows)),
    ]
