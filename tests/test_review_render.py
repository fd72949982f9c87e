"""apply_decisions: rejected replacements restored, missed spans added with consistent pseudonyms,
text and words of the shareable transcript re-rendered from the raw text (pure logic, table-driven)."""

from __future__ import annotations

import pytest

from pipeline.review.render import align_words, apply_decisions, final_spans, pseudonym_for, render_words
from pipeline.schema import Redaction, Segment, Speaker, Transcript, Word


class CountingKey:
    """A stand-in with the key method name the adapter uses: one pseudonym per (type, value)."""

    def __init__(self, known: dict[tuple[str, str], str] | None = None):
        self.map = dict(known or {})

    def pseudonym(self, entity_type: str, value: str) -> str:
        k = (entity_type, value.casefold())
        if k not in self.map:
            n = sum(t == entity_type for t, _ in self.map) + 1
            self.map[k] = f"[{entity_type}_{n}]"
        return self.map[k]


def seg(sid: int, text: str, t0: float = 0.0) -> Segment:
    words, t = [], t0
    for w in text.split(" "):
        words.append(Word(t, t + 0.4, " " + w, 0.9, "S2"))
        t += 0.5
    return Segment(sid, t0, t, text, "S2", words)


RAW = Transcript(
    "int-a",
    "en",
    [
        seg(0, "My name is Anna Jensen and I live in Aarhus."),
        seg(1, "Peter said that Peter would come.", 5.0),
        seg(2, "Call 555 0123 now.", 9.0),
    ],
    [Speaker("S1", "Interviewer", "interviewer"), Speaker("S2", "Participant")],
)


def red(sid: int, value: str, etype: str, rep: str, nth: int = 0) -> Redaction:
    text = RAW.segments[sid].text
    start = -1
    for _ in range(nth + 1):
        start = text.index(value, start + 1)
    return Redaction(sid, start, start + len(value), value, etype, 0.8, "spacy_ner", rep)


REDS = [
    red(0, "Anna Jensen", "PERSON", "[PERSON_1]"),
    red(0, "Aarhus", "LOCATION", "[PLACE_1]"),
    red(2, "555 0123", "PHONE_NUMBER", "[PHONE_1]"),
]


def shareable_from(reds: list[Redaction]) -> Transcript:
    from pipeline.review.render import render_text

    out = Transcript(RAW.interview_id, RAW.language, [], RAW.speakers, provenance={"deidentify": {"v": 1}})
    for s in RAW.segments:
        spans = [r for r in reds if r.segment_id == s.id]
        out.segments.append(
            Segment(s.id, s.start, s.end, render_text(s.text, spans), s.speaker, render_words(s, spans))
        )
    return out


def rej(r: Redaction) -> dict:
    return {"action": "reject", "segment_id": r.segment_id, "start": r.start, "end": r.end, "text": r.text}


def add(sid: int, value: str, etype: str = "PERSON", nth: int = 0) -> dict:
    r = red(sid, value, etype, "", nth)
    return {
        "action": "add",
        "segment_id": sid,
        "start": r.start,
        "end": r.end,
        "text": value,
        "entity_type": etype,
    }


def stored(*items: dict) -> dict:
    return {"decisions": {f"{d['segment_id']}:{d['start']}:{d['end']}": d for d in items}}


@pytest.mark.parametrize(
    "decisions, expected_texts",
    [
        pytest.param(
            stored(rej(REDS[1])),
            [
                "My name is [PERSON_1] and I live in Aarhus.",
                "Peter said that Peter would come.",
                "Call [PHONE_1] now.",
            ],
            id="reject-restores-original",
        ),
        pytest.param(
            stored(add(1, "Peter")),
            [
                "My name is [PERSON_1] and I live in [PLACE_1].",
                "[PERSON_2] said that Peter would come.",
                "Call [PHONE_1] now.",
            ],
            id="add-one-occurrence",
        ),
        pytest.param(
            stored(add(1, "Peter"), add(1, "Peter", nth=1)),
            [
                "My name is [PERSON_1] and I live in [PLACE_1].",
                "[PERSON_2] said that [PERSON_2] would come.",
                "Call [PHONE_1] now.",
            ],
            id="same-value-same-pseudonym",
        ),
        pytest.param(
            stored(add(0, "Jensen and I")),
            [
                "My name is [PERSON_2] live in [PLACE_1].",
                "Peter said that Peter would come.",
                "Call [PHONE_1] now.",
            ],
            id="overlapping-add-grows-to-cover-detection",
        ),
        pytest.param(
            stored({**rej(REDS[0]), "text": "Anna Larsen"}),
            [
                "My name is [PERSON_1] and I live in [PLACE_1].",
                "Peter said that Peter would come.",
                "Call [PHONE_1] now.",
            ],
            id="stale-reject-is-ignored",
        ),
    ],
)
def test_apply_decisions_renders_text(decisions: dict, expected_texts: list[str]) -> None:
    # The key already knows Anna Jensen as [PERSON_1]: a new person gets a new number, unless it is her.
    key = CountingKey({("PERSON", "anna jensen"): "[PERSON_1]"})
    out, final = apply_decisions(RAW, shareable_from(REDS), REDS, decisions, key)
    assert [s.text for s in out.segments] == expected_texts
    for s in out.segments:  # words carry the same text as the segment
        assert " ".join(w.text.strip() for w in s.words) == s.text
    for r in final:
        assert RAW.segments[r.segment_id].text[r.start : r.end] == r.text


