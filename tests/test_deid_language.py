"""The transcript's language chooses the analyzers; role labels and marker words are never replaced.

English counterpart of tests/test_deid_danish.py for labels and markers, plus language detection.
"""

from __future__ import annotations

import pytest

from pipeline.deid.config import DeidentifyConfig
from pipeline.deid.engine import Deidentifier
from pipeline.deid.key import PseudonymKey
from pipeline.deid.language import detect_language, is_role_label, marker_spans
from pipeline.schema import Segment, Speaker, Transcript
from pipeline.stages.deidentify import parse_text_transcript

DANISH = [
    "Jeg hedder Mette, og jeg har boet her i mange år.",
    "Det var ikke så nemt, men vi klarede det sammen med min mand.",
    "Altså, jeg ved ikke rigtig, hvad jeg skal sige til det, ikke også.",
]
ENGLISH = [
    "I have lived here for many years and I would not move for anything.",
    "It was not easy, but we managed it together with my husband.",
]


@pytest.fixture(scope="module")
def engine():
    return Deidentifier(DeidentifyConfig())


@pytest.mark.parametrize(
    "texts, expected",
    [(DANISH, "da"), (ENGLISH, "en"), (["Anna Jensen"], None), (["ok"], None)],
)
def test_language_is_detected_from_stop_words(texts, expected):
    assert detect_language(texts) == expected


@pytest.mark.parametrize(
    "label, extra, expected",
    [
        ("Interviewer", [], True),
        ("Participant", [], True),
        ("Deltager", [], True),
        ("Deltager 2", [], True),
        ("Informant", [], True),
        ("Interviewperson", [], True),
        ("I", [], True),
        ("D", [], True),
        ("P", [], True),
        ("P3", [], True),
        ("Speaker 2", [], True),
        ("Forsker", ["Forsker"], True),
        ("Gruppe 4", ["Gruppe {n}"], True),
        ("Anna", [], False),
        ("Mette Jensen", [], False),
        ("Pårørende", [], False),
    ],
)
def test_role_labels_are_recognised(label, extra, expected):
    assert is_role_label(label, extra) is expected


@pytest.mark.parametrize(
    "text, markers",
    [
        ("Well. (2 s) It was hard.", ["(2 s)"]),
        ("So [inaudible 00:12–00:18] and then", ["[inaudible 00:12–00:18]"]),
        ("(16 s) [inaudible 1:02:03-1:02:09]", ["(16 s)", "[inaudible 1:02:03-1:02:09]"]),
        ("Born 2 June (in 1985)", []),
    ],
)
def test_marker_words_are_found(text, markers):
    assert [text[a:b] for a, b in marker_spans(text)] == markers


def test_english_role_labels_and_markers_survive_deidentification(engine):
    text = (
        "Interviewer: When did you move? (2 s) Take your time.\n"
        "Participant: In June 2019, with my wife Sarah Thompson. (2 s) [inaudible 00:12–00:18] We live at "
        "27 Willow Lane in Leeds.\n"
        "I: And your daughter?\n"
        "P: Emily is 12. (3 s) She goes to Roundhay School.\n"
        "Anna Brown: I was there too.\n"
    )
    raw = parse_text_transcript(text, "en-markers")
    shareable, reds = engine.deidentify(raw, PseudonymKey())
    assert shareable.provenance["deidentify"]["language"] == "en"
    out = " ".join(s.text for s in shareable.segments)
    for marker in ("(2 s)", "(3 s)", "[inaudible 00:12–00:18]"):
        assert out.count(marker) == text.count(marker)
    labels = [s.label for s in shareable.speakers]
    assert labels[:4] == ["Interviewer", "Participant", "I", "P"]
    assert labels[4].startswith("[PERSON_")  # a name as a label is still pseudonymised
    for value in ("Sarah", "Thompson", "Willow", "Emily", "Brown"):
        assert value not in out
    assert all(r.text not in ("2 s", "2", "3 s") for r in reds)


def test_language_comes_from_config_then_transcript_then_detection(engine):
    segs = [Segment(i, float(i), float(i + 1), t, "S1") for i, t in enumerate(DANISH)]
    carried = Transcript("t1", "da", segs, [Speaker("S1", "Deltager")])
    detected = Transcript("t2", None, segs, [Speaker("S1", "Deltager")])
    assert engine.language_of(carried) == ("da", "transcript")
    assert engine.language_of(detected) == ("da", "detected")
    forced = Deidentifier(DeidentifyConfig(language="en"))
    assert forced.language_of(carried) == ("en", "config")
    unsure = Transcript("t3", None, [Segment(0, 0.0, 1.0, "Ok.", "S1")], [Speaker("S1", "P")])
    assert engine.language_of(unsure) == ("en", "default")


def test_configured_role_labels_are_not_pseudonymised():
    engine = Deidentifier(DeidentifyConfig(role_labels=["Forsker"]), role_labels=["Pårørende {n}"])
    raw = parse_text_transcript("Forsker: Hvordan går det?\nPårørende 1: Det går fint, tak.\n", "roles")
    shareable, _ = engine.deidentify(raw, PseudonymKey())
    assert [s.label for s in shareable.speakers] == ["Forsker", "Pårørende 1"]


def test_invalid_language_setting_names_the_key():
    with pytest.raises(ValueError, match="language"):
        DeidentifyConfig(language="danish!")
    with pytest.raises(ValueError, match="stop-word"):
        DeidentifyConfig(language_candidates=["en", "qq"])


@pytest.mark.parametrize(
    "label, extra, role",
    [
        ("Interviewer", [], True),
        ("Forsker", [], True),
        ("P{n}", [], True),
        ("Pårørende", [], False),  # not a role word: pseudonymised unless listed in role_labels
        ("Pårørende", ["Pårørende"], True),
        ("Mogens Kjær", [], False),  # a configured label that is a person's name is pseudonymised
        ("Interviewer MK", [], False),  # initials beside a role word too
    ],
)
def test_a_configured_speaker_label_is_kept_only_when_it_names_a_role(label, extra, role):
    from pipeline.runner import configured_roles

    assert (configured_roles([label], extra) == [label]) is role
