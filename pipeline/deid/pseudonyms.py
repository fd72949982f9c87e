"""From detections to replacement text: people clustered and numbered consistently, other values keyed.

People: full names ("Anna B. Jensen") form clusters; a single name ("Anna", "Jensen" in "Ms Jensen")
joins the cluster of this transcript (or of the project's known names) that has it as first or last
name, the nearest earlier full-name mention winning; with none it is a person of its own, shared
by every interview that uses that single name alone. Clusters map to the project key by any of
their names, so the same person keeps one pseudonym across interviews.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from faker import Faker
from rapidfuzz import fuzz

from pipeline.deid.config import DeidentifyConfig
from pipeline.deid.gazetteer import FUNCTION_WORDS, TITLES, WORD_RE, NameGazetteer, fold
from pipeline.deid.key import Entry, Person, PseudonymKey
from pipeline.deid.recognizers.contact import normalise_spoken_email
from pipeline.deid.recognizers.numbers import age_band
from pipeline.deid.spoken import spoken_digits

MONTHS = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
).split()
YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
NUMERIC_TYPES = {"PHONE_NUMBER", "CREDIT_CARD", "ID_NUMBER", "DK_CPR", "UK_NHS", "US_SSN", "PL_PESEL"}


@dataclass
class Detection:
    segment: int  # index into transcript.segments
    start: int
    end: int
    entity_type: str
    score: float
    recognizer: str
    text: str
    replacement: str = ""


def name_parts(text: str) -> list[str]:
    """Folded name words without titles, initials or possessives: "Ms. Anna B. Jensen's" -> [anna, jensen]."""
    parts = []
    for w in WORD_RE.findall(text):
        w = re.sub(r"['’]s$", "", w)
        f = fold(w).strip(".")
        if len(f) < 2 or f in TITLES or f in FUNCTION_WORDS:
            continue
        parts.append(f)
    return parts


@dataclass
class _Cluster:
    names: list[str] = field(default_factory=list)
    first: set[str] = field(default_factory=set)
    last: set[str] = field(default_factory=set)
    mentions: list[int] = field(default_factory=list)  # detection indices
    full_positions: list[tuple[int, int]] = field(default_factory=list)
    seed: bool = False  # from the known-names list, not (yet) mentioned
    person: Person | None = None

    def has_part(self, part: str, threshold: int) -> bool:
        if part in self.first or part in self.last:
            return True
        if len(part) < 4:
            return False
        return any(fuzz.ratio(part, p) >= threshold for p in self.first | self.last if len(p) >= 4)


class PseudonymAssigner:
    """Fills ``Detection.replacement`` for one transcript, updating the project key."""

    def __init__(self, config: DeidentifyConfig, key: PseudonymKey, names: NameGazetteer, interview_id: str):
        self.config = config
        self.key = key
        self.names = names
        self.interview_id = interview_id
        self.threshold = config.fuzzy_threshold

    # -- people --------------------------------------------------------------------------------
    def _cluster_people(self, dets: list[Detection]) -> list[_Cluster]:
        clusters: list[_Cluster] = []
        for name in self.config.known_names_for(self.interview_id):
            parts = name_parts(name)
            if len(parts) >= 2 and not self._find_full(clusters, parts):
                clusters.append(_Cluster([" ".join(parts)], {parts[0]}, {parts[-1]}, seed=True))
        order = sorted(range(len(dets)), key=lambda i: (dets[i].segment, dets[i].start))
        people = [i for i in order if dets[i].entity_type == "PERSON"]
        singles = []
        for i in people:
            parts = name_parts(dets[i].text)
            if len(parts) >= 2:
                c = self._find_full(clusters, parts)
                if c is None:
                    c = _Cluster()
                    clusters.append(c)
                full = " ".join(parts)
                if full not in c.names:
                    c.names.append(full)
                c.first.add(parts[0])
                c.last.add(parts[-1])
                c.mentions.append(i)
                c.full_positions.append((dets[i].segment, dets[i].start))
            else:
                singles.append(i)
        for i in singles:
            parts = name_parts(dets[i].text) or [fold(dets[i].text)]
            part, pos = parts[0], (dets[i].segment, dets[i].start)
            candidates = [
                c
                for c in clusters
                if (c.names and len(c.names[0].split()) >= 2) and c.has_part(part, self.threshold)
            ]
            if candidates:
                chosen = max(candidates, key=lambda c: _nearest_before(c, pos))
            else:
                chosen = next((c for c in clusters if c.names == [part]), None)
                if chosen is None:
                    chosen = _Cluster([part])
                    clusters.append(chosen)
            chosen.mentions.append(i)
        return [c for c in clusters if c.mentions]

    def _find_full(self, clusters: list[_Cluster], parts: list[str]) -> _Cluster | None:
        full = " ".join(parts)
        for c in clusters:
            if full in c.names:
                return c
        for c in clusters:
            if any(len(n.split()) >= 2 and fuzz.ratio(full, n) >= self.threshold for n in c.names):
                return c
        return None

    def _person_for(self, cluster: _Cluster) -> Person:
        for name in cluster.names:
            found = self.key.person_by_name(name)
            if found is not None:
                return found
        label = self.config.label_for("PERSON")
        n = self.key.next_number(label)
        person = self.key.new_person(self.config.label_format.format(label=label, n=n), label, n)
        if self.config.pseudonym_style == "surrogate":
            person.surrogate = self._surrogate_name(cluster, n)
        return person

    def _surrogate_name(self, cluster: _Cluster, n: int) -> dict[str, str]:
        fake = _faker(self.config.surrogate_locale, f"PERSON:{n}")
        first = sorted(cluster.first)[0] if cluster.first else cluster.names[0]
        gender = self.names.gender(first)
        originals = {p for c in (cluster.first, cluster.last) for p in c}
        for _ in range(20):
            given = (
                fake.first_name_male()
                if gender == "male"
                else fake.first_name_female()
                if gender == "female"
                else fake.first_name()
            )
            family = fake.last_name()
            if fold(given) not in originals and fold(family) not in originals:
                return {"first": given, "last": family}
        return {"first": given, "last": family}

    def _render_person(self, person: Person, det: Detection) -> str:
        if self.config.pseudonym_style != "surrogate" or not person.surrogate:
            return person.pseudonym
        parts = name_parts(det.text)
        if len(parts) >= 2:
            return f"{person.surrogate['first']} {person.surrogate['last']}"
        if parts and parts[0] in person.last and parts[0] not in person.first:
            return person.surrogate["last"]
        return person.surrogate["first"]

    # -- everything ----------------------------------------------------------------------------
    def assign(self, dets: list[Detection]) -> None:
        for cluster in self._cluster_people(dets):
            person = self._person_for(cluster)
            for name in cluster.names:
                parts = name.split()
                multi = len(parts) >= 2
                self.key.add_name(person, name, parts[0] if multi else None, parts[-1] if multi else None)
            for i in cluster.mentions:
                self.key.note_use(person, dets[i].text, self.interview_id)
                dets[i].replacement = self._render_person(person, dets[i])
        for d in dets:
            if d.entity_type != "PERSON":
                d.replacement = self._other(d)

    def _other(self, d: Detection) -> str:
        if d.entity_type == "DATE_TIME" and self.config.dates == "generalise":
            year = YEAR.search(d.text)
            if year:
                return f"[{year.group(1)}]"
        if d.entity_type == "AGE" and self.config.ages == "band":
            band = age_band(d.text.strip())
            if band:
                return f"[{band}]"
        canonical = canonical_value(d.entity_type, d.text)
        entry = self.key.entry(d.entity_type, canonical)
        if entry is None:
            entry = self._new_entry(d.entity_type, canonical)
        self.key.note_use(entry, d.text, self.interview_id)
        return entry.pseudonym

    def _new_entry(self, entity_type: str, canonical: str) -> Entry:
        label = self.config.label_for(entity_type)
        n = self.key.next_number(label)
        pseudonym = self.config.label_format.format(label=label, n=n)
        if self.config.pseudonym_style == "surrogate" and entity_type in ("LOCATION", "ORGANIZATION"):
            fake = _faker(self.config.surrogate_locale, f"{label}:{n}")
            pseudonym = fake.city() if entity_type == "LOCATION" else fake.company()
        return self.key.new_entry(entity_type, canonical, pseudonym, label, n)


def _nearest_before(c: _Cluster, pos: tuple[int, int]) -> tuple[int, tuple[int, int]]:
    before = [p for p in c.full_positions if p <= pos]
    if before:
        return (2, max(before))
    if c.full_positions:
        return (1, tuple(-x for x in min(c.full_positions)))
    return (0, (0, 0))


def canonical_value(entity_type: str, text: str) -> str:
    """The value a pseudonym is keyed on: digits for numbers, addresses for e-mails, folded words otherwise."""
    if entity_type in NUMERIC_TYPES:
        return spoken_digits(text) or fold(text)  # "forty five, twenty two" and "45 22": one key
    if entity_type in ("IBAN_CODE", "UK_NINO", "SE_PERSONNUMMER", "FI_PERSONAL_IDENTITY_CODE"):
        return re.sub(r"[^0-9A-Za-z]", "", text).upper()
    if entity_type == "EMAIL_ADDRESS":
        return normalise_spoken_email(text) or re.sub(r"\s+", "", text).lower()
    return " ".join(re.findall(r"\w+", fold(text)))


def _faker(locale: str, salt: str) -> Faker:
    fake = Faker(locale)
    fake.seed_instance(int.from_bytes(hashlib.sha256(salt.encode()).digest()[:8], "big"))
    return fake


def is_identifying_date(text: str) -> bool:
    """'Thursday', 'last week' or 'a few years' identify no one; dates with digits or months might."""
    low = text.lower()
    if re.fullmatch(
        r"(?:about |almost |over |nearly |just )?[\d.,+ ]+(?:-| )?(?:seconds?|minutes?|mins?|hours?|days?|weeks?|months?|years?)(?: old| ago)?",
        low,
    ):
        return False  # a duration ("5 minutes", "8+ years"), not a date
    return bool(re.search(r"\d", low)) or any(re.search(rf"\b{m}\b", low) for m in MONTHS)


def is_bare_year(text: str) -> bool:
    """'1990', 'in 2014', "the 60s": the generalised form of a date is the year itself, so nothing to replace."""
    low = text.lower().strip()
    return bool(
        re.fullmatch(r"(?:in |the |since |from |by |of )?(?:(?:1[89]|20)\d\d|'?\d0s|(?:1[89]|20)\d0s)", low)
    )
