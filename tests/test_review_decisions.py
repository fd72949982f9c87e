"""Decisions files: refused with a clear one-line message and nothing changed; accumulation, project
lists, audit trail and the shareable summary."""

from __future__ import annotations

import copy
import hashlib
import json
import stat
from pathlib import Path

import pytest

from pipeline.config import PipelineConfig
from pipeline.review import ReviewError, apply_review, load_project_lists, merge_project_lists, state_hash
from pipeline.review.common import load_interview, save_project_lists
from pipeline.review.decisions import FORMAT, Review, append_audit, merge_stored
from pipeline.review.summary import write_audit_summary
from pipeline.schema import Redaction, Segment, Speaker, Transcript
from pipeline.store import Layout, atomic_write_json, atomic_write_text

SECRETS = ("Anna Jensen", "Aarhus", "Peter", "555 0123")


def _transcript(iid: str, texts: list[str]) -> Transcript:
    segs = [Segment(i, i * 4.0, i * 4.0 + 3.5, t, "S2" if i % 2 else "S1") for i, t in enumerate(texts)]
    return Transcript(
        iid, "en", segs, [Speaker("S1", "Interviewer", "interviewer"), Speaker("S2", "Participant")], 20.0
    )


def _red(t: Transcript, sid: int, value: str, etype: str, rep: str, score: float = 0.85) -> Redaction:
    start = t.segments[sid].text.index(value)
    return Redaction(sid, start, start + len(value), value, etype, score, "spacy_ner", rep)


@pytest.fixture()
def out(tmp_path: Path) -> Path:
    """A hand-made output folder with two pseudonymised interviews (raw, redactions, shareable)."""
    out = tmp_path / "OUT"
    layout = Layout(out)
    layout.create()
    a = _transcript(
        "int-a", ["Thank you for coming.", "I am Anna Jensen from Aarhus.", "Who is Peter?", "Call 555 0123."]
    )
    b = _transcript("int-b", ["Hello.", "My colleague Anna Jensen knows Peter."])
    reds = {
        "int-a": [_red(a, 1, "Anna Jensen", "PERSON", "[PERSON_1]"), _red(a, 1, "Aarhus", "LOCATION", "[PLACE_1]", 0.4),
                  _red(a, 3, "555 0123", "PHONE_NUMBER", "[PHONE_1]"),
                  Redaction(-1, 0, 4, "Anna", "PERSON", 1.0, "SpeakerLabel", "[PERSON_1]")],
        "int-b": [_red(b, 1, "Anna Jensen", "PERSON", "[PERSON_1]")],
    }  # fmt: skip
    for t in (a, b):
        atomic_write_text(layout.restricted(t.interview_id) / "transcript.json", t.to_json())
        atomic_write_json(
            layout.restricted(t.interview_id) / "redactions.json",
            {"interview_id": t.interview_id, "redactions": [r.to_dict() for r in reds[t.interview_id]]},
        )
        atomic_write_text(layout.shareable(t.interview_id) / "transcript.json", "{}")
    atomic_write_json(layout.manifest_path, {"manifest_version": 1, "interviews": {}})
    return out


def valid_decisions(out: Path, iid: str = "int-a") -> dict:
    raw, reds = load_interview(Layout(out), iid)
    peter = raw.segments[2].text.index("Peter")
    return {
        "format": FORMAT,
        "version": 1,
        "interview_id": iid,
        "state_sha256": state_hash(raw, reds),
        "reviewer": "R. Viewer",
        "created": "2024-05-01T10:00:00.000Z",
        "decisions": [
            {"action": "accept", "id": f"1:{reds[0].start}:{reds[0].end}"},
            {"action": "reject", "id": f"1:{reds[1].start}:{reds[1].end}"},
            {
                "action": "add",
                "segment_id": 2,
                "start": peter,
                "end": peter + 5,
                "text": "Peter",
                "entity_type": "PERSON",
            },
        ],
        "list_additions": [{"list": "known_names", "term": "Peter"}],
    }


