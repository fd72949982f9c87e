"""Numbers as people say them: phone numbers in digit groups or words, CPR numbers, long numbers, ages."""

from __future__ import annotations

import re
from datetime import date

from presidio_analyzer import RecognizerResult

from pipeline.deid.recognizers.base import InterviewRecognizer, digits_of, preceding_words

DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "nought": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_DIGIT_WORD = r"(?:zero|oh|nought|one|two|three|four|five|six|seven|eight|nine|double\s+\w+|triple\s+\w+)"

PHONE_CONTEXT = (
    "phone",
    "telephone",
    "number",
    "mobile",
    "cell",
    "call",
    "ring",
    "text",
    "reach",
    "answering",
    "messages",
    "registered",
    "tlf",
    "telefon",
    "nummer",
    "mobil",
    "ring",
)


def _plausible_date_groups(groups: list[str]) -> bool:
    """'12 03 1985' or '12-03-85': day month year groups are a date, not a phone number."""
    if len(groups) != 3:
        return False
    a, b, c = groups
    if len(c) not in (2, 4) or len(a) > 2 or len(b) > 2:
        return False
    day, month = int(a), int(b)
    if not (1 <= day <= 31 and 1 <= month <= 12) and not (1 <= month <= 31 and 1 <= day <= 12):
        return False
    return len(c) == 2 or 1900 <= int(c) <= 2100


_GROUP_RE = re.compile(r"[+(]*\d+\)?")


def _split_digit_run(run: str) -> list[tuple[int, int]]:
    """Spans of the phone numbers in a run of digit groups too long to be one number.

    The groups are cut into consecutive numbers of 7-15 digits each: the fewest numbers, then
    cuts before a group that opens with '(' or '+', then numbers of even length. Nothing when
    no such cut exists.
    """
    groups = [
        (g.start(), g.end(), len(digits_of(g.group(0))), g.group(0)[0] in "(+")
        for g in _GROUP_RE.finditer(run)
    ]
    best: dict[int, tuple[tuple[float, ...], list[int]]] = {0: ((0, 0, 0.0), [])}
    for i in range(1, len(groups) + 1):
        for j in range(i):
            if j not in best:
                continue
            digits = sum(g[2] for g in groups[j:i])
            if not 7 <= digits <= 15:
                continue
            (count, plain_cuts, spread), cuts = best[j]
            cost = (count + 1, plain_cuts + (j > 0 and not groups[j][3]), spread + abs(digits - 10))
            if i not in best or cost < best[i][0]:
                best[i] = (cost, [*cuts, j])
    if len(groups) not in best:
        return []
    cuts = [*best[len(groups)][1], len(groups)]
    return [(groups[a][0], groups[b - 1][1]) for a, b in zip(cuts, cuts[1:])]


class DigitGroupPhoneRecognizer(InterviewRecognizer):
    """Phone numbers spoken in digit groups ("45 22 31 90", "+44 7700 900 123") or as digit words."""

    ENTITIES = ("PHONE_NUMBER",)
    CONTEXT = PHONE_CONTEXT
    # Groups of 2-6 digits ("07700 900123"), split by a space, dot or dash, or by " -" as speech
    # recognition writes a spoken pause ("202 -55 -0178").
    GROUPS = re.compile(
        r"(?<![\w+])(\+\s?\d{1,3}[\s.-]?)?(\(?\d{2,5}\)?(?:(?:\s?[.-]|\s)\d{2,6}){1,14})(?![\w-])"
    )
    WORDS = re.compile(rf"\b{_DIGIT_WORD}(?:[\s,-]+{_DIGIT_WORD}){{6,14}}\b", re.IGNORECASE)

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        out = []
        for m in self.GROUPS.finditer(text):
            groups = re.findall(r"\d+", m.group(2))
            n = len(digits_of(m.group(0)))
            if n > 15:  # two or more numbers back to back: "(202) 555-0100 202-555-0100"
                for start, end in _split_digit_run(m.group(0)):
                    out.append(
                        self.result(
                            "PHONE_NUMBER", m.start() + start, m.start() + end, 0.5, "digit groups, split"
                        )
                    )
                continue
            if n < 7 or _plausible_date_groups(groups):
                continue
            cue = bool(set(preceding_words(text, m.start())) & set(self.CONTEXT))
            phone_cue = bool(
                set(preceding_words(text, m.start()))
                & {"phone", "mobile", "call", "ring", "telephone", "cell", "tlf"}
            )
            if not phone_cue and re.fullmatch(r"\d{3}([- ])\d{2}\1\d{4}", m.group(0)):
                continue  # the shape of a US social security number: left to that recognizer
            score = 0.55 if (m.group(1) or cue or len(groups) >= 3) else 0.4
            out.append(self.result("PHONE_NUMBER", m.start(), m.end(), score, "digit groups"))
        for m in self.WORDS.finditer(text):
            n = self._count_spoken_digits(m.group(0))
            if 7 <= n <= 15:
                out.append(self.result("PHONE_NUMBER", m.start(), m.end(), 0.5, "spoken digits"))
        return out

    @staticmethod
    def _count_spoken_digits(spoken: str) -> int:
        words = re.findall(r"[a-z]+", spoken.lower())
        n, i = 0, 0
        while i < len(words):
            w = words[i]
            if w in ("double", "triple") and i + 1 < len(words):
                n += 2 if w == "double" else 3
                i += 2
                continue
            n += 1 if w in DIGIT_WORDS else 0
            i += 1
        return n


