"""Numbers as people say them, turned into digits with offsets back into the original text.

Transcripts hold numbers in words ("twenty two, thirty four", "plus forty five", "double nine",
"to otte tre en fem fem nul to", "otteogtyve"). ``text2num`` (``alpha2digit``) converts the number
words of English, Danish and six more languages; this module aligns its output with the original
words, so every digit token knows which original characters it came from, and adds what
``text2num`` leaves alone: "double"/"triple"/"dobbelt" and "oh" for zero between digits.

``normalise(text, lang)`` returns ``Token``s; ``NormalisedText`` joins them into a string on which
the ordinary digit recognizers run, and maps a span of that string back to the original text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from text_to_num import alpha2digit

# Languages text2num reads (https://github.com/allo-media/text2num).
TEXT2NUM_LANGUAGES = frozenset({"en", "da", "de", "nl", "fr", "es", "pt", "it"})
TOKEN_RE = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*|[^\w\s]", re.UNICODE)
REPEAT = {"double": 2, "triple": 3, "dobbelt": 2, "tredobbelt": 3, "dobbel": 2}
ZERO_WORDS = frozenset({"oh", "o", "nought", "nul"})


@dataclass(frozen=True)
class Token:
    """One word of the normalised text; ``start``/``end`` are offsets in the ORIGINAL text."""

    text: str
    start: int
    end: int
    spoken: bool  # made from number words (not written as digits in the original)

    @property
    def is_digits(self) -> bool:
        return self.text.isdigit()


@lru_cache(maxsize=2048)
def _convert(text: str, lang: str) -> str:
    try:
        return alpha2digit(text, lang, threshold=0)
    except (ValueError, RuntimeError):  # text2num refuses some inputs; the text stays as written
        return text


def normalise(text: str, lang: str) -> list[Token]:
    """The words of ``text`` with spoken numbers as digit tokens (offsets into ``text``)."""
    original = [(m.group(0), m.start(), m.end()) for m in TOKEN_RE.finditer(text)]
    if lang not in TEXT2NUM_LANGUAGES:
        return [Token(w, s, e, False) for w, s, e in original]
    converted = TOKEN_RE.findall(_convert(text, lang))
    words = [w for w, _, _ in original]
    tokens: list[Token] = []
    matcher = SequenceMatcher(None, words, converted, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            tokens += [Token(w, s, e, False) for w, s, e in original[i1:i2]]
        elif op in ("replace", "insert") and i2 > i1:
            start, end = original[i1][1], original[i2 - 1][2]
            tokens += [Token(w, start, end, True) for w in converted[j1:j2]]
    return _repeats_and_zeros(tokens)


def _repeats_and_zeros(tokens: list[Token]) -> list[Token]:
    """'double 9' -> '99', 'triple 0' -> '000'; 'oh'/'o' between digits -> '0'."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        low = t.text.lower()
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if low in REPEAT and nxt is not None:
            digit = "0" if nxt.text.lower() in ZERO_WORDS else nxt.text
            if len(digit) == 1 and digit.isdigit():
                out.append(Token(digit * REPEAT[low], t.start, nxt.end, True))
                i += 2
                continue
        if low in ZERO_WORDS and (_digit_beside(out[::-1]) or _digit_beside(tokens[i + 1 :])):
            out.append(Token("0", t.start, t.end, True))
            i += 1
            continue
        out.append(t)
        i += 1
    return out


def _digit_beside(tokens: list[Token]) -> bool:
    """Whether the first token that is not a separator is a digit (or 'double')."""
    for t in tokens[:3]:
        if t.text in (",", "-", "…", "."):
            continue
        return t.is_digits or t.text.lower() in REPEAT
    return False


class NormalisedText:
    """The tokens joined into one string, with a map from its spans back to the original text."""

    def __init__(self, original: str, tokens: list[Token]):
        self.original = original
        self.tokens = tokens
        parts, self._at = [], []  # (norm_start, norm_end, token index)
        pos = 0
        for k, t in enumerate(tokens):
            if k:
                prev = tokens[k - 1]
                gap = original[prev.end : t.start] if not (t.spoken or prev.spoken) else " "
                gap = gap if t.start >= prev.end else " "
                parts.append(gap)
                pos += len(gap)
            parts.append(t.text)
            self._at.append((pos, pos + len(t.text), k))
            pos += len(t.text)
        self.text = "".join(parts)

    @property
    def changed(self) -> bool:
        return any(t.spoken for t in self.tokens)

    def tokens_in(self, start: int, end: int) -> list[Token]:
        return [self.tokens[k] for s, e, k in self._at if s < end and start < e]

    def to_original(self, start: int, end: int) -> tuple[int, int] | None:
        """The original span that the normalised span [start, end) came from."""
        covered = self.tokens_in(start, end)
        if not covered:
            return None
        return min(t.start for t in covered), max(t.end for t in covered)


# Number words of one language that are ordinary words of another (Danish "to", "en", "et", "fire",
# "ti", "ni"; English "one" is a Danish word only in no common sense).
AMBIGUOUS = frozenset({"to", "en", "et", "fire", "ti", "ni", "tolv", "one"})


def _lone_ambiguous(text: str, tokens: list[Token], k: int) -> bool:
    t = tokens[k]
    if not t.spoken or text[t.start : t.end].lower() not in AMBIGUOUS:
        return False
    near = [tokens[j] for j in (k - 1, k + 1) if 0 <= j < len(tokens)]
    return not any(n.spoken and n.is_digits and text[n.start : n.end].lower() not in AMBIGUOUS for n in near)


def _as_written(text: str, t: Token) -> Token:
    return Token(text[t.start : t.end], t.start, t.end, False)


def normalised_views(text: str, lang: str) -> list[NormalisedText]:
    """One normalised text per language worth trying (the transcript's, then English and Danish),
    only those in which some number word was converted."""
    views, seen = [], set()
    for code in dict.fromkeys([lang, "en", "da"]):
        tokens = normalise(text, code)
        if code != lang:  # a Danish "to" in an English text is the word "to", unless numbers surround it
            tokens = [
                _as_written(text, t) if _lone_ambiguous(text, tokens, k) else t for k, t in enumerate(tokens)
            ]
        view = NormalisedText(text, tokens)
        if view.changed and view.text not in seen:
            seen.add(view.text)
            views.append(view)
    return views


def spoken_digits(text: str) -> str:
    """The digits of a number as written or said ("45 22", "forty five, twenty two", "fem og
    fyrre"): the language (English or Danish) that reads the most digits out of it wins."""
    best = re.sub(r"\D", "", text)
    for code in ("en", "da"):
        digits = "".join(t.text for t in normalise(text, code) if t.is_digits)
        best = digits if len(digits) > len(best) else best
    return best
