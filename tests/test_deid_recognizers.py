"""Each recognizer on interview speech, through the real Presidio + spaCy engine (loaded once)."""

from __future__ import annotations

import socket

import pytest

from pipeline.deid.config import DeidentifyConfig
from pipeline.deid.key import PseudonymKey
from pipeline.schema import Segment, Transcript


@pytest.fixture(scope="module")
def engine():
    from pipeline.deid.engine import Deidentifier

    return Deidentifier(DeidentifyConfig(recognizers={"national_id_countries": ["DK", "GB", "US"]}))


def run(engine, text: str, language: str = "en"):
    t = Transcript("rec-test", language, [Segment(0, 0.0, 1.0, text, "S2")])
    shareable, reds = engine.deidentify(t, PseudonymKey())
    return shareable.segments[0].text, reds


@pytest.mark.parametrize(
    "text, value, entity_type",
    [
        # spoken phone numbers in digit groups (Presidio's defaults call the first one a date)
        ("You can ring me on 45 22 31 90 any time.", "45 22 31 90", "PHONE_NUMBER"),
        ("My mobile is +44 7700 900 123.", "+44 7700 900 123", "PHONE_NUMBER"),
        (
            "my number is two zero two five five five zero one seven eight",
            "two zero two five five five zero one seven eight",
            "PHONE_NUMBER",
        ),
        ("Call 202-555-0178 after six.", "202-555-0178", "PHONE_NUMBER"),
        # national IDs
        ("My CPR number is 120385-1234.", "120385-1234", "DK_CPR"),
        ("The NHS number was 943 476 5919.", "943 476 5919", "UK_NHS"),
        ("My national insurance number is AB 12 34 56 C.", "AB 12 34 56 C", "UK_NINO"),
        ("His social security number is 054-28-6917.", "054-28-6917", "US_SSN"),
        # e-mail written and spoken
        ("Write to anna.jensen@example.com please.", "anna.jensen@example.com", "EMAIL_ADDRESS"),
        ("it's anna dot jensen at example dot com", "anna dot jensen at example dot com", "EMAIL_ADDRESS"),
        (
            "email me at tom underscore becker at example dot org",
            "tom underscore becker at example dot org",
            "EMAIL_ADDRESS",
        ),
        # ages
        ("Well, I'm 34 and I still live at home.", "34", "AGE"),
        ("She was aged 62 when she retired.", "62", "AGE"),
        ("A 65-year-old neighbour helped.", "65", "AGE"),
        ("My dad turned seventy last year.", "seventy", "AGE"),
        # street addresses
        ("I moved to 27 Willow Lane last year.", "27 Willow Lane", "STREET_ADDRESS"),
        ("We lived at Hammarvägen 15 for years.", "Hammarvägen 15", "STREET_ADDRESS"),
        ("Her flat is on Via dei Fiorentini 17 now.", "Via dei Fiorentini 17", "STREET_ADDRESS"),
        ("My address is 12 Nørrebrogade, it's near the lakes.", "12 Nørrebrogade", "STREET_ADDRESS"),
        ("Post it to SW1A 1AA please.", "SW1A 1AA", "STREET_ADDRESS"),
        # organisations (ORG is ignored by Presidio's default mapping)
        ("I've worked at Westfield Library for nine years.", "Westfield Library", "ORGANIZATION"),
        ("My sister works at Nordlys ApS in town.", "Nordlys ApS", "ORGANIZATION"),
        ("I studied at the University of Leeds.", "University of Leeds", "ORGANIZATION"),
        # dates: day and month go, the year stays (generalise)
        ("It started on the second of June, 2022.", "second of June", "DATE_TIME"),
        ("We met on 14/03/2023 at the office.", "14/03", "DATE_TIME"),
    ],
)
def test_recognizer_replaces_value(engine, text, value, entity_type):
    new, reds = run(engine, text)
    assert value not in new, new
    assert entity_type in {r.entity_type for r in reds}, [(r.entity_type, r.recognizer) for r in reds]
    covering = [r for r in reds if r.start <= text.index(value) and text.index(value) + len(value) <= r.end]
    assert covering and covering[0].entity_type == entity_type


@pytest.mark.parametrize(
    "text",
    [
        "I'm 5 minutes away from the station.",
        "We usually meet on Thursday.",
        "It happened in 2019, I think.",
        "A few years ago things were different.",
        "I stayed at home. Me and my sister did the cooking.",
        "We had a rose garden and a long walk to school.",
        "The meeting is at 10 and lasts an hour.",
    ],
)
def test_ordinary_speech_is_left_alone(engine, text):
    new, reds = run(engine, text)
    assert new == text, [(r.text, r.entity_type, r.recognizer) for r in reds]


def test_dates_keep_the_year_when_generalised(engine):
    new, _ = run(engine, "The new system started on the 14th of March 2023.")
    assert "[2023]" in new and "March" not in new and "14th" not in new


def test_non_english_transcript_still_gets_numbers_and_emails(engine):
    text = "Mit nummer er 45 22 31 90 og min mail er mette.hansen@example.dk."
    new, reds = run(engine, text, language="da")
    assert "45 22 31 90" not in new and "mette.hansen@example.dk" not in new
    assert {"PHONE_NUMBER", "EMAIL_ADDRESS"} <= {r.entity_type for r in reds}


def test_no_socket_is_opened(monkeypatch):
    """tldextract (inside e-mail validation), spaCy and Presidio must stay offline."""
    from pipeline.deid.engine import Deidentifier

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    fresh = Deidentifier(DeidentifyConfig())
    new, _ = run(
        fresh, "Mail anna.jensen@example.co.uk or see https://example.org, or anna dot j at example dot com."
    )
    assert "anna.jensen@example.co.uk" not in new and "anna dot j" not in new
