"""apply_decisions: rejected replacements restored, missed spans added with the project key's
pseudonyms, text and words of the shareable transcript re-rendered from the raw text.

Uses the real key and pseudonym assigner of the deid library (no Presidio needed): the fixture
assigns the detector's pseudonyms the way the Deidentifier does.
"""

from __future__ import annotations

import pytest

from pipeline.deid.config import DeidentifyConfig
from pipeline.deid.gazetteer import load_name_gazetteer
from pipeline.deid.key import PseudonymKey
from pipeline.deid.pseudonyms import Detection, PseudonymAssigner
from pipeline.deid.rewrite import rewrite_segment
from pipeline.review.render import apply_decisions, final_spans
from pipeline.schema import Redaction, Segment, Speaker, Transcript, Word

CONFIG = DeidentifyConfig()


def seg(sid: int, text: str, t0: float = 0.0) -> Segment:
    words = [
        Word(t0 + k * 0.5, t0 + k * 0.5 + 0.4, " " + w, 0.9, "S2") for k, w in enumerate(text.split(" "))
    ]
    return Segment(sid, t0, t0 + len(words) * 0.5, text, "S2", words)


def transcript(iid: str, texts: list[str]) -> Transcript:
    return Transcript(
        iid,
        "en",
        [seg(i, t, i * 10.0) for i, t in enumerate(texts)],
        [Speaker("S1", "Interviewer", "interviewer"), Speaker("S2", "Participant")],
    )


def find(t: Transcript, sid: int, value: str, nth: int = 0) -> tuple[int, int]:
    start = -1
    for _ in range(nth + 1):
        start = t.segments[sid].text.index(value, start + 1)
    return start, start + len(value)


def deidentify_like_engine(t: Transcript, found: list[tuple[int, str, str]], key: PseudonymKey):
    """What the Deidentifier hands over: the shareable transcript and redactions, the key updated."""
    dets = [Detection(sid, *find(t, sid, v), et, 0.8, "spacy_ner", v) for sid, v, et in found]
    PseudonymAssigner(CONFIG, key, load_name_gazetteer(()), t.interview_id).assign(dets)
    reds = [
        Redaction(
            t.segments[d.segment].id,
            d.start,
            d.end,
            d.text,
            d.entity_type,
            d.score,
            d.recognizer,
            d.replacement,
        )
        for d in dets
    ]
    segs = [
        rewrite_segment(s, [(r.start, r.end, r.replacement, r.text) for r in reds if r.segment_id == s.id])
        for s in t.segments
    ]
    return Transcript(t.interview_id, t.language, segs, t.speakers, provenance={"deidentify": {"v": 1}}), reds


RAW = transcript(
    "int-a",
    [
        "My name is Anna Jensen and I live at 12 Aarhus Road.",
        "Peter said that Peter would come.",
        "Call 555 0123 now, Anna knows.",
    ],
)
FOUND = [(0, "Anna Jensen", "PERSON"), (0, "Aarhus", "LOCATION"), (2, "555 0123", "PHONE_NUMBER")]


def rej(t: Transcript, sid: int, value: str) -> dict:
    s, e = find(t, sid, value)
    return {"action": "reject", "segment_id": sid, "start": s, "end": e, "text": value}


def add(t: Transcript, sid: int, value: str, etype: str = "PERSON", nth: int = 0) -> dict:
    s, e = find(t, sid, value, nth)
    return {"action": "add", "segment_id": sid, "start": s, "end": e, "text": value, "entity_type": etype}


def stored(*items: dict) -> dict:
    return {"decisions": {f"{d['segment_id']}:{d['start']}:{d['end']}": d for d in items}}


@pytest.fixture()
def engine_output():
    key = PseudonymKey()
    shareable, reds = deidentify_like_engine(RAW, FOUND, key)
    assert [s.text for s in shareable.segments] == [
        "My name is [PERSON_1] and I live at 12 [PLACE_1] Road.",
        "Peter said that Peter would come.",
        "Call [PHONE_1] now, Anna knows.",
    ]
    return key, shareable, reds


