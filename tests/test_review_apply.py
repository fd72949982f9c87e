"""apply_review end to end with the real de-identification (no browser): reviews accumulate, list
additions reach every interview and survive a later ordinary run, nothing leaks to shareable/."""

from __future__ import annotations

import csv
import inspect
import json
import shutil
from pathlib import Path

import pytest

from pipeline.review import apply_review, load_project_lists, state_hash
from pipeline.review.common import load_interview
from pipeline.review.decisions import FORMAT
from pipeline.schema import Transcript
from pipeline.store import Layout


def _integrated() -> bool:
    try:
        import pipeline.deid.engine  # noqa: F401
        from pipeline import runner
    except ImportError:
        return False
    sources = (inspect.getsource(runner.Coordinator), inspect.getsource(runner.Coordinator.deidentify))
    return any("apply_decisions" in src for src in sources)


pytestmark = pytest.mark.skipif(
    not _integrated(),
    reason="Coordinator does not apply review decisions yet (pipeline.review.apply_decisions)",
)

INTERVIEWS = {
    "int-a": "Interviewer: Thank you for taking part. Where do you work?\n"
    "Participant: I am Anna Jensen and I work at the Riverside Clinic in Aarhus.\n"
    "Interviewer: Who helps you at home?\n"
    "Participant: Mostly my neighbour. I asked Moonbeam about it.\n",
    "int-b": "Interviewer: Thank you for taking part.\n"
    "Participant: I moved to Aarhus last year. I asked Moonbeam about the study.\n",
}


def _config():
    from pipeline.config import PipelineConfig

    return PipelineConfig.model_validate({"export": {"formats": ["txt", "json"]}})


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    from pipeline.runner import Coordinator

    root = tmp_path_factory.mktemp("review-apply")
    src = root / "src"
    src.mkdir()
    for iid, text in INTERVIEWS.items():
        (src / f"{iid}.txt").write_text(text, encoding="utf-8")
    out = root / "OUT"
    outcomes = Coordinator(out, _config(), progress=False).run(sorted(src.glob("*.txt")), transcripts=True)
    assert [o.status for o in outcomes] == ["done", "done"], [o.error for o in outcomes]
    return out


@pytest.fixture()
def out(template: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "OUT"
    shutil.copytree(template, dest)
    return dest


def decisions_file(
    out: Path, tmp_path: Path, iid: str, reviewer: str, decisions: list, lists: list | None = None
) -> Path:
    raw, reds = load_interview(Layout(out), iid)
    path = tmp_path / f"decisions-{iid}-{reviewer.replace(' ', '_')}.json"
    obj = {
        "format": FORMAT,
        "version": 1,
        "interview_id": iid,
        "state_sha256": state_hash(raw, reds),
        "reviewer": reviewer,
        "decisions": decisions,
        "list_additions": lists or [],
    }
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def add(out: Path, iid: str, value: str, etype: str = "PERSON") -> dict:
    raw, _ = load_interview(Layout(out), iid)
    seg = next(s for s in raw.segments if value in s.text)
    start = seg.text.index(value)
    return {
        "action": "add",
        "segment_id": seg.id,
        "start": start,
        "end": start + len(value),
        "text": value,
        "entity_type": etype,
    }


def shareable_text(out: Path, iid: str) -> str:
    return "\n".join(
        p.read_text(encoding="utf-8") for p in sorted(Layout(out).shareable(iid).rglob("*")) if p.is_file()
    )


def test_reviews_accumulate_and_stay_per_interview(out: Path, tmp_path: Path) -> None:
    layout = Layout(out)
    _, reds = load_interview(layout, "int-a")
    org = next(r for r in reds if r.entity_type == "ORGANIZATION")
    first = decisions_file(
        out,
        tmp_path,
        "int-a",
        "First Reviewer",
        [{"action": "reject", "id": f"{org.segment_id}:{org.start}:{org.end}"}],
    )
    apply_review(out, first, _config())
    assert org.text in shareable_text(out, "int-a")

    second = decisions_file(out, tmp_path, "int-a", "Second Reviewer", [add(out, "int-a", "Moonbeam")])
    summary = apply_review(out, second, _config())
    assert "Re-pseudonymised 1 interview(s)" in summary
    text_a = shareable_text(out, "int-a")
    assert org.text in text_a, "the first review's rejection is kept"
    assert "Moonbeam" not in text_a
    assert "Moonbeam" in shareable_text(out, "int-b"), (
        "a marked span without a list addition stays in its interview"
    )

    stored = json.loads((layout.restricted("int-a") / "review_decisions.json").read_text())
    assert sorted(d["action"] for d in stored["decisions"].values()) == ["add", "reject"]
    assert [r["reviewer"] for r in stored["reviews"]] == ["First Reviewer", "Second Reviewer"]
    audit = [json.loads(x) for x in (layout.restricted_root / "audit_trail.jsonl").read_text().splitlines()]
    assert [a["reviewer"] for a in audit if a["event"] == "review_applied"] == [
        "First Reviewer",
        "Second Reviewer",
    ]
    with open(layout.shareable_root / "audit_summary.csv", newline="") as f:
        row = next(csv.DictReader(f))
    assert row["interview"] == "int-a" and row["reviewer"] == "First Reviewer; Second Reviewer"
    assert row["status"].startswith("reviewed by First Reviewer; Second Reviewer on ")
    assert (row["reviewed"], row["accepted"], row["rejected"], row["added"]) == ("1", "0", "1", "1")


def test_list_additions_reach_every_interview_and_survive_a_later_run(
    template: Path, out: Path, tmp_path: Path
) -> None:
    from pipeline.runner import Coordinator

    layout = Layout(out)
    assert "Aarhus" not in shareable_text(out, "int-a") and "Aarhus" not in shareable_text(out, "int-b")
    path = decisions_file(
        out,
        tmp_path,
        "int-b",
        "Lists Reviewer",
        [],
        [{"list": "known_names", "term": "Moonbeam"}, {"list": "allow_list", "term": "Aarhus"}],
    )
    summary = apply_review(out, path, _config())
    assert "Re-pseudonymised 2 interview(s)" in summary
    assert load_project_lists(out) == {"known_names": ["Moonbeam"], "allow_list": ["Aarhus"]}
    for iid in ("int-a", "int-b"):
        text = shareable_text(out, iid)
        assert "Moonbeam" not in text and "Aarhus" in text
    # A later ordinary run (same inputs, config without the lists) keeps both lists in force.
    outcomes = Coordinator(out, _config(), progress=False).run(
        sorted((template.parent / "src").glob("*.txt")), transcripts=True
    )
    assert [o.status for o in outcomes] == ["done", "done"]
    for iid in ("int-a", "int-b"):
        share = Transcript.load(layout.shareable(iid) / "transcript.json")
        assert "Moonbeam" not in share.text and "Aarhus" in share.text
    for f in layout.shareable_root.glob("*.*"):
        assert "Moonbeam" not in f.read_text(encoding="utf-8", errors="ignore"), f
