"""Corrections in a decisions file (version 2): schema, migration from version 1, checks against the
interview, applying them with word times, and apply-review end to end on a hand-made output folder."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from pipeline.review import ReviewError
from pipeline.review.corrections import align_words, apply_corrections, check_corrections, correction_counts
from pipeline.review.fileformat import DecisionsFile, migrate, parse
from pipeline.schema import Segment, Speaker, Transcript, Word


def _seg(i: int, t0: float, text: str, speaker: str = "S1") -> Segment:
    words = [Word(t0 + k, t0 + k + 0.8, " " + w, 0.9, speaker) for k, w in enumerate(text.split())]
    return Segment(i, t0, t0 + len(words), text, speaker, words)


RAW = Transcript(
    "int-a",
    "en",
    [_seg(0, 0.0, "one two three"), _seg(1, 10.0, "four five six", "S2"), _seg(2, 20.0, "seven eight")],
    [Speaker("S1", "Interviewer"), Speaker("S2", "Participant")],
)

V1 = {
    "format": "interview-pipeline/review-decisions",
    "version": 1,
    "interview_id": "int-a",
    "state_sha256": "x",
    "reviewer": "R",
    "decisions": [{"action": "accept", "id": "0:0:3"}],
    "list_additions": [],
}


def _groups(*gs: dict):
    return parse({**V1, "version": 2, "corrections": list(gs)}).corrections


def test_version_1_migrates_to_2_without_corrections_and_not_approved() -> None:
    m = migrate(copy.deepcopy(V1))
    assert m["version"] == 2 and m["corrections"] == [] and m["approved"] is False
    f = parse(V1)
    assert isinstance(f, DecisionsFile) and f.version == 2 and f.decisions[0].action == "accept"
    assert migrate({**V1, "version": 2}) == {**V1, "version": 2}  # v2 unchanged


@pytest.mark.parametrize(
    "change, message",
    [
        ({"approved": "yes"}, "approved: input should be a valid boolean"),
        ({"corrections": [{"replaces": [], "segments": []}]}, "corrections 1 -> replaces"),
        ({"corrections": [{"replaces": ["0"], "segments": []}]}, "valid integer"),
        ({"corrections": [{"replaces": [0], "segments": [{"id": 0, "text": ""}]}]}, "at least 1 character"),
        (
            {"corrections": [{"replaces": [0], "segments": [{"id": 0, "text": "x", "html": "<b>"}]}]},
            "unknown key",
        ),
        ({"decisions": [{"action": "delete", "id": "0:0:3"}]}, "'action' must be one of"),
    ],
)
def test_schema_refuses_malformed_entries_without_quoting_values(change: dict, message: str) -> None:
    with pytest.raises(ValueError) as e:
        parse({**V1, "version": 2, **change})
    assert message in str(e.value)
    assert "<b>" not in str(e.value) and "delete" not in str(e.value)


@pytest.mark.parametrize(
    "group, message",
    [
        ({"replaces": [7], "segments": []}, "unknown segment id"),
        ({"replaces": [0, 2], "segments": []}, "consecutive"),
        ({"replaces": [1, 0], "segments": []}, "consecutive"),
        ({"replaces": [0], "segments": [{"id": 1, "text": "x"}]}, "id 1 is taken"),
        ({"replaces": [0], "segments": [{"id": 0, "text": "x", "speaker": "S9"}]}, "unknown speaker"),
        ({"replaces": [0], "segments": [{"id": 0, "text": "  "}]}, "no text"),
    ],
)
def test_corrections_are_checked_against_the_interview(group: dict, message: str) -> None:
    with pytest.raises(ReviewError, match=message):
        check_corrections("d.json", _groups(group), RAW)


def test_two_corrections_of_one_segment_are_refused() -> None:
    gs = _groups({"replaces": [0], "segments": []}, {"replaces": [0, 1], "segments": []})
    with pytest.raises(ReviewError, match="replaced by two corrections"):
        check_corrections("d.json", gs, RAW)


def test_edit_keeps_times_of_unchanged_words_and_spreads_new_ones() -> None:
    out = apply_corrections(
        RAW, _groups({"replaces": [1], "segments": [{"id": 1, "text": "four FIVE AND A HALF six"}]})
    )
    seg = out.segments[1]
    assert [w.text.strip() for w in seg.words] == ["four", "FIVE", "AND", "A", "HALF", "six"]
    four, six = RAW.segments[1].words[0], RAW.segments[1].words[2]
    assert (seg.words[0].start, seg.words[0].end) == (four.start, four.end)
    assert (seg.words[5].start, seg.words[5].end) == (six.start, six.end)
    new = seg.words[1:5]
    assert new[0].start == four.end and new[-1].end == six.start  # spread over the gap
    assert all(a.end == b.start for a, b in zip(new, new[1:]))
    assert all(w.probability == 1.0 for w in new) and seg.words[0].probability == 0.9
    assert RAW.segments[1].text == "four five six"  # the input is not changed


def test_split_merge_delete_speaker_and_overlap() -> None:
    gs = _groups(
        {"replaces": [0, 1], "segments": [{"id": 0, "text": "one two"}, {"id": 9, "text": "three four five six", "speaker": "S2", "overlap": True}]},
        {"replaces": [2], "segments": []},
    )  # fmt: skip
    out = apply_corrections(RAW, gs)
    assert [s.id for s in out.segments] == [0, 9]
    a, b = out.segments
    assert (a.start, a.end) == (0.0, 1.8) and a.speaker == "S1"
    assert b.start == 2.0 and b.end == 12.8 and b.speaker == "S2" and b.overlap
    assert all(w.speaker == "S2" for w in b.words)
    counts = correction_counts(RAW, gs)
    assert counts["deleted"] == 1 and counts["merged"] == 0 and counts["speaker_changed"] == 1


def test_align_words_without_old_words_spreads_over_the_span() -> None:
    ws = align_words([], ["a", "b"], 4.0, 6.0)
    assert [(w.start, w.end) for w in ws] == [(4.0, 5.0), (5.0, 6.0)]


# ---------------------------------------------------------------------------------------------
# apply-review with corrections, on the hand-made folder of test_review_decisions


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    from pipeline.review.common import REDACTIONS_NAME
    from pipeline.store import Layout, atomic_write_json, atomic_write_text

    out = tmp_path / "OUT"
    layout = Layout(out)
    layout.create()
    atomic_write_text(layout.restricted("int-a") / "transcript.json", RAW.to_json())
    atomic_write_json(
        layout.restricted("int-a") / REDACTIONS_NAME, {"interview_id": "int-a", "redactions": []}
    )
    atomic_write_json(layout.manifest_path, {"manifest_version": 1, "interviews": {}})
    return out


@pytest.mark.parametrize(
    "corrections, message",
    [
        ([{"replaces": [0, 2], "segments": []}], "consecutive"),
        ([{"replaces": [0], "segments": [{"id": 1, "text": "x"}]}], "is taken"),
        ([{"replaces": [0], "segments": [{"id": 0, "text": 5}]}], "valid string"),
    ],
)
def test_apply_review_refuses_malformed_corrections_and_nothing_changes(
    folder: Path, tmp_path: Path, corrections: list, message: str
) -> None:
    from pipeline.config import PipelineConfig
    from pipeline.review import apply_review, state_hash
    from pipeline.review.common import load_interview
    from pipeline.store import Layout

    raw, reds = load_interview(Layout(folder), "int-a")
    d = {
        **V1,
        "version": 2,
        "decisions": [],
        "state_sha256": state_hash(raw, reds),
        "corrections": corrections,
    }
    path = tmp_path / "d.json"
    path.write_text(json.dumps(d), encoding="utf-8")
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.name != ".lock"}
    with pytest.raises(ReviewError, match=message):
        apply_review(folder, path, PipelineConfig())
    after = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before
