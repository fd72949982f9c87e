"""Issue 13 items 1, 2 and 12 (and issue 12 item 5, spoken numbers), attacked in English and Danish.

Each case is a short interview (segments alternate interviewer / participant) with planted values;
it goes through the real Deidentifier (spaCy + Presidio + our recognizers) and every word of every
planted value must be gone from the shareable transcript (JSON and text). A second table holds
ordinary sentences that must come out unchanged, and one test runs ``python -m pipeline deidentify``
and scans every shareable file, path and the log.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipeline.deid.config import DeidentifyConfig
from pipeline.deid.key import PseudonymKey
from pipeline.deid.spoken import NormalisedText, normalise
from pipeline.schema import Segment, Speaker, Transcript
from pipeline.stages.deidentify import transcript_text

ROOT = Path(__file__).resolve().parents[1]

# (case id, language, segments, planted values, known names)
LEAK_CASES = [
    # -- 1. spoken contact data ------------------------------------------------------------------
    (
        "email-second-at-en",
        "en",
        ["You can email me at anna dot jensen at gmail dot com, that's fine."],
        ["anna", "jensen", "gmail"],
        [],
    ),
    (
        "email-underscore-en",
        "en",
        ["Just write to lars underscore holmberg at outlook dot dk."],
        ["lars", "holmberg", "outlook"],
        [],
    ),
    (
        "email-snabel-a-da",
        "da",
        ["Du kan skrive til mette punktum larsen snabel-a hotmail punktum com."],
        ["mette", "larsen", "hotmail"],
        [],
    ),
    (
        "email-bindestreg-da",
        "da",
        ["Min mail er jens bindestreg ove snabel a firma punktum dk."],
        ["jens", "ove", "firma"],
        [],
    ),
    (
        "phone-pairs-en",
        "en",
        ["My number is twenty two, thirty four, fifty six, seventy eight."],
        ["twenty two", "thirty four", "fifty six", "seventy eight"],
        [],
    ),
    (
        "phone-plus-double-en",
        "en",
        ["Ring me on plus forty five, double nine, eighteen, twenty seven, sixty three."],
        ["forty five", "double nine", "eighteen", "twenty seven", "sixty three"],
        [],
    ),
    (
        "phone-digit-by-digit-en",
        "en",
        ["Text me: oh seven seven zero zero, nine double zero, one two three."],
        ["seven", "zero", "nine", "one two three"],
        [],
    ),
    (
        "phone-pairs-da",
        "da",
        ["Mit nummer er otteogtyve, toogtredive, fireogfyrre, seksoghalvtreds."],
        ["otteogtyve", "toogtredive", "fireogfyrre", "seksoghalvtreds"],
        [],
    ),
    (
        "phone-digits-da",
        "da",
        ["Du kan ringe på to otte tre en fem fem nul to."],
        ["to otte tre en fem fem nul to"],
        [],
    ),
    (
        "phone-plus-da",
        "da",
        ["Ring på plus femogfyrre, enogtyve, tres, nitten, fjorten."],
        ["femogfyrre", "enogtyve", "tres", "nitten", "fjorten"],
        [],
    ),
    (
        "phone-and-en",
        "en",
        ["Call me on twenty two, thirty four and fifty six, seventy eight."],
        ["twenty two", "thirty four", "fifty six", "seventy eight"],
        [],
    ),
    (
        "phone-written-pairs-da",
        "da",
        ["Mit nummer er 22, 34, 56, 78, ring bare."],
        ["22", "34", "56", "78"],
        [],
    ),
    ("phone-written-digits-en", "en", ["my number's 0 7 7 0 0 9 0 0 1 2 3"], ["0 7 7 0 0 9 0 0 1 2 3"], []),
    (
        "number-across-segments-en",
        "en",
        ["My account number is four four one two, seven", "seven three nine, one one eight two, six."],
        ["four four one two", "seven", "seven three nine", "one one eight two", "six"],
        [],
    ),
    (
        "number-across-segments-da",
        "da",
        ["Mit kundenummer er fire fire et to, syv", "syv tre ni, et et otte to."],
        ["fire fire et to", "syv", "syv tre ni", "et et otte to"],
        [],
    ),
    ("zip-spoken-en", "en", ["My zip code is nine oh two one oh, in the hills."], ["nine oh two one oh"], []),
    (
        "postcode-spoken-da",
        "da",
        ["Vi bor i ni tusind fem hundrede og tyve Skørping."],
        ["tusind", "hundrede", "tyve", "Skørping"],
        [],
    ),
    ("postcode-words-da", "da", ["Postnummeret er otte fire fem nul."], ["otte fire fem nul"], []),
    ("nickname-en", "en", ["We call her Mudder, everybody does."], ["Mudder"], []),
    ("name-answer-lower-long-en", "en", ["What's your name?", "uh, it's gunnvor"], ["gunnvor"], []),
    (
        "cpr-groups-en",
        "en",
        ["My CPR number is one, two, oh, five, eight, five … one, two, three, four."],
        ["one", "two", "oh", "five", "eight", "three", "four"],
        [],
    ),
    (
        "id-double-en",
        "en",
        ["The reference is one, two, five, six … two, double nine, four."],
        ["one", "two", "five", "six", "double nine", "four"],
        [],
    ),
    (
        "cpr-da",
        "da",
        ["Mit cpr-nummer er tolv nul fem femogfirs, et to tre fire."],
        ["tolv", "nul", "fem", "femogfirs", "et to tre fire"],
        [],
    ),
    ("plate-written-en", "en", ["The car, plate AB 12 345, was parked outside."], ["AB", "12", "345"], []),
    (
        "plate-spoken-en",
        "en",
        ["Her plate was X Y nine eight seven six five."],
        ["X Y", "nine", "eight", "seven", "six", "five"],
        [],
    ),
    ("plate-da", "da", ["Nummerpladen er CV 48 210, en blå Toyota."], ["CV", "48", "210"], []),
    (
        "url-spoken-en",
        "en",
        ["My blog is signeskitchen dot dk if you want to see it."],
        ["signeskitchen"],
        [],
    ),
    (
        "url-www-da",
        "da",
        ["Min hjemmeside er www punktum bornholmsbageri punktum dk."],
        ["bornholmsbageri"],
        [],
    ),
    # -- 2. names from context ----------------------------------------------------------------------
    ("surname-answer-en", "en", ["And what is your surname?", "Thorsager."], ["Thorsager"], []),
    ("name-answer-lower-en", "en", ["What's your first name?", "um, gunnvor"], ["gunnvor"], []),
    ("surname-answer-da", "da", ["Hvad hedder du til efternavn?", "Øh, Thorsager."], ["Thorsager"], []),
    ("name-answer-da", "da", ["Hvad er dit fornavn?", "Det er Ulrikke."], ["Ulrikke"], []),
    (
        "spelled-known-en",
        "en",
        ["How do you spell it?", "T-H-Y-G-E-S-E-N, Thygesen."],
        ["T-H-Y-G-E-S-E-N", "Thygesen"],
        ["Anders Thygesen"],
    ),
    ("spelled-spaces-en", "en", ["My name is spelled Q U I L L E R."], ["Q U I L L E R"], []),
    ("spelled-da", "da", ["Det staves K-J-Æ-R-S-G-A-A-R-D."], ["K-J-Æ-R-S-G-A-A-R-D"], []),
    ("boundary-en", "en", ["The show was hosted by Kyle", "Gas."], ["Kyle", "Gas"], []),
    ("boundary-cue-en", "en", ["Hi, my name is", "Brannagh Oduya and I teach."], ["Brannagh", "Oduya"], []),
    ("boundary-da", "da", ["Jeg snakkede med Birte", "Vognmand om det."], ["Birte", "Vognmand"], []),
    (
        "non-latin-en",
        "en",
        ["My colleague Дмитрий Иванов came with 王伟."],
        ["Дмитрий", "Иванов", "王伟"],
        [],
    ),
    ("non-latin-da", "da", ["Min nabo hedder Σωκράτης Παππάς."], ["Σωκράτης", "Παππάς"], []),
    (
        "misspelt-first-en",
        "en",
        ["I spoke with Mehtte Thorsager on Monday."],
        ["Mehtte", "Thorsager"],
        ["Mette Thorsager"],
    ),
    (
        "misspelt-first-da",
        "da",
        ["Jeg ringede til Annnemette Kjærsgaard i går."],
        ["Annnemette", "Kjærsgaard"],
        ["Annemette Kjærsgaard"],
    ),
    # -- 12. quasi-identifiers --------------------------------------------------------------------
    (
        "island-en",
        "en",
        ["I grew up on Strynø and moved to Hvide Sande later."],
        ["Strynø", "Hvide", "Sande"],
        [],
    ),
    ("island-da", "da", ["Jeg er vokset op på Omø, men bor nu i Tarm."], ["Omø", "Tarm"], []),
    ("postcode-en", "en", ["We live in 6960 Hvide Sande now."], ["6960", "Hvide", "Sande"], []),
    ("postcode-da", "da", ["Vi bor i 9520 Skørping, tæt på skoven."], ["9520", "Skørping"], []),
    ("postcode-cue-en", "en", ["The postcode is 8450, near the lake."], ["8450"], []),
    ("employer-en", "en", ["I work at Kjærgaard Rengøring as a cleaner."], ["Kjærgaard", "Rengøring"], []),
    (
        "employer-da",
        "da",
        ["Jeg er ansat hos Vestjysk Tagdækning som tømrer."],
        ["Vestjysk", "Tagdækning"],
        [],
    ),
    ("street-words-en", "en", ["We live at twenty seven Willow Lane."], ["twenty seven", "Willow"], []),
    ("street-words-da", "da", ["Jeg bor på Nørregade tolv, første sal."], ["Nørregade", "tolv"], []),
    (
        "diagnosis-town-en",
        "en",
        ["I have Fabry disease and I live in Tarm, so everyone knows."],
        ["Tarm"],
        [],
    ),
]

# Ordinary sentences with numbers, names questions without names, Danish prepositions: unchanged.
KEEP_CASES = [
    ("en", ["I went to the shop at nine and came back at ten to five, then we talked for twenty minutes."]),
    ("en", ["It cost about two hundred and fifty thousand, and the rent went up by ten, fifteen percent."]),
    ("en", ["The train leaves at seven thirty and arrives at eight forty five."]),
    ("en", ["What is your view on the new rules?", "I think they are good."]),
    ("en", ["Well, I think the doctor said it was fine", "Then I went home and slept."]),
    ("da", ["Vi var tre, fire personer, og det kostede to hundrede kroner, måske fem, seks hundrede."]),
    ("da", ["Jeg arbejder på et lager, og jeg har været der i otte år."]),
    ("da", ["Hvad synes du om det?", "Det var godt, altså."]),
    ("da", ["Det kostede to millioner, tre hundrede tusind kroner i to tusind og ti."]),
    ("da", ["Vi fik 5, 10, 15 og 20 point i de fire runder."]),
]


def transcript(iid: str, lang: str, texts: list[str]) -> Transcript:
    segs = [Segment(i, float(i), float(i) + 1, t, "S2" if i % 2 else "S1") for i, t in enumerate(texts)]
    speakers = [Speaker("S1", "Interviewer", "interviewer"), Speaker("S2", "Participant", "participant")]
    return Transcript(iid, lang, segs, speakers)


def words_left(planted: list[str], shareable: str) -> list[str]:
    """The planted values, or their words, still in the shareable text.

    Each value is looked for whole; its words of three or more characters (and its numbers) are
    looked for one by one too. Short words ("to", "en", "oh") are ordinary words elsewhere, and a
    single digit is in every label ("[PHONE_1]").
    """
    left = []
    # Digits said or written one by one ("0 7 7 0 0 ..."): a run of 4 or more of a value's digits
    # left anywhere (labels such as [PHONE_1] removed) is a leak too.
    runs = [re.sub(r"\D", "", r) for r in re.findall(r"\d(?:[\s.,-]*\d)+", LABEL.sub(" ", shareable))]
    for value in planted:
        words = [value] + [
            w for w in re.findall(r"[^\W_]+", value) if len(w) >= 3 or (w.isdigit() and len(w) >= 2)
        ]
        for w in dict.fromkeys(words):
            if re.search(rf"(?<![^\W_]){re.escape(w)}(?![^\W_])", shareable, re.IGNORECASE):
                left.append(w)
        digits = re.sub(r"\D", "", value)
        if len(digits) >= 4:
            left += [r for r in runs if len(r) >= 4 and r in digits]
    return left


LABEL = re.compile(r"\[[A-Z][A-Z_]*_\d+\]")


def shown_text(t: Transcript) -> str:
    """Everything a reader of the shareable transcript sees: segment and word texts, speaker labels."""
    parts = [s.text for s in t.segments] + [w.text for s in t.segments for w in s.words]
    return "\n".join(parts + [sp.label for sp in t.speakers])


@pytest.fixture(scope="module")
def engines():
    from pipeline.deid.engine import Deidentifier

    cache: dict[tuple[str, ...], Deidentifier] = {}

    def get(known: list[str]) -> Deidentifier:
        k = tuple(known)
        if k not in cache:
            cache[k] = Deidentifier(DeidentifyConfig(known_names=list(known)))
        return cache[k]

    return get


@pytest.mark.parametrize("case, lang, texts, planted, known", LEAK_CASES, ids=[c[0] for c in LEAK_CASES])
def test_no_planted_word_is_left_in_the_shareable_transcript(engines, case, lang, texts, planted, known):
    shareable, _ = engines(known).deidentify(transcript(case, lang, texts), PseudonymKey())
    out = shown_text(shareable) + "\n" + transcript_text(shareable)
    assert words_left(planted, out) == [], out


@pytest.mark.parametrize("lang, texts", KEEP_CASES)
def test_ordinary_sentences_are_kept(engines, lang, texts):
    shareable, reds = engines([]).deidentify(transcript("keep", lang, texts), PseudonymKey())
    assert [s.text for s in shareable.segments] == texts, [(r.text, r.entity_type) for r in reds]


@pytest.mark.parametrize(
    "text, lang, digits",
    [
        ("twenty two, thirty four", "en", ["22", "34"]),
        ("plus forty five double nine", "en", ["45", "99"]),
        ("oh seven triple oh", "en", ["0", "7", "000"]),
        ("otteogtyve, toogtredive", "da", ["28", "32"]),
        ("to otte tre en", "da", ["2", "8", "3", "1"]),
    ],
)
def test_spoken_numbers_become_digits_that_map_back_to_every_word(text, lang, digits):
    tokens = normalise(text, lang)
    found = [t for t in tokens if t.is_digits]
    assert [t.text for t in found] == digits
    view = NormalisedText(text, tokens)
    span = view.to_original(0, len(view.text))
    assert span == (0, len(text))  # the whole spoken number, first word to last


def test_spoken_number_replacement_covers_every_word(engines):
    text = "Call me on twenty two, thirty four, fifty six, seventy eight, thanks."
    _, reds = engines([]).deidentify(transcript("cover", "en", [text]), PseudonymKey())
    phone = [r for r in reds if r.entity_type == "PHONE_NUMBER"]
    assert len(phone) == 1
    assert text[phone[0].start : phone[0].end] == "twenty two, thirty four, fifty six, seventy eight"


def test_cli_deidentify_leaves_no_planted_value_in_shareable_files_paths_or_log(tmp_path):
    """`python -m pipeline deidentify` on an English and a Danish interview: scan everything shareable."""
    cases = {
        "int-a": (
            "en",
            [
                "What is your surname?",
                "Thorsager.",
                "Call me on plus forty five, double nine, "
                "eighteen, twenty seven, sixty three, or write to anna dot jensen at gmail dot com.",
                "I grew up on Strynø and I work at Kjærgaard Rengøring.",
            ],
        ),
        "int-b": (
            "da",
            [
                "Hvad hedder du til efternavn?",
                "Thygesen, T-H-Y-G-E-S-E-N.",
                "Mit cpr-nummer er tolv nul fem femogfirs, et to tre fire.",
                "Jeg bor i 9520 Skørping på Nørregade tolv.",
            ],
        ),
    }
    planted = [
        "Thorsager",
        "forty five",
        "double nine",
        "eighteen",
        "sixty three",
        "anna",
        "jensen",
        "gmail",
        "Strynø",
        "Kjærgaard",
        "Rengøring",
        "Thygesen",
        "T-H-Y-G-E-S-E-N",
        "tolv",
        "femogfirs",
        "9520",
        "Skørping",
        "Nørregade",
    ]
    files = []
    for iid, (lang, texts) in cases.items():
        path = tmp_path / f"{iid}.json"
        path.write_text(transcript(iid, lang, texts).to_json(), encoding="utf-8")
        files.append(str(path))
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "deidentify", *files, "--out", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = [proc.stdout, proc.stderr]
    for p in (out / "shareable").rglob("*"):
        seen.append(str(p.relative_to(out)))
        if p.is_file() and p.suffix in (".json", ".txt", ".csv", ".html", ".srt", ".vtt"):
            seen.append(p.read_text(encoding="utf-8", errors="replace"))
        elif p.is_file() and p.suffix in (".docx", ".qdpx"):  # zip archives: every XML/text member
            with zipfile.ZipFile(p) as z:
                for name in z.namelist():
                    if name.endswith((".xml", ".qde", ".txt")):
                        xml = z.read(name).decode("utf-8", errors="replace")
                        seen.append(html.unescape(re.sub(r"<[^>]+>", " ", xml)))
    seen += [p.read_text(encoding="utf-8") for p in (out / "logs").glob("*.log")]
    shareable = (out / "shareable" / "int-b" / "transcript.json").read_text(encoding="utf-8")
    assert json.loads(shareable)["language"] == "da"
    assert words_left(planted, "\n".join(seen)) == []


@pytest.mark.parametrize(
    "written, spoken, lang",
    [
        ("45 22 31 90", "forty five, twenty two, thirty one, ninety", "en"),
        ("28 32 44 56", "otteogtyve, toogtredive, fireogfyrre, seksoghalvtreds", "da"),
    ],
)
def test_a_number_written_and_said_gets_one_pseudonym(engines, written, spoken, lang):
    texts = [f"My phone number is {written}.", f"Yes, call {spoken}, any time."]
    if lang == "da":
        texts = [f"Mit telefonnummer er {written}.", f"Ja, ring på {spoken} når som helst."]
    _, reds = engines([]).deidentify(transcript("same", lang, texts), PseudonymKey())
    phones = {r.replacement for r in reds if r.entity_type == "PHONE_NUMBER"}
    assert len([r for r in reds if r.entity_type == "PHONE_NUMBER"]) == 2 and len(phones) == 1
