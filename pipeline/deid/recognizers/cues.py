"""Identifiers that the words around them give away, in English and Danish.

- names spelled out letter by letter ("T-H-Y-G-E-S-E-N", "t h y g e s e n");
- words in another script than the transcript's (a Cyrillic, Greek, Arabic or CJK name in an
  English or Danish interview);
- small places after a place cue ("grew up on Fanø", "bor i Hvide Sande"), postcodes beside a
  town ("2200 København", "postcode 8000");
- employers after a work cue ("I work at Novo Nordisk", "arbejder hos Vestas").

Quasi-identifiers policy: see docs/deidentify.md ("Quasi-identifiers").
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult

from pipeline.deid.gazetteer import FUNCTION_WORDS, fold
from pipeline.deid.recognizers.address import TRAILING_STRONG, TRAILING_WEAK
from pipeline.deid.recognizers.base import InterviewRecognizer
from pipeline.deid.recognizers.danish import COMMON_PROPER

_LETTER = r"[^\W\d_]"
SPELLED = re.compile(
    rf"(?<![\w'-])(?:{_LETTER}(?:\s*-\s*{_LETTER}){{2,}}"  # T-H-Y-G-E
    rf"|{_LETTER}(?:\s*[.,]\s*{_LETTER}){{3,}}\.?"  # T. H. Y. G. / t, h, y, g
    rf"|{_LETTER}(?:\s{_LETTER}){{3,}})(?![\w'-])"  # T H Y G
)


class SpelledNameRecognizer(InterviewRecognizer):
    """A word spelled out letter by letter: in an interview nearly always a name or an address."""

    ENTITIES = ("PERSON",)

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        out = []
        for m in SPELLED.finditer(text):
            letters = re.findall(_LETTER, m.group(0))
            if "".join(letters).lower() in ("ieg", "eg", "ie"):  # "i.e.", "e.g."
                continue
            out.append(self.result("PERSON", m.start(), m.end(), 0.6, "spelled out"))
        return out


# Scripts other than Latin: a word in one of them inside a Latin-script transcript.
NON_LATIN = re.compile(
    r"[\u0370-\u03ff\u0400-\u052f\u0530-\u058f\u0590-\u05ff\u0600-\u06ff\u0750-\u077f\u0900-\u0dff"
    r"\u0e00-\u0e7f\u10a0-\u10ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"
    r"[\u0370-\u03ff\u0400-\u052f\u0530-\u058f\u0590-\u05ff\u0600-\u06ff\u0750-\u077f\u0900-\u0dff"
    r"\u0e00-\u0e7f\u10a0-\u10ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u0300-\u036f'’.-]*"
    r"(?:\s+[\u0370-\u03ff\u0400-\u052f\u0530-\u058f\u0590-\u05ff\u0600-\u06ff\u0900-\u0dff"
    r"\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af][^\s]*)*"
)
LATIN_LANGUAGES = frozenset(
    "en da de nl fr es pt it sv no nb nn fi is pl cs sk sl hr ro hu et lv lt tr id ms sw".split()
)


class OtherScriptNameRecognizer(InterviewRecognizer):
    """Words in a non-Latin script inside an English, Danish, ... transcript: names, kept from coders."""

    ENTITIES = ("PERSON",)

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        if self.supported_language not in LATIN_LANGUAGES:
            return []
        # one letter alone is no name (mis-decoded punctuation such as 'ג€“' is common in text data)
        return [
            self.result("PERSON", m.start(), m.end(), 0.55, "other script")
            for m in NON_LATIN.finditer(text)
            if len(re.findall(r"\w", m.group(0))) >= 2
        ]


_CAP = r"[A-ZÆØÅÄÖÜ][\w'’-]+"
_NAME = rf"{_CAP}(?:[ -](?:{_CAP}|by|sogn|strand|havn|bjerg))?(?:\s{_CAP})?"
PLACE_CUE = re.compile(
    rf"\b(?:(?:live|lives|living|lived|grew up|growing up|born|raised|settled|house|farm|school|village|"
    rf"town|island)\s+(?:in|on|at|near)|(?:moved|move|moving|went back)\s+(?:to|from|back to)|"
    rf"village of|town of|island of|village called|town called|island called|"
    rf"bor|boede|boet|bo|vokset op|voksede op|opvokset|født|flyttede|flyttet|flytte|hjemme)"
    rf"\s+(?:(?:i|på|til|fra|ved|nær)\s+)?(?:the\s+)?(?P<place>{_NAME})"
)
DA_PREP_PLACE = re.compile(rf"(?<=[a-zæøå,] )(?:i|på|fra|til|ved)\s+(?P<place>{_NAME})")
POSTCODE = re.compile(
    rf"\b(?:(?i:post\s?code|postal code|zip code|zip|postnummer(?:et)?|postnr\.?)\s*(?:is|er|:)?\s*"
    rf"(?P<code>\d{{4,5}}|\d(?: \d){{3,4}})"
    rf"|(?:DK-)?(?P<dk>[1-9]\d{{3}})\s+(?P<town>{_CAP}(?:\s{_CAP})?))"
)
NOT_PLACE = frozenset(
    """danmark denmark england europa europe sverige sweden norge norway tyskland germany usa
    america amerika jylland fyn sjælland""".split()
)


def _plain(place: str) -> bool:
    first = place.split()[0]
    f = fold(first)
    return f in FUNCTION_WORDS or f in NOT_PLACE or f in DA_FUNCTION or f in COMMON_PROPER


DA_FUNCTION = frozenset(
    """jeg du han hun den det vi i de man min mit mine din dit dine hans hendes vores jeres deres
    og eller men så at som der her da når hvis fordi for til fra på i med om af ved efter før
    en et ikke også bare lige nu jo vel nok altså øh ja nej godt tak hvad hvem hvor hvordan
    januar februar marts april maj juni juli august september oktober november december
    mandag tirsdag onsdag torsdag fredag lørdag søndag""".split()
)


def _year_or_street(m: re.Match) -> bool:
    """'2017 Polish' is a year and a nationality, '1257 St' a house number and a street word."""
    town = m.group("town").split()[0]
    if town.rstrip(".").lower() in TRAILING_STRONG or town.rstrip(".").lower() in TRAILING_WEAK:
        return True
    return 1900 <= int(m.group("dk")) <= 2039 and bool(re.search(r"(?:ish|ian|ese|ic|i|an|ch)$", town))


class PlaceCueRecognizer(InterviewRecognizer):
    """Small places no list knows, by the words before them; postcodes beside a town."""

    ENTITIES = ("LOCATION",)

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        out = []
        for m in PLACE_CUE.finditer(text):
            if not _plain(m.group("place")):
                out.append(self.result("LOCATION", m.start("place"), m.end("place"), 0.55, "place cue"))
        if self.supported_language == "da":  # Danish capitalises proper nouns only
            for m in DA_PREP_PLACE.finditer(text):
                if not _plain(m.group("place")):
                    out.append(self.result("LOCATION", m.start("place"), m.end("place"), 0.45, "da place"))
        for m in POSTCODE.finditer(text):
            if m.group("code"):
                out.append(self.result("LOCATION", m.start("code"), m.end("code"), 0.6, "postcode cue"))
            elif (
                not _plain(m.group("town"))
                and not _year_or_street(m)
                and not re.search(r"\b(?:since|siden|year|år|until|around|omkring)\s+$", text[: m.start()])
            ):
                out.append(self.result("LOCATION", m.start(), m.end(), 0.55, "postcode and town"))
        return out


EMPLOYER_CUE = re.compile(
    rf"\b(?:(?:work|works|worked|working|job|employed|position|placement|internship)\s+(?:at|for|by|in)"
    rf"|employer is|arbejder|arbejdede|arbejdet|ansat|job|stilling|praktik|arbejdsplads er|arbejdsgiver er)"
    rf"\s+(?:(?:hos|på|i|ved|for)\s+)?(?:the\s+)?(?P<org>{_CAP}(?:\s(?:&\s)?{_CAP}){{0,3}})"
)


class EmployerRecognizer(InterviewRecognizer):
    """An employer after a work cue: 'I work at Novo Nordisk', 'jeg er ansat hos Vestas'."""

    ENTITIES = ("ORGANIZATION",)

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        return [
            self.result("ORGANIZATION", m.start("org"), m.end("org"), 0.45, "employer cue")
            for m in EMPLOYER_CUE.finditer(text)
            if not _plain(m.group("org"))
        ]


_RELATION = (
    r"mand|kone|datter|døtre|søn|sønner|mor|far|søster|bror|ven|veninde|kæreste|chef|leder|nabo|"
    r"svigermor|svigerfar|svigerdatter|svigersøn|barnebarn|kollega|læge|sygeplejerske|mormor|morfar|"
    r"farmor|farfar|onkel|moster|faster|fætter|kusine"
)
DA_NAME_CUE = re.compile(
    rf"\b(?:hedder|hed|heder|kaldes|kaldet|kaldte|kalder (?:mig|ham|hende|os)|mit navn er|navnet er|"
    rf"(?:call|calls|called) (?:her|him|them|us)|known as|goes by|went by|nicknamed|"
    rf"(?:min|mit|mine|hans|hendes|vores) (?:{_RELATION}),?)\s+(?P<name>{_CAP}(?:[ -]{_CAP}){{0,2}})"
)
# Danish writes only proper nouns with a capital: two of them in a row inside a sentence are a name.
DA_CAPITALS = re.compile(rf"(?<=[\wæøå,] )(?P<name>{_CAP}(?:[ -]{_CAP})+)")


class MoreNameCueRecognizer(InterviewRecognizer):
    """Names by cues the English name cues lack ('hedder Hjørdis', 'min svigerdatter Mai', 'we call
    her Mudder', 'known as Bitten') and, in Danish text,
    capitalised words in a row inside a sentence ('talte med Sørenn Aagaard')."""

    ENTITIES = ("PERSON",)

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        out = [
            self.result("PERSON", m.start("name"), m.end("name"), 0.6, "name cue")
            for m in DA_NAME_CUE.finditer(text)
            if not _plain(m.group("name"))
        ]
        if self.supported_language == "da":
            out += [
                self.result("PERSON", m.start("name"), m.end("name"), 0.4, "Danish capitals")
                for m in DA_CAPITALS.finditer(text)
                if not _plain(m.group("name"))
            ]
        return out
