"""Numbers, plates and web addresses as people say them.

``SpokenNumberRecognizer`` reads the text with its number words turned into digits
(``pipeline.deid.spoken``): a run of digit groups made from words ("twenty two, thirty four, fifty
six, seventy eight", "plus forty five ...", "one, two, five, six ... two, double nine",
"to otte tre en fem fem nul to") is a phone number, a CPR number or an ID number by its length, its
date and the words before it; the street-address, CPR and plate recognizers also run on the
converted text ("Nørregade tolv", "twenty seven Willow Lane"). Every result is mapped back to the
original words, so the replacement covers every spoken word.
"""

from __future__ import annotations

import re
from datetime import date

from presidio_analyzer import RecognizerResult

from pipeline.deid.gazetteer import FUNCTION_WORDS
from pipeline.deid.recognizers.address import StreetAddressRecognizer
from pipeline.deid.recognizers.base import InterviewRecognizer, preceding_words
from pipeline.deid.recognizers.contact import has_public_suffix
from pipeline.deid.recognizers.cues import PlaceCueRecognizer
from pipeline.deid.recognizers.numbers import PHONE_CONTEXT, DkCprRecognizer
from pipeline.deid.spoken import NormalisedText, Token, normalise, normalised_views

SEPARATORS = frozenset({",", "-", ".", "…", "/", "dash", "streg", "bindestreg", "minus", "and", "og"})
PLUS = frozenset({"plus", "+"})
CPR_CUES = frozenset({"cpr", "cpr-nummer", "personnummer", "cpr-nr", "personal", "civil", "social"})
ID_CUES = frozenset(
    "id number nummer nr reference account membership member passport licence license "
    "kundenummer medlemsnummer kontonummer pas kørekort".split()
)


# Amounts are said with scale words; identifiers are not ("thirteen million", "to tusind").
SCALE = re.compile(r"\b(?:thousand|million|billion|tusind|million(?:er)?|milliard(?:er)?)\b", re.IGNORECASE)


def _separated(tokens: list[Token], j: int) -> int | None:
    """The index of the digit token after up to three separators at ``j`` (", dash,"), or None.
    A full stop is a separator only inside a number ("22.34"): "twenty two. Thirty four more"."""
    k = j
    while k < len(tokens) and k - j < 3 and tokens[k].text.lower() in SEPARATORS:
        if tokens[k].text == "." and k + 1 < len(tokens) and tokens[k + 1].start > tokens[k].end:
            return None
        k += 1
    return k if k > j and k < len(tokens) and tokens[k].is_digits else None


def _runs(tokens: list[Token]) -> list[list[Token]]:
    """Maximal runs of digit tokens, separated only by commas, dashes, dots, ellipses or 'dash'."""
    runs: list[list[Token]] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        starts_plus = t.text.lower() in PLUS and i + 1 < len(tokens) and tokens[i + 1].is_digits
        if not (t.is_digits or starts_plus):
            i += 1
            continue
        run = [t]
        j = i + 1
        while j < len(tokens):
            if tokens[j].is_digits:
                run.append(tokens[j])
                j += 1
            elif (k := _separated(tokens, j)) is not None:
                j = k
            else:
                break
        runs.append(run)
        i = j
    return runs


def _valid_cpr(digits: str) -> bool:
    if len(digits) != 10:
        return False
    day, month, yy = int(digits[:2]), int(digits[2:4]), int(digits[4:6])
    century = DkCprRecognizer._century(yy, int(digits[6]))
    try:
        date(century + yy, month, day)
    except ValueError:
        return False
    return True


def _id_compound(word: str) -> bool:
    """A Danish compound naming a number that is not a phone number: 'kørekortnummer', 'kundenr'."""
    return (
        word.endswith(("nummer", "nummeret", "nr"))
        and len(word) > 7
        and not word.startswith(("telefon", "mobil", "tlf", "fastnet", "cpr"))
    )


def classify_run(digits: str, groups: int, plus: bool, cues: set[str]) -> tuple[str, float] | None:
    """The entity type and score of a spoken digit run, or None when it is no identifier."""
    n = len(digits)
    if n < 6 or groups < 2:  # amounts ("fifty thousand"), years, counts are one group
        return None
    if cues & CPR_CUES and n in (9, 10, 11):
        return "DK_CPR", 0.75
    if (cues & ID_CUES - {"number", "nummer", "nr"} or any(_id_compound(c) for c in cues)) and not plus:
        return "ID_NUMBER", 0.7
    if plus or cues & set(PHONE_CONTEXT):
        if 7 <= n <= 15:
            return "PHONE_NUMBER", 0.7
    if _valid_cpr(digits) and not plus:
        return "DK_CPR", 0.65
    if n == 8 and not cues & ID_CUES:
        return "PHONE_NUMBER", 0.6  # the Danish phone number length
    return "ID_NUMBER", 0.6


