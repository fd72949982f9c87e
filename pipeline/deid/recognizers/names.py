"""Person names beyond spaCy's NER: cue phrases, a multilingual name gazetteer, and the project's known names.

Interview transcripts lower-case names ("follow up with patricia"), misspell them (Whisper writes
"Jenson" for "Jensen") and list them ("Anna, Mette and Lars"). These recognizers catch those cases;
the engine then replaces every later mention of a detected name in the same transcript.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from presidio_analyzer import RecognizerResult
from rapidfuzz import fuzz, process

from pipeline.deid.gazetteer import FUNCTION_WORDS, NAME_PARTICLES, TITLES, WORD_RE, NameGazetteer, fold
from pipeline.deid.recognizers.base import InterviewRecognizer


@dataclass
class Word:
    text: str
    start: int
    end: int
    sent_start: bool
    propn: bool | None  # None: no tagger for this language

    @property
    def cap(self) -> bool:
        return self.text[:1].isupper()

    @property
    def initial(self) -> bool:
        return len(self.text) == 1 and self.text.isupper()


def words_of(text: str, nlp_artifacts=None) -> list[Word]:
    pos_at: dict[int, str] = {}
    doc = getattr(nlp_artifacts, "tokens", None) if nlp_artifacts is not None else None
    tagged = doc is not None and any(getattr(t, "pos_", "") for t in doc)
    if tagged:
        pos_at = {t.idx: t.pos_ for t in doc}
    out = []
    for m in WORD_RE.finditer(text):
        before = text[: m.start()].rstrip()
        sent_start = not before or before[-1] in '.!?:;"“(>-–—…'
        word = re.sub(r"['’]s$", "", m.group(0))  # "Jensen's" -> "Jensen": the possessive stays in the text
        out.append(
            Word(
                word,
                m.start(),
                m.start() + len(word),
                sent_start,
                (pos_at.get(m.start()) == "PROPN") if tagged else None,
            )
        )
    return out


def _gap(text: str, a: Word, b: Word) -> str:
    return text[a.end : b.start]


class GazetteerNameRecognizer(InterviewRecognizer):
    """Words found in Faker's first/last-name lists, where capitals, tags or neighbours support them."""

    ENTITIES = ("PERSON",)
    CONTEXT = (
        "name",
        "called",
        "named",
        "mr",
        "mrs",
        "ms",
        "dr",
        "husband",
        "wife",
        "son",
        "daughter",
        "friend",
    )

    def __init__(self, language: str, names: NameGazetteer, english_words: frozenset[str], **kw):
        super().__init__(language, **kw)
        self.names = names
        self.english = english_words

    def _score(self, w: Word, lower_text: bool) -> float:
        f = fold(w.text)
        if f in FUNCTION_WORDS or len(f) < 2 or not self.names.is_name(w.text):
            return 0.0
        common = w.text.lower() in self.english or f in self.english
        if w.cap and not (w.text.isupper() and len(w.text) > 3):
            if not common:
                return 0.6 if not w.sent_start or w.propn is not False else 0.45
            if w.propn:
                return 0.5 if not w.sent_start else 0.4
            return 0.0
        if not common and (lower_text or w.propn):
            return 0.45
        return 0.0

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        words = words_of(text, nlp_artifacts)
        lower_text = text == text.lower()
        scores = [self._score(w, lower_text) for w in words]
        candidates = [self.names.is_name(w.text) and fold(w.text) not in FUNCTION_WORDS for w in words]
        for i, w in enumerate(words):  # "Guilty Pleasures", "Labor Day": a word-name inside a title phrase
            if scores[i] and (w.text.lower() in self.english or fold(w.text) in self.english):
                for j in (i - 1, i + 1):
                    if (
                        0 <= j < len(words)
                        and words[j].cap
                        and not candidates[j]
                        and not _gap(text, words[min(i, j)], words[max(i, j)]).strip()
                    ):
                        scores[i] = 0.0
        for _ in range(2):  # neighbours support ambiguous names: "Rose Jensen", "Anna, Will and Mark"
            for i, w in enumerate(words):
                if scores[i] or not (w.cap or lower_text) or fold(w.text) in FUNCTION_WORDS:
                    continue
                unknown_ok = not candidates[i] and w.text.lower() not in self.english and len(w.text) > 2
                if not candidates[i] and not unknown_ok:
                    continue
                for j in (i - 1, i + 1):
                    if 0 <= j < len(words) and scores[j] >= 0.45:
                        gap = _gap(text, words[min(i, j)], words[max(i, j)])
                        listed = gap.strip() in (",", "and", ", and", "og", "und", "et", "y", "e", "&")
                        # an unknown word joins a name only inside a list ("Efimiya, Mary and Jodi")
                        if listed or (not gap.strip() and candidates[i]):
                            scores[i] = 0.45
        # an unknown capitalised word right after a first name is a surname: "Aantje Mourik"
        for i in range(len(words) - 1):
            a, b = words[i], words[i + 1]
            if (
                scores[i]
                and self.names.is_first(a.text)
                and b.cap
                and not _gap(text, a, b).strip()
                and not scores[i + 1]
            ):
                if fold(b.text) not in FUNCTION_WORDS and b.text.lower() not in self.english:
                    scores[i + 1] = scores[i]
        return [
            self.result("PERSON", s, e, sc, "name gazetteer") for s, e, sc in _join_names(text, words, scores)
        ]


