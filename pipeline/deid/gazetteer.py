"""Word lists the name recognizers need: first and last names from Faker's locales, and English words.

Both come from installed packages (Faker, the spaCy English model's lemmatizer tables), so nothing is
downloaded. The English word list only decides how much context a gazetteer name needs: "Rose" or
"Will" are names and words, "Jensen" is only a name.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

logger = logging.getLogger(__name__)

# Words that are never a name on their own, whatever a gazetteer says.
FUNCTION_WORDS = frozenset(
    """a an the and or but if of in on at to for from by with without about as into onto over under
    i me my mine you your yours he him his she her hers it its we us our ours they them their theirs
    this that these those who whom whose which what when where why how all any some no not yes
    is am are was were be been being do does did have has had will would shall should can could
    may might must so than then there here very just also too only even still yet
    mr mrs ms miss dr prof sir madam mum mom dad
    january february march april june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday""".split()
)

FUNCTION_WORDS = FUNCTION_WORDS | frozenset(
    f"{w}{suffix}"
    for w in FUNCTION_WORDS
    for suffix in ("'s", "'m", "'re", "'ve", "'d", "'ll", "n't", "’s", "’m")
)

# Titles before a surname ("Ms Jensen"); the title itself is kept in the text.
TITLES = frozenset("mr mrs ms miss mx dr prof professor sir dame lady lord rev fru hr frk herr frau".split())

# Particles inside multi-part surnames ("ten Pas", "van der Berg", "de la Cruz").
NAME_PARTICLES = frozenset(
    "van der den ten ter de del della dei da do dos das di du la le von zu af al el bin ibn".split()
)

WORD_RE = re.compile(r"[^\W\d_]+(?:['’.-][^\W\d_]+)*", re.UNICODE)


def fold(text: str) -> str:
    """Case-fold and strip accents: 'Jožef' -> 'jozef'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def available_name_locales() -> tuple[str, ...]:
    import faker.providers.person as person

    return tuple(sorted(m.name for m in pkgutil.iter_modules(person.__path__)))


def _provider_names(locale: str) -> tuple[set[str], set[str], set[str], set[str]]:
    """(first, last, male first, female first) names of one Faker locale, as published by Faker."""
    module = importlib.import_module(f"faker.providers.person.{locale}")
    prov = module.Provider
    out: list[set[str]] = [set(), set(), set(), set()]
    for idx, attr in (
        (0, "first_names"),
        (0, "first_names_nonbinary"),
        (1, "last_names"),
        (2, "first_names_male"),
        (3, "first_names_female"),
    ):
        value = getattr(prov, attr, None)
        if isinstance(value, (list, tuple, dict)):
            out[idx].update(str(v) for v in value)
    out[0] |= out[2] | out[3]
    return out[0], out[1], out[2], out[3]


@dataclass
class NameGazetteer:
    """Folded first and last names; gender of first names where a locale says so."""

    first: frozenset[str] = field(default_factory=frozenset)
    last: frozenset[str] = field(default_factory=frozenset)
    male: frozenset[str] = field(default_factory=frozenset)
    female: frozenset[str] = field(default_factory=frozenset)

    def is_first(self, word: str) -> bool:
        return fold(word) in self.first

    def is_last(self, word: str) -> bool:
        return fold(word) in self.last

    def is_name(self, word: str) -> bool:
        f = fold(word)
        return f in self.first or f in self.last

    def gender(self, first_name: str) -> str | None:
        f = fold(first_name)
        male, female = f in self.male, f in self.female
        if male and not female:
            return "male"
        if female and not male:
            return "female"
        return None


def _single_words(names: set[str]) -> set[str]:
    out = set()
    for name in names:
        for part in name.split():
            if len(part) >= 2 and WORD_RE.fullmatch(part):
                out.add(fold(part))
    return out - FUNCTION_WORDS


@lru_cache(maxsize=8)
def load_name_gazetteer(locales: tuple[str, ...] = ()) -> NameGazetteer:
    """Names from the given Faker locales (all of them when empty)."""
    first: set[str] = set()
    last: set[str] = set()
    male: set[str] = set()
    female: set[str] = set()
    for loc in locales or available_name_locales():
        try:
            f, la, m, fe = _provider_names(loc)
        except ImportError as e:  # a locale listed by pkgutil but not importable
            logger.warning("name gazetteer: Faker locale %s not loadable (%s)", loc, type(e).__name__)
            continue
        first |= f
        last |= la
        male |= m
        female |= fe
    gaz = NameGazetteer(
        first=frozenset(_single_words(first)),
        last=frozenset(_single_words(last)),
        male=frozenset(_single_words(male)),
        female=frozenset(_single_words(female)),
    )
    logger.debug("name gazetteer: %d first, %d last names", len(gaz.first), len(gaz.last))
    return gaz


def english_words_from_model(nlp) -> frozenset[str]:
    """Lower-case English words from a spaCy English model's lemmatizer tables (WordNet-based).

    Returns an empty set when the pipeline has no rule lemmatizer with those tables.
    """
    words: set[str] = set()
    if nlp is None or "lemmatizer" not in nlp.pipe_names:
        return frozenset()
    lookups = getattr(nlp.get_pipe("lemmatizer"), "lookups", None)
    if lookups is None:
        return frozenset()
    for table_name in ("lemma_index", "lemma_exc"):
        if not lookups.has_table(table_name):
            continue
        table = lookups.get_table(table_name)
        for pos in table:
            entries = table[pos]
            words.update(w for w in entries if isinstance(w, str) and w.isalpha())
    return frozenset(words)
