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


def _sample_transcripts(dest: Path) -> list[tuple[Path, list[dict]]]:
    from pipeline.schema import Segment, Speaker

    samples = Path(__file__).resolve().parents[1] / "audio_samples"
    refs = sorted(samples.glob("interview_*.reference.json"))
    if not refs:
        pytest.skip("no sample interview references in audio_samples/")
    out = []
    for ref in refs:
        d = json.loads(ref.read_text(encoding="utf-8"))
        segs = [Segment(i, t["start"], t["end"], t["text"], t["speaker"]) for i, t in enumerate(d["turns"])]
        roles = {k: v["role"] for k, v in d["speakers"].items()}
        speakers = [
            Speaker(k, "Interviewer" if r == "interviewer" else "Participant", r) for k, r in roles.items()
        ]
        path = dest / f"{d['interview']}.json"
        path.write_text(
            Transcript(d["interview"], "en", segs, speakers, d["duration"]).to_json(), encoding="utf-8"
        )
        out.append((path, d["planted"]))
    return out


def _strings(obj) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return []


def test_after_review_no_planted_value_of_the_sample_interviews_leaks(tmp_path: Path) -> None:
    import re

    from pipeline.runner import Coordinator

    samples = _sample_transcripts(tmp_path)
    out = tmp_path / "OUT"
    outcomes = Coordinator(out, _config(), progress=False).run([p for p, _ in samples], transcripts=True)
    assert all(o.status == "done" for o in outcomes), [o.error for o in outcomes]
    iid = outcomes[0].interview_id
    _, reds = load_interview(Layout(out), iid)
    decisions = [
        {"action": "accept", "id": f"{r.segment_id}:{r.start}:{r.end}"} for r in reds if r.segment_id >= 0
    ]
    raw, _ = load_interview(Layout(out), iid)
    if any("nine years" in s.text for s in raw.segments):
        decisions.append(add(out, iid, "nine years", "DATE_TIME"))
    path = decisions_file(
        out, tmp_path, iid, "Leak Check", decisions, [{"list": "known_names", "term": "Zebedee Quux"}]
    )
    apply_review(out, path, _config())

    planted = {form for _, p in samples for value in p for form in value["forms"]}
    for f in sorted(Layout(out).shareable_root.rglob("*")):
        if not f.is_file():
            continue
        text = f.read_text(encoding="utf-8", errors="ignore")
        if f.suffix == ".json":  # only the strings: a timestamp such as 42.3 is not the planted age
            text = "\n".join(_strings(json.loads(text)))
        leaks = [v for v in planted if re.search(r"(?<!\w)" + re.escape(v) + r"(?!\w)", text)]
        assert not leaks, f"{f.relative_to(out)} holds planted value(s) {leaks}"