def _join_names(text: str, words: list[Word], scores: list[float]) -> list[tuple[int, int, float]]:
    """Join name words separated by spaces, initials ('Ravil G Yefimov') or particles ('ten Pas')."""
    spans: list[list] = []
    i = 0
    while i < len(words):
        if not scores[i]:
            i += 1
            continue
        start, end, best = words[i].start, words[i].end, scores[i]
        j = i + 1
        while j < len(words):
            gap = text[end : words[j].start]
            if gap.strip() not in ("", ".") or (gap.strip() == "." and not words[j - 1].initial):
                break  # "Holm. Peter" are two names; "G. Yefimov" is one
            w = words[j]
            if scores[j]:
                end, best = w.end, max(best, scores[j])
            elif (w.initial or fold(w.text) in NAME_PARTICLES) and j + 1 < len(words) and words[j + 1].cap:
                nxt_gap = text[w.end : words[j + 1].start]
                if nxt_gap.strip() not in ("", ".") or (nxt_gap.strip() == "." and not w.initial):
                    break
                end = words[j + 1].end
                j += 1
            else:
                break
            j += 1
        spans.append([start, end, best])
        i = j
    return [tuple(s) for s in spans]


_STRONG_CUE = r"my name is|my name's|name's|name is|names? (?:is|are)|call me|calls me|called me|i am called|i'm called|named|name[:?]"
_WEAK_CUE = r"i am|i'm|this is|said|asked|told|thanks|thank you|hi|hello|dear|meet|with|by|to|and"
CUE_RE = re.compile(rf"\b(?:(?P<strong>{_STRONG_CUE})|(?P<weak>{_WEAK_CUE}))\s+", re.IGNORECASE)
TITLE_RE = re.compile(
    r"\b(?P<title>" + "|".join(sorted(TITLES, key=len, reverse=True)) + r")\.?\s+(?=\w)", re.IGNORECASE
)


