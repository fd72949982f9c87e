"""What de-identification needs to know about a transcript's language, its speaker labels and markers.

* ``detect_language``: a stopword profile over spaCy's stop-word lists (installed with spaCy, no model
  needed). Each word votes for the languages whose list holds it, a word in several lists votes less;
  the best language wins when it is clearly ahead, otherwise the configured default is kept.
* ``is_role_label``: speaker labels that name a role (Interviewer, Deltager, I, P2, ...), never a name.
* ``marker_spans``: words the pipeline itself writes into a transcript (pause markers such as
  ``(2 s)``, inaudible markers such as ``[inaudible 00:12–00:18]``); de-identification never rewrites them.
"""

from __future__ import annotations

import importlib
import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

# Languages the detector chooses between by default (spaCy ships stop words for each).
DEFAULT_CANDIDATES: tuple[str, ...] = ("en", "da", "sv", "nb", "de", "nl", "fr", "es")

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

# Frequent words that tell close languages apart (Danish and Norwegian share most stop words); a word
# here votes for its language alone.
DISTINCT: dict[str, frozenset[str]] = {
    "da": frozenset(
        "hvad nogle noget nogen meget efter af sige siger sagde hedder synes altså øh lidt mig dig sig "
        "rigtig jo nå bare gerne sådan nemt tit alligevel".split()
    ),
    "nb": frozenset("hva noen noe mye etter av meg deg seg litt riktig ikkje eg kva kanskje veldig".split()),
    "sv": frozenset("jag inte och är hur vad mycket efter nåt någon också bara".split()),
}


# Frequent Danish words that spaCy lists as Norwegian or Swedish stop words but not as Danish ones.
SHARED_EXTRA: dict[str, frozenset[str]] = {
    "da": frozenset(
        """bedre bort by dag dagen del fem fin fire folk får første gang godt gå går ha hele helst helt
        henne ja kontakt kort kroner langt ligger mennesker nej ni nummer nye når rundt sagt samtidig se
        seks sent ser sin sine snart stor store stort står svært tid tolv tre tror år komme også hvordan
        hvorfor""".split()
    ),
}


@lru_cache(maxsize=32)
def stop_words(lang: str) -> frozenset[str]:
    """spaCy's stop words for ``lang`` (empty when spaCy has none)."""
    try:
        module = importlib.import_module(f"spacy.lang.{lang}.stop_words")
    except ImportError:
        return frozenset()
    words = frozenset(w.lower() for w in getattr(module, "STOP_WORDS", ()))
    return words | DISTINCT.get(lang, frozenset()) | SHARED_EXTRA.get(lang, frozenset())


# Languages so close that they are told apart by their distinct words only; the margin a winner
# needs is measured against the best language outside its group.
CLOSE_GROUPS: tuple[frozenset[str], ...] = (frozenset({"da", "nb", "nn", "no", "sv"}),)


def detect_language(
    texts: Iterable[str], candidates: Iterable[str] = DEFAULT_CANDIDATES, min_votes: float = 4.0
) -> str | None:
    """The language of ``texts`` by stop-word votes, or None when no language is clearly ahead.

    A language wins with at least ``min_votes`` votes and 1.25 times the votes of the best language
    outside its group of close languages (Danish, Norwegian, Swedish share many stop words); inside
    the group the most votes win, the earlier candidate on a tie.
    """
    langs = [c for c in dict.fromkeys(candidates) if stop_words(c)]
    if not langs:
        return None
    votes: Counter[str] = Counter()
    for text in texts:
        for word in _WORD.findall(text.lower()):
            distinct = [c for c in langs if word in DISTINCT.get(c, ())]
            holders = distinct if len(distinct) == 1 else [c for c in langs if word in stop_words(c)]
            for c in holders:
                votes[c] += 1.0 / len(holders)
    if not votes:
        return None
    best = max(langs, key=lambda c: (votes[c], -langs.index(c)))
    if votes[best] < min_votes:
        return None
    group = next((g for g in CLOSE_GROUPS if best in g), frozenset({best}))
    rival = max((votes[c] for c in langs if c not in group), default=0.0)
    return best if votes[best] >= 1.25 * rival else None


# Role words in the languages this project meets, lower case; a number may follow ("P2", "Deltager 1").
ROLE_WORDS: frozenset[str] = frozenset(
    """interviewer interviewee participant respondent moderator researcher facilitator speaker
    unknown spk int iv ie i q a p r s d
    deltager deltagere informant interviewperson interviewpersonen interviewer interviewperson
    intervieweren deltageren informanten forsker taler ukendt
    intervjuare deltagare intervjuer deltaker informantin teilnehmer interviewerin befragter""".split()
)
_ROLE_LABEL = re.compile(r"(?P<word>[^\W\d_]+)[\s_-]*\d*", re.UNICODE)


def is_role_label(label: str, extra: Iterable[str] = ()) -> bool:
    """True for 'Interviewer', 'Deltager', 'I', 'P2', 'Speaker 3' and the configured ``extra`` labels
    (where ``{n}`` stands for a number: 'Gruppe {n}')."""
    text = label.strip()
    if not text:
        return True
    for e in extra:
        pattern = re.escape(e.strip()).replace(re.escape("{n}"), r"\d+")
        if e.strip() and re.fullmatch(pattern, text, re.IGNORECASE):
            return True
    m = _ROLE_LABEL.fullmatch(text)
    return bool(m) and m.group("word").casefold() in ROLE_WORDS


# "(2 s)", "(16 s)", "(1.5 s)": pause markers; "[inaudible 00:12–00:18]", "[uhørligt 1:02:03-1:02:09]",
# "[inaudible]", "[laughter]". Only these exact forms: a marker has no free text, so nothing a speaker
# said (or a reviewer typed) can hide a name inside brackets.
_MARKER_WORDS = r"(?:inaudible|uhørligt|unclear|utydeligt|crosstalk|overlap|laughter|latter|pause)"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?"
MARKER_RE = re.compile(
    r"\(\s*\d+(?:[.,]\d+)?\s*(?:s|sek|sec|seconds?|sekunder)\.?\s*\)"
    rf"|\[(?:{_MARKER_WORDS}\s+)?{_CLOCK}\s*[–—-]\s*{_CLOCK}\s*\]"
    rf"|\[{_MARKER_WORDS}\]",
    re.IGNORECASE,
)


def marker_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges of marker words in ``text``."""
    return [(m.start(), m.end()) for m in MARKER_RE.finditer(text)]