PLATE = re.compile(
    r"(?<![\w-])(?:[A-Z]\s?[A-Z][\s-]?(?:\d[\s-]?){4}\d"  # DK: AB 12 345, A B 1 2 3 4 5
    r"|[A-Z]{2}\d{2}\s?[A-Z]{3}"  # GB: AB12 CDE
    r"|[A-Z]{1,3}-[A-Z]{1,2}\s?\d{1,4})(?![\w-])"  # DE: B-AB 1234
)


class LicencePlateRecognizer(InterviewRecognizer):
    """Number plates as written or read out letter by letter: 'AB 12 345', 'A B twelve three four five'."""

    ENTITIES = ("ID_NUMBER",)
    CONTEXT = ("plate", "registration", "nummerplade", "bil", "car", "reg")

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        return [
            self.result("ID_NUMBER", m.start(), m.end(), 0.6, "licence plate") for m in PLATE.finditer(text)
        ]


class SpokenNumberRecognizer(InterviewRecognizer):
    """Phone, CPR and ID numbers, street numbers and plates said in words (English, Danish, ...)."""

    ENTITIES = ("PHONE_NUMBER", "DK_CPR", "ID_NUMBER", "STREET_ADDRESS", "LOCATION")

    def __init__(self, language: str, **kw):
        super().__init__(language, **kw)
        self.inner = [
            StreetAddressRecognizer(language),
            DkCprRecognizer(language),
            LicencePlateRecognizer(language),
            PlaceCueRecognizer(language),  # postcodes said in words
        ]

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        out: list[RecognizerResult] = []
        views = normalised_views(text, self.supported_language)
        for view in views or [NormalisedText(text, normalise(text, ""))]:  # written digits only
            out += self._runs_in(view)
            for rec in self.inner:
                for r in rec.find(view.text, None):
                    if not any(t.spoken for t in view.tokens_in(r.start, r.end)):
                        continue  # written digits: the ordinary recognizers have it
                    span = view.to_original(r.start, r.end)
                    if span:
                        out.append(self.result(r.entity_type, *span, r.score, "spoken: " + rec.name))
        return out

    def _runs_in(self, view: NormalisedText) -> list[RecognizerResult]:
        out = []
        for run in _runs(view.tokens):
            if SCALE.search(view.original[run[0].start : run[-1].end]):
                continue
            digit_tokens = [t for t in run if t.is_digits]
            digits = "".join(t.text for t in digit_tokens)
            plus = run[0].text.lower() in PLUS
            cues = {re.sub(r"['’]s$", "", w) for w in preceding_words(view.original, run[0].start, 8)}
            one_by_one = len(digit_tokens) >= 7 and all(len(t.text) == 1 for t in digit_tokens)
            written = not any(t.spoken for t in run)
            commas = "," in view.original[run[0].start : run[-1].end]
            if written and not (
                one_by_one or (commas and (plus or cues & (CPR_CUES | ID_CUES | set(PHONE_CONTEXT))))
            ):
                continue  # the digit recognizers read it; a cue-less list is no number ("5, 10, 15, 20")
            found = classify_run(digits, len(digit_tokens), plus, cues)
            if found:
                kind, score = found
                score = score - 0.15 if written else score  # a specific written pattern wins the type
                start, end = run[0].start, max(t.end for t in run)
                out.append(self.result(kind, start, end, score, "spoken digits"))
        return out


_DOT = r"(?:dot|punktum|prik)"
SPOKEN_URL = re.compile(
    rf"(?<![\w@.])(?:(?:www|w w w)\s+{_DOT}\s+)?(?P<host>[^\W_]+(?:[-][^\W_]+)*)"
    rf"(?P<rest>(?:\s+{_DOT}\s+[^\W_]+){{1,3}})(?P<path>(?:\s+(?:slash|skråstreg)\s+[^\W_]+)*)(?![\w@])",
    re.IGNORECASE,
)


class SpokenUrlRecognizer(InterviewRecognizer):
    """Web addresses said aloud: 'signeskitchen dot dk', 'www dot anna-jensen dot com slash blog'."""

    ENTITIES = ("URL",)
    CONTEXT = ("blog", "website", "site", "hjemmeside", "web", "page", "side")

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        out = []
        for m in SPOKEN_URL.finditer(text):
            host = m.group("host")
            if host.lower() in FUNCTION_WORDS:
                continue
            parts = [host] + re.findall(rf"{_DOT}\s+([^\W_]+)", m.group("rest"), re.IGNORECASE)
            if not has_public_suffix(".".join(parts).lower()):
                continue
            out.append(self.result("URL", m.start(), m.end(), 0.7, "spoken web address"))
        return out