def test_pseudonyms_for_added_spans_come_from_the_key_consistently() -> None:
    key = CountingKey({("PERSON", "peter"): "[PERSON_7]"})
    out, final = apply_decisions(
        RAW, shareable_from(REDS), REDS, stored(add(1, "Peter"), add(1, "Peter", nth=1)), key
    )
    assert out.segments[1].text == "[PERSON_7] said that [PERSON_7] would come."
    added = [r for r in final if r.recognizer == "reviewer"]
    assert [(r.entity_type, r.replacement, r.score) for r in added] == [("PERSON", "[PERSON_7]", 1.0)] * 2


def test_no_decisions_returns_inputs_unchanged() -> None:
    share = shareable_from(REDS)
    for decisions in (None, {}, {"decisions": {}}):
        out, final = apply_decisions(RAW, share, REDS, decisions, CountingKey())
        assert out is share and final is REDS


def test_accept_only_changes_nothing() -> None:
    share = shareable_from(REDS)
    d = {**rej(REDS[0]), "action": "accept"}
    out, final = apply_decisions(RAW, share, REDS, stored(d), CountingKey())
    assert out is share and final is REDS


def test_rejected_span_restored_in_words_with_timing() -> None:
    out, final = apply_decisions(RAW, shareable_from(REDS), REDS, stored(rej(REDS[0])), CountingKey())
    words = out.segments[0].words
    assert [w.text for w in words] == [w.text for w in RAW.segments[0].words[:-1]] + [" [PLACE_1]."]
    assert words[3].text == " Anna" and words[3].start == RAW.segments[0].words[3].start
    assert len(final) == 2 and out.provenance["review"] == {"rejected": 1, "added": 0, "stale": 0}
    assert out.provenance["deidentify"] == {"v": 1}


def test_multiword_span_becomes_one_word_first_start_last_end() -> None:
    s = RAW.segments[0]
    spans = [REDS[0]]
    words = render_words(s, spans)
    i = [w.text for w in words].index(" [PERSON_1]")
    assert words[i].start == s.words[3].start and words[i].end == s.words[4].end
    assert len(words) == len(s.words) - 1
    assert not any("Anna" in w.text or "Jensen" in w.text for w in words)


@pytest.mark.parametrize(
    "text, words, expected",
    [
        ("Hi Anna.", [" Hi", " Anna."], [(0, 2), (3, 8)]),
        (" Hi  there", ["Hi", " there"], [(1, 3), (5, 10)]),
        ("Hi Anna", [" Hi", " Bob"], None),
        ("a b", [" a", "", " b"], [(0, 1), (1, 1), (2, 3)]),
    ],
)
def test_align_words(text: str, words: list[str], expected) -> None:
    assert align_words(text, [Word(0, 1, w) for w in words]) == expected


def test_words_that_do_not_line_up_never_keep_a_raw_value() -> None:
    s = Segment(
        0, 1.0, 3.0, "I am Anna Jensen.", "S2", [Word(1.0, 1.5, " I'm"), Word(1.5, 3.0, " Anna Jenssen.")]
    )
    r = Redaction(0, 5, 16, "Anna Jensen", "PERSON", 0.9, "x", "[PERSON_1]")
    words = render_words(s, [r])
    assert [(w.start, w.end, w.text) for w in words] == [(1.0, 3.0, " I am [PERSON_1].")]


def test_partial_word_span_keeps_the_rest_of_the_word() -> None:
    s = Segment(0, 0, 2, "Anna's car", None, [Word(0, 1, " Anna's"), Word(1, 2, " car")])
    words = render_words(s, [Redaction(0, 0, 4, "Anna", "PERSON", 0.9, "x", "[PERSON_1]")])
    assert [w.text for w in words] == [" [PERSON_1]'s", " car"]


def test_offsets_are_code_points_even_with_astral_characters() -> None:
    raw = Transcript("int-e", "en", [Segment(0, 0, 1, "😀 hi Anna", None, [])])
    r = final_spans(
        raw,
        [],
        stored(
            {"action": "add", "segment_id": 0, "start": 5, "end": 9, "text": "Anna", "entity_type": "PERSON"}
        ),
        CountingKey(),
    )[0][0]
    assert (r.start, r.end, r.text) == (5, 9, "Anna")


def test_key_without_a_pseudonym_method_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="pseudonym"):
        pseudonym_for(object(), "Anna", "PERSON")