class LongNumberRecognizer(InterviewRecognizer):
    """Any long run of digits (account, card, membership numbers) that no specific recognizer took."""

    ENTITIES = ("ID_NUMBER",)
    CONTEXT = ("number", "account", "card", "id", "member", "reference", "no")

    def __init__(self, language: str, min_digits: int = 9, **kw):
        super().__init__(language, **kw)
        self.min_digits = min_digits
        self.pattern = re.compile(rf"(?<![\w.])\d{{{min_digits},30}}(?![\w])")

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        return [
            self.result("ID_NUMBER", m.start(), m.end(), 0.5, "long number")
            for m in self.pattern.finditer(text)
        ]


class DkCprRecognizer(InterviewRecognizer):
    """Danish CPR numbers DDMMYY-SSSS (with '-', space or nothing); the date part must be valid."""

    ENTITIES = ("DK_CPR",)
    CONTEXT = ("cpr", "cpr-nummer", "personnummer", "cpr-nr", "personal", "civil", "registration")
    PATTERN = re.compile(r"(?<![\w-])(\d{2})[ .]?(\d{2})[ .]?(\d{2})[ -]?(\d{4})(?![\w-])")

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        out = []
        for m in self.PATTERN.finditer(text):
            day, month, yy, serial = (int(g) for g in m.groups())
            century = self._century(yy, int(m.group(4)[0]))
            try:
                date(century + yy, month, day)
            except ValueError:
                continue
            score = 0.6 if re.search(r"\d{6}[ -]\d{4}", m.group(0)) else 0.45
            out.append(self.result("DK_CPR", m.start(), m.end(), score, "CPR pattern with valid date"))
        return out

    @staticmethod
    def _century(yy: int, first_serial_digit: int) -> int:
        # CPR rule: the 7th digit and the year tell the century.
        if first_serial_digit in (0, 1, 2, 3):
            return 1900
        if first_serial_digit in (4, 9):
            return 2000 if yy <= 36 else 1900
        return 2000 if yy <= 57 else 1800


_UNITS = r"(?:years?|yrs?|year-old|years-old|yo)"
_NUMBER_WORDS = (
    r"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?"
    r"|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
    r"|one|two|three|four|five|six|seven|eight|nine|a hundred)"
)
_AGE_NUM = rf"(?:1[01]\d|\d{{1,2}}|{_NUMBER_WORDS})"
NOT_AGE_AFTER = re.compile(
    r"\s*(?:%|percent|per|minutes?|mins?|hours?|days?|weeks?|months?|seconds?|o'clock|pm|am|a\.m|p\.m|"
    r"km|kilometres?|miles?|kg|kilos?|pounds?|dollars?|kroner|euros?|times|of|th\b|st\b|nd\b|rd\b|"
    r"people|children|kids|things|and a half|:)",
    re.IGNORECASE,
)


class AgeRecognizer(InterviewRecognizer):
    """Ages: "I'm 34", "aged 62", "65-year-old", "turned forty", "62 years old"."""

    ENTITIES = ("AGE",)
    CONTEXT = ("age", "aged", "old", "birthday", "born")
    CUED = re.compile(
        rf"\b(?:i'?m|i am|(?:he|she|they)(?:'s| is| are)|was|were|aged|age(?: of)?|ages|turn(?:s|ed|ing)?|"
        rf"now|just)\s+(?:only\s+|just\s+|almost\s+|nearly\s+|about\s+)?(?P<age>{_AGE_NUM})\b",
        re.IGNORECASE,
    )
    WITH_UNIT = re.compile(rf"\b(?P<age>{_AGE_NUM})[\s-]+{_UNITS}(?:[\s-]+old)?\b", re.IGNORECASE)

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        out = []
        for m in self.WITH_UNIT.finditer(text):
            tail = text[m.end() : m.end() + 12].lower()
            old = "old" in m.group(0).lower() or tail.lstrip().startswith("old")
            before = " ".join(preceding_words(text, m.start(), 3))
            if old or re.search(r"\b(aged|age)\b", before):
                out.append(self.result("AGE", m.start("age"), m.end("age"), 0.65, "age with unit"))
        for m in self.CUED.finditer(text):
            if NOT_AGE_AFTER.match(text, m.end()):
                continue
            word = m.group(0).split()[0].lower()
            weak = word in ("was", "were", "now", "just")
            out.append(self.result("AGE", m.start("age"), m.end("age"), 0.5 if weak else 0.6, "age cue"))
        return out


def age_band(value: str) -> str | None:
    """'34' -> '30-39'; number words are not banded (None)."""
    if value.isdigit():
        n = int(value)
        lo = (n // 10) * 10
        return f"{lo}-{lo + 9}"
    return None


_MONTH = r"(?:january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?"
_ORD_WORDS = (
    r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|fourteenth|"
    r"fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|thirtieth|twenty[- ](?:first|second|third|"
    r"fourth|fifth|sixth|seventh|eighth|ninth)|thirty[- ]first)"
)
_DAY = rf"(?:\d{{1,2}}(?:st|nd|rd|th)?|{_ORD_WORDS})"
_YEAR = r"(?:,?\s+(?:(?:19|20)\d\d|(?:nineteen|twenty)[- ]\w+(?:[- ]\w+)?))?"


class SpokenDateRecognizer(InterviewRecognizer):
    """Dates as said: 'the second of June, 2022', 'March 14th', 'fourteenth of March'."""

    ENTITIES = ("DATE_TIME",)
    PATTERN = re.compile(
        rf"\b(?:(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}|{_MONTH}\s+(?:the\s+)?{_DAY}){_YEAR}\b",
        re.IGNORECASE,
    )

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        out = []
        for m in self.PATTERN.finditer(text):
            if re.fullmatch(r"may\s+\d{1,2}", m.group(0), re.IGNORECASE):
                continue  # "may 2 people ..." is not a date
            out.append(self.result("DATE_TIME", m.start(), m.end(), 0.6, "day and month"))
        return out