def snapshot(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def _set(path: str, value):
    def change(d: dict) -> dict:
        node = d
        *parents, leaf = path.split(".")
        for k in parents:
            node = node[int(k)] if isinstance(node, list) else node[k]
        if isinstance(node, list):
            node[int(leaf)] = value
        else:
            node[leaf] = value
        return d

    return change


def _other_hash(d: dict, out: Path) -> dict:
    raw, reds = load_interview(Layout(out), "int-b")
    d["state_sha256"] = state_hash(raw, reds)
    return d


REFUSALS = [
    ("malformed-json", b'{"format": "interview-pipeline/review-decisions", ', "not valid JSON"),
    ("not-an-object", b"[]", "must be a JSON object"),
    ("not-utf8", b"\xff\xfe{}", "not valid JSON"),
    ("nested-too-deeply", b'{"decisions": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", "nested too deeply"),
    ("wrong-format", _set("format", "something-else"), "not a review decisions file"),
    ("wrong-version", _set("version", 3), "unsupported decisions version"),
    ("unknown-top-key", _set("extra", 1), "unknown key"),
    ("unknown-interview", _set("interview_id", "int-zzz"), "not in this output folder"),
    ("other-interviews-hash", _other_hash, "another state"),
    ("tampered-hash", _set("state_sha256", "0" * 64), "another state"),
    ("no-reviewer", _set("reviewer", "  "), "reviewer"),
    ("bad-action", _set("decisions.0.action", "delete"), "'action' must be one of"),
    ("unknown-redaction-id", _set("decisions.1.id", "1:0:2"), "unknown redaction id '1:0:2'"),
    ("id-from-other-segment", _set("decisions.1.id", "9:0:3"), "unknown redaction id"),
    ("speaker-label-id", _set("decisions.1.id", "-1:0:4"), "unknown redaction id"),
    ("unknown-segment", _set("decisions.2.segment_id", 99), "unknown segment id 99"),
    ("offsets-out-of-range", _set("decisions.2.end", 500), "out of range"),
    ("offsets-reversed", _set("decisions.2.end", 0), "out of range"),
    ("offsets-not-matching-text", _set("decisions.2.start", 0), "do not match the text"),
    ("text-not-matching", _set("decisions.2.text", "Petra"), "do not match the text"),
    (
        "offset-not-int",
        _set("decisions.2.start", "7"),
        "decisions 3 -> start: input should be a valid integer",
    ),
    (
        "unknown-entity-type",
        _set("decisions.2.entity_type", "HAIR_COLOUR"),
        "unknown entity type 'HAIR_COLOUR'",
    ),
    ("extra-decision-key", _set("decisions.0.note", "x"), "unknown key"),
    (
        "duplicate-decision",
        lambda d: {**d, "decisions": d["decisions"] + [d["decisions"][0]]},
        "second decision",
    ),
    ("bad-list-name", _set("list_additions.0.list", "deny_list"), "list: input should be 'known_names'"),
    ("empty-term", _set("list_additions.0.term", " "), "'term' must be one line"),
    (
        "term-on-both-lists",
        lambda d: {**d, "list_additions": d["list_additions"] + [{"list": "allow_list", "term": "peter"}]},
        "cannot be on both",
    ),
]


@pytest.mark.parametrize("case, change, message", REFUSALS, ids=[c[0] for c in REFUSALS])
def test_bad_decisions_file_is_refused_and_nothing_changes(
    out: Path, tmp_path: Path, case, change, message
) -> None:
    path = tmp_path / "decisions.json"
    if isinstance(change, bytes):
        path.write_bytes(change)
    else:
        d = copy.deepcopy(valid_decisions(out))
        d = change(d, out) if change is _other_hash else change(d)
        path.write_text(json.dumps(d), encoding="utf-8")
    before = snapshot(out)
    with pytest.raises(ReviewError) as e:
        apply_review(out, path, PipelineConfig())
    msg = str(e.value)
    assert message in msg
    assert "\n" not in msg and str(path) in msg
    assert not any(s in msg for s in SECRETS), "a refusal message must not quote transcript text"
    assert snapshot(out) == before


def test_missing_decisions_file_is_refused(out: Path, tmp_path: Path) -> None:
    before = snapshot(out)
    with pytest.raises(ReviewError, match="cannot read"):
        apply_review(out, tmp_path / "nope.json", PipelineConfig())
    assert snapshot(out) == before


def test_broken_project_lists_refuse_before_writing(out: Path, tmp_path: Path) -> None:
    atomic_write_text(Layout(out).restricted_root / "project_lists.yaml", "known_names: [unclosed\n")
    path = tmp_path / "d.json"
    path.write_text(json.dumps(valid_decisions(out)))
    before = snapshot(out)
    with pytest.raises(ReviewError, match="project_lists.yaml: unreadable"):
        apply_review(out, path, PipelineConfig())
    assert snapshot(out) == before


def test_encrypted_key_without_passphrase_refuses_before_writing(out: Path, tmp_path: Path) -> None:
    from pipeline.deid.key import PseudonymKey

    PseudonymKey(passphrase="correct horse").save(Layout(out).restricted_root / "key.json")
    path = tmp_path / "d.json"
    path.write_text(json.dumps(valid_decisions(out)))
    before = snapshot(out)
    for wrong in (None, "wrong"):
        with pytest.raises(ReviewError, match="cannot open the pseudonym key"):
            apply_review(out, path, PipelineConfig(), passphrase=wrong)
    assert snapshot(out) == before


def test_no_manifest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReviewError, match="manifest.json missing"):
        apply_review(tmp_path, tmp_path / "d.json", PipelineConfig())


# ---------------------------------------------------------------------------------------------
# Pieces


def _review(decisions: list[dict], sha: str, reviewer: str = "A") -> Review:
    return Review("int-a", "h", reviewer, None, sha, decisions, [])


def test_later_review_replaces_decision_on_same_span_and_keeps_the_rest(out: Path) -> None:
    _, reds = load_interview(Layout(out), "int-a")
    r0, r1 = reds[0], reds[1]
    first = merge_stored(
        None,
        _review(
            [
                {"action": "reject", "segment_id": 1, "start": r0.start, "end": r0.end},
                {"action": "accept", "segment_id": 1, "start": r1.start, "end": r1.end},
            ],
            "f1",
        ),
        reds,
        "2024-05-01T10:00:00+00:00",
    )
    second = merge_stored(
        first,
        _review([{"action": "accept", "segment_id": 1, "start": r0.start, "end": r0.end}], "f2", "B"),
        reds,
        "2024-05-02T10:00:00+00:00",
    )
    got = {k: (v["action"], v["reviewer"]) for k, v in second["decisions"].items()}
    assert got == {f"1:{r0.start}:{r0.end}": ("accept", "B"), f"1:{r1.start}:{r1.end}": ("accept", "A")}
    assert [r["reviewer"] for r in second["reviews"]] == ["A", "B"]
    assert (
        second["decisions"][f"1:{r1.start}:{r1.end}"]["text"] == "Aarhus"
    )  # restricted file keeps the original
    with pytest.raises(ReviewError, match="already applied"):
        merge_stored(second, _review([], "f2"), reds, "2024-05-03T10:00:00+00:00")


def test_audit_trail_is_append_only_and_private(tmp_path: Path) -> None:
    path = tmp_path / "restricted" / "audit_trail.jsonl"
    append_audit(path, [{"event": "a"}])
    append_audit(path, [{"event": "b"}, {"event": "c"}])
    assert [json.loads(x)["event"] for x in path.read_text().splitlines()] == ["a", "b", "c"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "text, error",
    [
        ("", None),
        ("known_names: [Anna]\nallow_list: []\n", None),
        ("- Anna\n", "top level must be a mapping"),
        ("known_names: [Anna]\ndeny: []\n", "unknown key"),
        ("known_names: Anna\n", "must be a list"),
        ("known_names: ['']\n", "must be a list of non-empty strings"),
        ("known_names: [\n", "unreadable"),
    ],
)
def test_load_project_lists(tmp_path: Path, text: str, error: str | None) -> None:
    (tmp_path / "restricted").mkdir()
    (tmp_path / "restricted" / "project_lists.yaml").write_text(text)
    if error:
        with pytest.raises(ReviewError, match=error):
            load_project_lists(tmp_path)
    else:
        lists = load_project_lists(tmp_path)
        assert set(lists) == {"known_names", "allow_list"}


def test_project_lists_round_trip_and_merge_is_idempotent(tmp_path: Path) -> None:
    assert load_project_lists(tmp_path) == {"known_names": [], "allow_list": []}
    save_project_lists(tmp_path, {"known_names": ["Peter", "Åse Ødegård"], "allow_list": ["Aarhus"]})
    lists = load_project_lists(tmp_path)
    assert lists == {"known_names": ["Peter", "Åse Ødegård"], "allow_list": ["Aarhus"]}
    assert stat.S_IMODE((tmp_path / "restricted" / "project_lists.yaml").stat().st_mode) == 0o600
    config = PipelineConfig.model_validate({"deidentify": {"known_names": ["peter", "Karen"]}})
    merged = merge_project_lists(merge_project_lists(config, lists), lists)
    assert merged.deidentify.known_names == ["peter", "Karen", "Åse Ødegård"]
    assert merged.deidentify.allow_list == ["Aarhus"]
    assert config.deidentify.known_names == ["peter", "Karen"], "the caller's config is not modified"


def test_state_hash_ignores_formatting_but_not_content(out: Path) -> None:
    layout = Layout(out)
    raw, reds = load_interview(layout, "int-a")
    h = state_hash(raw, reds)
    path = layout.restricted("int-a") / "redactions.json"
    path.write_text(json.dumps([r.to_dict() for r in reds]))  # a bare list, compact: same state
    assert state_hash(*load_interview(layout, "int-a")) == h
    reds[0].score = 0.5
    assert state_hash(raw, reds) != h


def test_audit_summary_counts_and_holds_no_original_value(out: Path) -> None:
    layout = Layout(out)
    csv_path, html_path = write_audit_summary(out)
    lines = csv_path.read_text().splitlines()
    assert (
        lines[0]
        == "interview,state,status,reviewer,reviewed_on,replacements,reviewed,accepted,rejected,added,LOCATION,PERSON,PHONE_NUMBER"
    )
    assert lines[1] == "int-a,draft,not reviewed,,,4,0,0,0,0,1,2,1"
    assert lines[2] == "int-b,draft,not reviewed,,,1,0,0,0,0,0,1,0"
    _, reds = load_interview(layout, "int-a")
    stored = merge_stored(
        None,
        _review(
            [{"action": "reject", "segment_id": 1, "start": reds[1].start, "end": reds[1].end}], "f", "Dr Who"
        ),
        reds,
        "2024-05-01T10:00:00+00:00",
    )
    atomic_write_json(layout.restricted("int-a") / "review_decisions.json", stored)
    write_audit_summary(out)
    assert (
        csv_path.read_text().splitlines()[1]
        == "int-a,draft,reviewed by Dr Who on 2024-05-01,Dr Who,2024-05-01,4,1,0,1,0,1,2,1"
    )
    for p in (csv_path, html_path):
        text = p.read_text()
        assert not any(s in text for s in SECRETS)
