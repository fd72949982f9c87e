"""The Deidentifier end to end: known names, allow lists, consistent pseudonyms, words, no leaks."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from pipeline.deid.config import DeidentifyConfig
from pipeline.deid.key import PseudonymKey
from pipeline.schema import Segment, Speaker, Transcript, Word
from pipeline.stages.deidentify import transcript_text, write_deidentified

SAMPLES = Path(__file__).resolve().parents[1] / "audio_samples"


@pytest.fixture(scope="module")
def engine():
    from pipeline.deid.engine import Deidentifier

    return Deidentifier(
        DeidentifyConfig(
            known_names=["Anna Jensen", "Mette Kjærgaard"],
            allow_list=["Sarah Lund", "Westfield Programme"],
            interviews={"int-7": {"known_names": ["Bodil Skov"]}},
        )
    )


def transcript(iid: str, *texts: str) -> Transcript:
    segs = [Segment(i, float(i), float(i) + 1, t, "S2" if i % 2 else "S1") for i, t in enumerate(texts)]
    return Transcript(
        iid, "en", segs, [Speaker("S1", "Interviewer", "interviewer"), Speaker("S2", "Participant")]
    )


def pseudonyms_of(reds, original: str) -> set[str]:
    return {r.replacement for r in reds if r.text.lower() == original.lower()}


@pytest.mark.parametrize(
    "text, planted",
    [
        ("I talked to Anna Jensen yesterday.", "Anna Jensen"),
        ("i talked to anna jensen yesterday.", "anna jensen"),
        ("I talked to Anna Jenson yesterday.", "Jenson"),  # Whisper misspelling
        ("I talked to Ana Jensen yesterday.", "Ana"),
        ("we met mette kjaergaard at the bus stop", "kjaergaard"),  # lower case, ASCII spelling
        ("Mette Kjærgård said no.", "Kjærgård"),
    ],
)
def test_known_names_are_caught_in_any_case_and_misspelt(engine, text, planted):
    shareable, reds = engine.deidentify(transcript("int-1", text), PseudonymKey())
    assert planted not in shareable.segments[0].text
    assert any(r.entity_type == "PERSON" for r in reds)


def test_per_interview_known_names_apply_to_that_interview_only(engine):
    text = "then bodil skov came in"
    in_7, _ = engine.deidentify(transcript("int-7", text), PseudonymKey())
    assert "bodil" not in in_7.segments[0].text and "skov" not in in_7.segments[0].text


def test_allow_list_is_never_replaced(engine):
    text = "Sarah Lund from the Westfield Programme asked Anna Jensen about it."
    shareable, reds = engine.deidentify(transcript("int-1", text), PseudonymKey())
    out = shareable.segments[0].text
    assert "Sarah Lund" in out and "Westfield Programme" in out and "Anna Jensen" not in out
    assert not any("Sarah" in r.text or "Westfield" in r.text for r in reds)


def test_first_name_and_title_surname_join_the_full_name(engine):
    key = PseudonymKey()
    t = transcript(
        "int-1",
        "Anna said hello first.",
        "My colleague Anna Jensen runs the desk.",
        "Ms Jensen was tired, and Anna knew it.",
    )
    shareable, reds = engine.deidentify(t, key)
    assert pseudonyms_of(reds, "Anna") == pseudonyms_of(reds, "Anna Jensen") == pseudonyms_of(reds, "Jensen")
    assert "Ms [PERSON_1] was tired" in shareable.segments[2].text
    assert len(key.people) == 1


def test_same_person_gets_same_pseudonym_across_interviews(engine):
    key = PseudonymKey()
    _, r1 = engine.deidentify(transcript("int-1", "My name is Lars Holm. Peter Berg is my neighbour."), key)
    _, r2 = engine.deidentify(transcript("int-2", "I work with Lars Holm every day."), key)
    assert pseudonyms_of(r1, "Lars Holm") == pseudonyms_of(r2, "Lars Holm")
    assert pseudonyms_of(r1, "Lars Holm") != pseudonyms_of(r1, "Peter Berg")


def test_other_values_are_keyed_consistently(engine):
    key = PseudonymKey()
    _, r1 = engine.deidentify(transcript("int-1", "Ring me on 45 22 31 90."), key)
    _, r2 = engine.deidentify(transcript("int-2", "The number was 45-22-31-90, I think."), key)
    assert {r.replacement for r in r1 if r.entity_type == "PHONE_NUMBER"} == {"[PHONE_1]"}
    assert {r.replacement for r in r2 if r.entity_type == "PHONE_NUMBER"} == {"[PHONE_1]"}


def test_pseudonyms_are_deterministic(engine):
    texts = ("I'm Tom Becker and I live at 27 Willow Lane.", "Tom, Anna and Peter Berg came by.")
    a, _ = engine.deidentify(transcript("int-1", *texts), PseudonymKey())
    b, _ = engine.deidentify(transcript("int-1", *texts), PseudonymKey())
    assert a.to_dict() == b.to_dict()


def test_words_take_the_replacement_and_keep_timing(engine):
    words = [
        Word(0.0, 0.4, " I"),
        Word(0.4, 0.8, " met"),
        Word(0.8, 1.2, " Anna"),
        Word(1.2, 1.7, " Jensen's"),
        Word(1.7, 2.0, " dog."),
    ]
    seg = Segment(0, 0.0, 2.0, " I met Anna Jensen's dog.", "S2", words)
    t = Transcript("int-1", "en", [seg], [Speaker("S2", "Participant")])
    shareable, reds = engine.deidentify(t, PseudonymKey())
    out = shareable.segments[0]
    assert out.text == " I met [PERSON_1]'s dog."
    assert [w.text for w in out.words] == [" I", " met", " [PERSON_1]'s", " dog."]
    assert (out.words[2].start, out.words[2].end) == (0.8, 1.7)
    assert (reds[0].segment_id, reds[0].start, reds[0].end, reds[0].text) == (0, 7, 18, "Anna Jensen")
    assert "".join(w.text for w in out.words) == out.text
    assert t.segments[0].text == " I met Anna Jensen's dog."  # input untouched


def test_redactions_point_into_the_raw_segment(engine):
    t = transcript("int-1", "Hello.", "I'm Tom Becker, mail tom.becker@example.com or call 312 555 0164.")
    _, reds = engine.deidentify(t, PseudonymKey())
    for r in reds:
        assert t.segments[r.segment_id].text[r.start : r.end] == r.text
        assert r.replacement and r.recognizer and 0 < r.score <= 1


def test_surrogate_style_uses_realistic_names(engine):
    from pipeline.deid.engine import Deidentifier

    surrogate = Deidentifier(DeidentifyConfig(pseudonym_style="surrogate"))
    key = PseudonymKey()
    shareable, reds = surrogate.deidentify(transcript("int-1", "Anna Jensen came, then Anna left."), key)
    out = shareable.segments[0].text
    full = pseudonyms_of(reds, "Anna Jensen").pop()
    first = pseudonyms_of(reds, "Anna").pop()
    assert "[" not in out and "Anna" not in out and "Jensen" not in out
    assert full.split()[0] == first and len(full.split()) == 2


def test_date_replace_mode_labels_the_whole_date():
    from pipeline.deid.engine import Deidentifier

    replacer = Deidentifier(DeidentifyConfig(dates="replace", ages="band"))
    shareable, _ = replacer.deidentify(
        transcript("int-1", "On the 2nd of June 2022 I was 34."), PseudonymKey()
    )
    assert shareable.segments[0].text == "On [DATE_1] I was [30-39]."


def test_provenance_records_options_not_values(engine):
    shareable, _ = engine.deidentify(transcript("int-1", "Anna Jensen."), PseudonymKey())
    info = shareable.provenance["deidentify"]
    assert info["pseudonym_style"] == "label" and info["replacements"] == 1
    assert "Anna" not in json.dumps(shareable.provenance) and "Sarah" not in json.dumps(shareable.provenance)


def _sample(n: int) -> tuple[Transcript, list[dict]]:
    ref = json.loads((SAMPLES / f"interview_0{n}.reference.json").read_text(encoding="utf-8"))
    segs = [Segment(i, t["start"], t["end"], t["text"], t["speaker"]) for i, t in enumerate(ref["turns"])]
    speakers = [Speaker(sid, sid, info["role"]) for sid, info in ref["speakers"].items()]
    return Transcript(ref["interview"], "en", segs, speakers), ref["planted"]


@pytest.mark.skipif(
    not (SAMPLES / "interview_01.reference.json").exists(), reason="sample interviews not present"
)
def test_sample_interviews_leave_no_planted_value_anywhere(tmp_path, caplog):
    from pipeline.deid.engine import Deidentifier

    caplog.set_level(logging.DEBUG)
    engine = Deidentifier(DeidentifyConfig())  # no known names: detection alone must find them
    key = PseudonymKey()
    planted_all, pseudonyms = [], []
    for n in (1, 2):
        t, planted = _sample(n)
        shareable, reds = engine.deidentify(t, key)
        write_deidentified(
            shareable, reds, tmp_path / "restricted" / t.interview_id, tmp_path / "shareable" / t.interview_id
        )
        planted_all += planted
        pseudonyms.append(pseudonyms_of(reds, "Anna Jensen"))
    key.save(tmp_path / "restricted" / "key.json")
    assert pseudonyms[0] == pseudonyms[1] and len(pseudonyms[0]) == 1  # same person, same pseudonym
    shared = "".join(
        p.read_text(encoding="utf-8") for p in (tmp_path / "shareable").rglob("*") if p.is_file()
    )
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for item in planted_all:
        for value in {item["value"], *item["forms"][:1]}:
            pattern = rf"(?<!\w){re.escape(value)}(?!\w)"
            assert not re.search(pattern, shared, re.IGNORECASE), f"{item['type']} left in shareable/"
            assert not re.search(pattern, logs, re.IGNORECASE), f"{item['type']} in a log line"


def test_no_planted_value_in_any_log_record(engine, caplog):
    caplog.set_level(logging.DEBUG)
    planted = ["Bodil Skov", "45 22 31 90", "bodil.skov@example.com", "Kildevej 12", "120385-1234"]
    t = transcript(
        "int-7",
        "Hi.",
        f"I'm {planted[0]}, phone {planted[1]}, mail {planted[2]}.",
        f"I live at {planted[3]}, CPR {planted[4]}.",
    )
    shareable, reds = engine.deidentify(t, PseudonymKey())
    assert len(reds) >= len(planted)
    text = transcript_text(shareable)
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args}" for r in caplog.records)
    assert caplog.records  # the stage did log
    for value in planted:
        assert value not in logged
        assert value not in text