class NameCueRecognizer(InterviewRecognizer):
    """Names after cue phrases ('my name is ...', 'call me ...') and titles ('Ms Jensen', 'Dr. Wells')."""

    ENTITIES = ("PERSON",)

    def __init__(self, language: str, names: NameGazetteer, english_words: frozenset[str], **kw):
        super().__init__(language, **kw)
        self.names = names
        self.english = english_words

    def _name_at(self, text: str, pos: int, lower_ok: bool, max_words: int = 3) -> tuple[int, int] | None:
        words = [w for w in WORD_RE.finditer(text, pos)][: max_words + 1]
        if not words or words[0].start() != pos:
            return None
        end = None
        for k, m in enumerate(words[:max_words]):
            gap = text[words[k - 1].end() : m.start()].strip() if k else ""
            if gap not in ("", ".") or (gap == "." and len(words[k - 1].group(0)) > 1):
                break
            w = m.group(0)
            f = fold(w)
            if f in FUNCTION_WORDS or f in ("but", "everyone", "everybody", "people", "from", "and"):
                break
            if w[0].isupper() or (
                lower_ok and (len(w) == 1 or w.lower() not in self.english or self.names.is_name(w))
            ):
                end = m.end()
            elif k and len(w) == 1:
                continue
            else:
                break
        return (pos, end) if end else None

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        out = []
        for m in CUE_RE.finditer(text):
            strong = m.group("strong") is not None
            span = self._name_at(text, m.end(), lower_ok=strong)
            if not span:
                continue
            first = text[span[0] : span[1]].split()[0]
            score = 0.6
            if not strong:
                # weak cues ("with", "said") only back a capitalised known name or non-English word
                plausible = self.names.is_name(first) or first.lower() not in self.english
                if not (first[0].isupper() and plausible):
                    continue
                score = 0.45
            out.append(self.result("PERSON", span[0], span[1], score, "name cue"))
        for m in TITLE_RE.finditer(text):
            span = self._name_at(text, m.end(), lower_ok=False)
            if span:
                out.append(self.result("PERSON", span[0], span[1], 0.65, "title before name"))
        out += self._patterns(text)
        return out

    def _patterns(self, text: str) -> list[RecognizerResult]:
        out = []
        for m in INITIAL_NAME_RE.finditer(text):  # "Ravil G Yefimov", "Halldór Ó Árnþórsson"
            a, b = m.group("a"), m.group("b")
            if not (a[0].isupper() and b[0].isupper()) or m.group(0).split()[1] == "I":
                continue
            if a.lower() not in self.english or b.lower() not in self.english or self.names.is_name(a):
                out.append(self.result("PERSON", m.start(), m.end(), 0.5, "name with middle initial"))
        for m in SUBJECT_RE.finditer(text):  # "Irenka is very reliable", "Warrane, can I ..."
            w = m.group("w")
            before = text[: m.start("w")].rstrip()
            if before and before[-1] not in '.!?:;"“(':
                continue
            if fold(w) in FUNCTION_WORDS or w.lower() in self.english or len(w) < 3 or w.isupper():
                continue
            out.append(self.result("PERSON", m.start("w"), m.end("w"), 0.45, "name as subject or vocative"))
        return out


INITIAL_NAME_RE = re.compile(r"\b(?P<a>[^\W\d_][^\W\d_]+)\s+[^\W\d_a-z]\.?\s+(?P<b>[^\W\d_][^\W\d_'’-]+)\b")
SUBJECT_RE = re.compile(
    r"(?P<w>\b[^\W\d_a-z][^\W\d_]+)(?=,\s|\s+(?:lives|lived|works|worked|said|says|told|tells|is|was|has|had|"
    r"began|spent|shouted|went|asked|wants|wanted|likes|loves|called|came|moved|married|died|left)\b)"
)


class KnownNameRecognizer(InterviewRecognizer):
    """The project's and the interview's known names: case-insensitive, and fuzzy for misspellings."""

    ENTITIES = ("PERSON",)

    def __init__(
        self, language: str, known_names: list[str], english_words: frozenset[str], threshold: int, **kw
    ):
        super().__init__(language, **kw)
        self.english = english_words
        self.threshold = threshold
        parts = {fold(p) for name in known_names for p in WORD_RE.findall(name)}
        self.parts = sorted(p for p in parts if p not in FUNCTION_WORDS and len(p) >= 2)
        self._exact = set(self.parts)
        self._fuzzable = [p for p in self.parts if len(p) >= 4]

    def match(self, word: str) -> float:
        """0 when ``word`` is not a known name part, else a score (exact 0.95, fuzzy 0.75)."""
        f = fold(word)
        if f in self._exact:
            return 0.95
        if len(f) < 3 or f in FUNCTION_WORDS or not self._fuzzable:
            return 0.0
        if word.lower() in self.english and not word[:1].isupper():
            return 0.0  # a lower-case English word is that word, not a misspelt name
        best = process.extractOne(f, self._fuzzable, scorer=fuzz.ratio, score_cutoff=self.threshold)
        return 0.75 if best else 0.0

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        if not self.parts:
            return []
        words = words_of(text)
        scores = [self.match(w.text) for w in words]
        return [
            self.result("PERSON", s, e, sc, "known name") for s, e, sc in _join_names(text, words, scores)
        ]