@pytest.mark.parametrize(
    "decisions, expected",
    [
        pytest.param(
            [rej(RAW, 0, "Aarhus")],
            [
                "My name is [PERSON_1] and I live at 12 Aarhus Road.",
                "Peter said that Peter would come.",
                "Call [PHONE_1] now, Anna knows.",
            ],
            id="reject-restores-original",
        ),
        pytest.param(
            [add(RAW, 1, "Peter")],
            [
                "My name is [PERSON_1] and I live at 12 [PLACE_1] Road.",
                "[PERSON_2] said that Peter would come.",
                "Call [PHONE_1] now, Anna knows.",
            ],
            id="add-one-occurrence",
        ),
        pytest.param(
            [add(RAW, 1, "Peter"), add(RAW, 1, "Peter", nth=1)],
            [
                "My name is [PERSON_1] and I live at 12 [PLACE_1] Road.",
                "[PERSON_2] said that [PERSON_2] would come.",
                "Call [PHONE_1] now, Anna knows.",
            ],
            id="same-value-same-pseudonym",
        ),
        pytest.param(
            [add(RAW, 2, "Anna")],
            [
                "My name is [PERSON_1] and I live at 12 [PLACE_1] Road.",
                "Peter said that Peter would come.",
                "Call [PHONE_1] now, [PERSON_1] knows.",
            ],
            id="marked-first-name-joins-the-person-found",
        ),
        pytest.param(
            [add(RAW, 0, "12 Aarhus Road", "STREET_ADDRESS")],
            [
                "My name is [PERSON_1] and I live at [ADDRESS_1].",
                "Peter said that Peter would come.",
                "Call [PHONE_1] now, Anna knows.",
            ],
            id="add-over-a-detection-replaces-it",
        ),
        pytest.param(
            [{**add(RAW, 0, "Aarhus Road", "STREET_ADDRESS"), "start": find(RAW, 0, "Aarhus Road")[0] + 3}],
            [
                "My name is [PERSON_1] and I live at 12 [PLACE_1] Road.",
                "Peter said that Peter would come.",
                "Call [PHONE_1] now, Anna knows.",
            ],
            id="stale-add-is-skipped",
        ),
        pytest.param(
            [{**rej(RAW, 0, "Anna Jensen"), "text": "Anna Larsen"}],
            [
                "My name is [PERSON_1] and I live at 12 [PLACE_1] Road.",
                "Peter said that Peter would come.",
                "Call [PHONE_1] now, Anna knows.",
            ],
            id="stale-reject-is-skipped",
        ),
    ],
)
def test_apply_decisions(engine_output, decisions: list[dict], expected: list[str]) -> None:
    key, shareable, reds = engine_output
    out, final = apply_decisions(RAW, shareable, reds, stored(*decisions), key, CONFIG)
    assert [s.text for s in out.segments] == expected
    for s in out.segments:  # the words say what the text says, timings from the raw words
        assert " ".join(w.text.strip() for w in s.words) == s.text
    for r in final:
        assert RAW.segments[r.segment_id].text[r.start : r.end] == r.text
    added = [d for d in decisions if d["action"] == "add"]
    if added and not out.provenance.get("review", {"stale": 1})["stale"]:
        assert {r.recognizer for r in final} >= {"reviewer"}


def test_same_name_gets_same_pseudonym_across_interviews() -> None:
    key = PseudonymKey()
    other = transcript("int-b", ["My colleague Peter helped."])
    deidentify_like_engine(other, [(0, "Peter", "PERSON")], key)  # int-b first: Peter is [PERSON_1]
    shareable, reds = deidentify_like_engine(RAW, FOUND, key)
    out, final = apply_decisions(RAW, shareable, reds, stored(add(RAW, 1, "Peter")), key, CONFIG)
    assert out.segments[1].text == "[PERSON_1] said that Peter would come."
    assert "Peter" in key.lookup("[PERSON_1]")


def test_rejected_span_restored_in_words_with_timing(engine_output) -> None:
    key, shareable, reds = engine_output
    out, final = apply_decisions(RAW, shareable, reds, stored(rej(RAW, 0, "Anna Jensen")), key, CONFIG)
    words, raw_words = out.segments[0].words, RAW.segments[0].words
    assert [(w.start, w.text) for w in words[:5]] == [(w.start, w.text) for w in raw_words[:5]]
    assert len(final) == len(reds) - 1
    assert out.provenance["review"] == {"rejected": 1, "added": 0, "stale": 0}
    assert out.provenance["deidentify"] == {"v": 1}
    assert out.segments[1] == shareable.segments[1], "untouched segments are left as the stage wrote them"


def test_added_multiword_span_becomes_one_word(engine_output) -> None:
    key, shareable, reds = engine_output
    out, _ = apply_decisions(RAW, shareable, reds, stored(add(RAW, 1, "Peter said")), key, CONFIG)
    first = out.segments[1].words[0]
    assert first.text == " [PERSON_2]" and first.start == RAW.segments[1].words[0].start
    assert first.end == RAW.segments[1].words[1].end


def test_no_decisions_or_accepts_only_return_the_inputs(engine_output) -> None:
    key, shareable, reds = engine_output
    accept = {**rej(RAW, 0, "Aarhus"), "action": "accept"}
    for decisions in (None, {}, {"decisions": {}}, stored(accept)):
        out, final = apply_decisions(RAW, shareable, reds, decisions, key, CONFIG)
        assert out is shareable and final is reds


def test_speaker_label_redactions_pass_through(engine_output) -> None:
    key, shareable, reds = engine_output
    label = Redaction(-1, 0, 4, "Anna", "PERSON", 1.0, "SpeakerLabel", "[PERSON_1]")
    out, final = apply_decisions(RAW, shareable, [label, *reds], stored(rej(RAW, 0, "Aarhus")), key, CONFIG)
    assert label in final


def test_offsets_are_code_points_even_with_astral_characters() -> None:
    raw = transcript("int-e", ["😀 hi Anna"])
    d = {"action": "add", "segment_id": 0, "start": 5, "end": 9, "text": "Anna", "entity_type": "PERSON"}
    [r], counts = final_spans(raw, [], stored(d), PseudonymKey(), CONFIG)
    assert (r.start, r.end, r.text, counts["added"]) == (5, 9, "Anna", 1)
