"""Reading existing transcripts (JSON or 'Speaker: text') and writing the deidentify outputs."""

from __future__ import annotations

import json
import stat

import pytest

from pipeline.schema import Redaction, SchemaError, Segment, Speaker, Transcript
from pipeline.stages.deidentify import parse_text_transcript, read_transcript_file, write_deidentified


@pytest.mark.parametrize(
    "text, labels, texts, starts",
    [
        (
            "Interviewer: Hello.\nAnna: Hi there.\n",
            ["Interviewer", "Anna"],
            ["Hello.", "Hi there."],
            [0.0, 0.0],
        ),
        ("I: Q1\nR: A1\nI: Q2\n", ["I", "R"], ["Q1", "A1", "Q2"], [0.0, 0.0, 0.0]),
        (
            "P1: one\n  and more\n\nP2: two: with colon\n",
            ["P1", "P2"],
            ["one and more", "two: with colon"],
            [0.0, 0.0],
        ),
        (
            "[00:01:05] Interviewer: a\n[00:01:30] Participant: b\n",
            ["Interviewer", "Participant"],
            ["a", "b"],
            [65.0, 90.0],
        ),
    ],
)
def test_text_transcript_lines_become_segments(text, labels, texts, starts):
    t = parse_text_transcript(text, "x")
    assert [s.label for s in t.speakers] == labels
    assert [s.id for s in t.speakers] == [f"S{i + 1}" for i in range(len(labels))]
    assert [s.text for s in t.segments] == texts
    assert [s.start for s in t.segments] == starts
    assert [s.id for s in t.segments] == list(range(len(texts)))


def test_roles_from_labels():
    t = parse_text_transcript("Interviewer: a\nParticipant: b\nAnna: c\n", "x")
    assert [s.role for s in t.speakers] == ["interviewer", "participant", "unknown"]


def test_interview_id_is_the_slugified_stem(tmp_path):
    path = tmp_path / "Interview Ålborg 03.txt"
    path.write_text("Interviewer: hi\n", encoding="utf-8")
    assert read_transcript_file(path).interview_id == "interview-alborg-03"


def test_transcript_json_is_read(tmp_path):
    t = Transcript("int-9", "en", [Segment(0, 0.0, 1.0, "Hello", "S1")], [Speaker("S1", "Interviewer")])
    path = tmp_path / "t.json"
    path.write_text(t.to_json(), encoding="utf-8")
    assert read_transcript_file(path) == t


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("a.bin", b"\x00\x01\x02garbage\xff", "binary"),
        ("b.txt", b"\xff\xfe\xfa not utf-8 \xc3", "UTF-8"),
        ("c.json", b'{"schema_version": "1.0", "interview_id": ', "invalid JSON"),
        ("d.json", b'{"schema_version": "9.9", "interview_id": "x"}', "schema_version"),
        ("e.txt", b"just some prose without any speaker label at all\n", "not a 'Speaker: text' line"),
        ("f.txt", b"", "no 'Speaker: text' lines"),
        ("g.json", b"[1, 2, 3]", "not a transcript object"),
    ],
)
def test_garbage_input_is_a_one_line_schema_error_naming_the_file(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SchemaError) as exc:
        read_transcript_file(path)
    msg = str(exc.value)
    assert msg.startswith(str(path)) and reason in msg and "\n" not in msg


def test_write_deidentified_files_and_modes(tmp_path):
    t = Transcript(
        "int-1",
        "en",
        [
            Segment(0, 0, 1, "Hello [PERSON_1].", "S1"),
            Segment(1, 1, 2, "Hi.", "S2"),
            Segment(2, 2, 3, "Yes.", "S2"),
        ],
        [Speaker("S1", "Interviewer", "interviewer"), Speaker("S2", "[PERSON_1]")],
    )
    reds = [Redaction(0, 6, 10, "Anna", "PERSON", 0.9, "GazetteerNameRecognizer", "[PERSON_1]")]
    write_deidentified(t, reds, tmp_path / "restricted" / "int-1", tmp_path / "shareable" / "int-1")
    log = json.loads((tmp_path / "restricted" / "int-1" / "redactions.json").read_text())
    assert log["interview_id"] == "int-1" and log["redactions"][0]["text"] == "Anna"
    share = tmp_path / "shareable" / "int-1"
    assert Transcript.load(share / "transcript.json") == t
    assert (
        share / "transcript.txt"
    ).read_text() == "Interviewer: Hello [PERSON_1].\n\n[PERSON_1]: Hi. Yes.\n"
    for f in (
        share / "transcript.json",
        share / "transcript.txt",
        tmp_path / "restricted" / "int-1" / "redactions.json",
    ):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert "Anna" not in (share / "transcript.json").read_text() + (share / "transcript.txt").read_text()
