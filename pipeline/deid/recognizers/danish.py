"""Danish recognizers for transcripts without a Danish NER model: names, places, addresses, workplaces, ages.

They lean on lists (``pipeline.deid.danish_data``) and on one fact of Danish spelling: nouns are not
capitalised, so a capital inside a sentence marks a proper noun. Each recognizer runs for Danish only.
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult

from pipeline.deid.danish_data import DanishData
from pipeline.deid.gazetteer import fold
from pipeline.deid.language import stop_words
from pipeline.deid.recognizers.base import InterviewRecognizer
from pipeline.deid.recognizers.names import words_of

# Capitalised inside a sentence, yet not proper nouns: the plural and polite "you".
CAPITAL_PRONOUNS = frozenset({"i", "de", "dem", "deres", "dig", "du"})

_UNITS_DA = r"en|et|to|tre|fire|fem|seks|syv|otte|ni|ti|elleve|tolv|tretten|fjorten|femten|seksten|sytten|atten|nitten"
_TENS_DA = r"tyve|tredive|fyrre|fyrretyve|halvtreds|tres|halvfjerds|firs|halvfems"
NUMBER_WORD_DA = rf"(?:(?:(?:en|et|to|tre|fire|fem|seks|syv|otte|ni)og)?(?:{_TENS_DA})|{_UNITS_DA}|hundrede)"
NUMBER_WORD_TEEN_DA = rf"(?:(?:(?:en|et|to|tre|fire|fem|seks|syv|otte|ni)og)?(?:{_TENS_DA})|ti|elleve|tolv|tretten|fjorten|femten|seksten|sytten|atten|nitten|hundrede)"
_CAP = r"[A-ZÆØÅ][\wæøåÆØÅ'’-]*"


class DanishNameCueRecognizer(InterviewRecognizer):
    """Names after Danish cues: 'jeg hedder ...', 'min mand ...', 'min datter, ...', 'hils ...'."""

    ENTITIES = ("PERSON",)
    RELATIONS = (
        r"mand|kone|kæreste|hustru|ægtefælle|partner|datter|søn|døtre|sønner|bror|søster|lillebror|"
        r"storebror|lillesøster|storesøster|mor|far|mormor|morfar|farmor|farfar|bedstemor|bedstefar|"
        r"svigermor|svigerfar|svigerinde|svoger|onkel|tante|fætter|kusine|nevø|niece|barnebarn|ven|"
        r"veninde|kammerat|nabo|nabokone|kollega|kollegaer|kolleger|chef|leder|mellemleder|afdelingsleder|"
        r"afdelingssygeplejerske|lærer|læge|psykolog|sagsbehandler|terapeut|pædagog|præst|kontaktperson|"
        r"eks|ekskæreste|eksmand|ekskone|stedfar|stedmor|plejemor|plejefar|dreng|pige|lillebror"
    )
    STRONG = re.compile(
        r"\b(?:hedder|hed|kaldes|kalder\s+(?:mig|ham|hende|sig)|navn\s+er|navnet\s+er|døbt)\s+",
        re.IGNORECASE,
    )
    RELATION = re.compile(
        rf"\b(?:min|mit|mine|hans|hendes|vores|jeres|din|dit|deres|sin|sit)\s+(?:{RELATIONS})(?:er)?"
        rf"(?:\s+(?:hedder|der\s+hedder|som\s+hedder))?\s*,?\s+",
        re.IGNORECASE,
    )
    GREETING = re.compile(r"\b(?:hils|hilsen|kære|tak|hej|goddag|farvel)\s+(?:til\s+)?", re.IGNORECASE)

    def __init__(self, language: str, data: DanishData, **kw):
        super().__init__(language, **kw)
        self.data = data

    def _name_at(self, text: str, pos: int, lower_ok: bool) -> tuple[int, int] | None:
        """Up to three name words from ``pos``: capitalised, or (``lower_ok``) a name or no Danish word."""
        end = None
        for k, m in enumerate(re.finditer(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", text[pos:])):
            if k >= 3 or (end is not None and text[end : pos + m.start()].strip()):
                break
            w, f = m.group(0), fold(m.group(0))
            if f in CAPITAL_PRONOUNS or (k and f in ("og", "der", "som", "er", "var", "har")):
                break
            is_name = f in self.data.first or f in self.data.last
            if not (w[0].isupper() or (lower_ok and (is_name or not self.data.is_word(w)))):
                break
            end = pos + m.end()
        return (pos, end) if end else None

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        out = []
        for pattern, lower_ok, score in (
            (self.STRONG, True, 0.65),
            (self.RELATION, False, 0.6),
            (self.GREETING, False, 0.5),
        ):
            for m in pattern.finditer(text):
                span = self._name_at(text, m.end(), lower_ok)
                if not span:
                    continue
                word = text[span[0] : span[1]].split()[0]
                if pattern is self.GREETING and not (
                    fold(word) in self.data.first or not self.data.is_word(word)
                ):
                    continue
                out.append(self.result("PERSON", span[0], span[1], score, "Danish name cue"))
        return out


# Verbs that follow a person at the start of a sentence: "Søren kommer hver søndag".
PERSON_VERBS = frozenset(
    """er var har havde kommer kom bor boede går gik siger sagde arbejder arbejdede ringer ringede kan
    skal vil blev bliver fik får ser så tager tog laver lavede synes syntes mener mente hjælper hjalp
    passer læser spiller fisker kører kørte hedder hed døde fylder fyldte flyttede tror troede""".split()
)


# Frequent first names that open sentences as ordinary words ("August er ...", "Lykke er ...").
WORD_FIRST = frozenset("august lykke tom tage mark sten ester iris rosa viola kristen anker frede".split())


class DanishNameRecognizer(InterviewRecognizer):
    """A capitalised word inside a sentence that the name list knows, even when it is also an ordinary
    word ('Per', 'Bo', 'Kim'): Danish does not capitalise ordinary words there. At the start of a
    sentence such a frequent first name counts when a verb follows ('Søren kommer', 'Mads er')."""

    ENTITIES = ("PERSON",)

    def __init__(self, language: str, data: DanishData, min_count: int = 1000, **kw):
        super().__init__(language, **kw)
        self.data = data
        self.min_count = min_count

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        out = []
        words = words_of(text)
        for i, w in enumerate(words):
            f = fold(w.text)
            if not w.cap or w.text.isupper() or f in CAPITAL_PRONOUNS or f in self.data.towns:
                continue
            if not self.data.is_word(w.text):
                continue  # the name gazetteer's case
            if not w.sent_start:
                count = self.data.first.get(f, 0) + self.data.last.get(f, 0)
                if count >= self.min_count:
                    out.append(self.result("PERSON", w.start, w.end, 0.5, "capitalised Danish name"))
                continue
            nxt = words[i + 1] if i + 1 < len(words) else None
            if (
                self.data.first.get(f, 0) >= 3 * self.min_count
                and w.text.lower() not in stop_words("da")
                and f not in WORD_FIRST
                and nxt is not None
                and not text[w.end : nxt.start].strip()
                and nxt.text.lower() in PERSON_VERBS
            ):
                out.append(self.result("PERSON", w.start, w.end, 0.45, "Danish first name before a verb"))
        return out


# Institutions: the word after a name ("Skive Sygehus", "Gentofte kommune", "Friis Byg") or the end of
# a compound ("Rigshospitalet", "Lindevangskolen", "Sygeplejeråd").
INSTITUTION = (
    r"sygehus|sygehuset|hospital|hospitalet|klinik|klinikken|skole|skolen|efterskole|højskole|friskole|"
    r"privatskole|gymnasium|gymnasiet|universitet|universitetet|seminarium|akademi|kommune|"
    r"boldklub|idrætsforening|sparekasse|apotek|apoteket|bibliotek|biblioteket|kirke|kirken|"
    r"børnehave|børnehaven|vuggestue|vuggestuen|plejehjem|plejehjemmet|plejecenter|plejecentret|"
    r"fængsel|fængslet|jobcenter|jobcentret|fagforening|råd|rådet|forbund|forbundet|styrelse|styrelsen|"
    r"ministerium|ministeriet|fonden|foreningen|huset"
)
AFTER_NAME_ONLY = r"bank|region|center|centret|centeret|politi|forsyning|byg|el|vvs|tømrer|auto|consult|invest|gruppen|holding|fond|forening"
INSTITUTION_RE = re.compile(
    rf"(?<![\w-])(?:{_CAP}\s+){{1,3}}(?i:{INSTITUTION}|{AFTER_NAME_ONLY})\b"
    rf"|(?<![\w-])(?:{_CAP}\s+){{0,2}}[A-ZÆØÅ][\wæøå]+(?:{INSTITUTION})\b"
    rf"|(?<![\w-])(?:Region|Kommune|Universitet)\s+{_CAP}",
)
# "Lokalhistorisk Forening for Egvad", "Foreningen af Danske Biavlere": the name goes on.
INSTITUTION_TAIL = re.compile(rf"\s+(?:for|af)\s+(?:{_CAP}\s+){{0,2}}{_CAP}")
PLACE_CUES = frozenset("i på hos fra til ved nær omkring udenfor mod bor boede arbejder arbejdede".split())
ORG_CUES = frozenset({"hos", "på"})
# Fillers and interjections of Danish speech: never a name ("Øhm, det var svært").
FILLERS = frozenset(
    """øh øhm øhh hmm hm mm mhm nåh nå tja jamen altså okay ok yes nej ja jo nåja aha arh ah åh uh
    puha hov ups orv nææ næ""".split()
)
COMMON_PROPER = frozenset(
    """danmark jylland sjælland fyn bornholm europa norden skandinavien grønland færøerne gud jesus
    facebook instagram google youtube netflix tiktok twitter snapchat linkedin corona covid
    dansk danske engelsk engelske mandag tirsdag onsdag torsdag fredag lørdag søndag""".split()
)


class DanishPlaceRecognizer(InterviewRecognizer):
    """Towns (Faker da_DK), 'postcode town' ('8000 Aarhus C'), workplaces by their institution word
    ('Skive Sygehus', 'Rigshospitalet', '... kommune') and capitalised names after 'i', 'på', 'hos'."""

    ENTITIES = ("LOCATION", "ORGANIZATION")
    POSTCODE_TOWN = re.compile(
        rf"(?<![\w.,-])(?P<code>[1-9]\d{{3}})\s+(?P<town>{_CAP}(?:[ -]{_CAP})*?)(?:\s+[A-ZØVNKSC]\b)?(?![\w-])"
    )

    def __init__(self, language: str, data: DanishData, **kw):
        super().__init__(language, **kw)
        self.data = data

    def _town(self, phrase: str) -> bool:
        return fold(phrase) in self.data.towns

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        out = []
        words = words_of(text)
        for i, w in enumerate(words):  # towns, one or two words ("Ans by", "Store Heddinge")
            if not w.cap:
                cued = i > 0 and words[i - 1].text.lower() in PLACE_CUES and not self.data.is_word(w.text)
                if cued and self._town(w.text):  # "de bor i kolding"
                    out.append(self.result("LOCATION", w.start, w.end, 0.5, "Danish town, lower case"))
                continue
            if (
                i + 1 < len(words)
                and not text[w.end : words[i + 1].start].strip()
                and self._town(f"{w.text} {words[i + 1].text}")
            ):
                out.append(self.result("LOCATION", w.start, words[i + 1].end, 0.65, "Danish town"))
            elif self._town(w.text):
                out.append(self.result("LOCATION", w.start, w.end, 0.6, "Danish town"))
        for m in self.POSTCODE_TOWN.finditer(text):
            town = m.group("town")
            code = int(m.group("code"))
            if self._town(town.split()[0]) or self._town(town) or not 1900 <= code <= 2100:
                if fold(town.split()[0]) not in CAPITAL_PRONOUNS:
                    out.append(self.result("LOCATION", m.start(), m.end(), 0.7, "postcode and town"))
        for m in INSTITUTION_RE.finditer(text):
            tail = INSTITUTION_TAIL.match(text, m.end())
            end = tail.end() if tail else m.end()
            out.append(self.result("ORGANIZATION", self._name_start(text, m), end, 0.6, "Danish institution"))
        out += self._after_cue(text, words)
        return out

    def _name_start(self, text: str, m: re.Match) -> int:
        """Drop a sentence's ordinary first word from 'Spørg Lokalhistorisk Forening': the name
        keeps at least one capitalised word before the institution word."""
        parts = list(re.finditer(r"\S+", m.group(0)))
        first = parts[0]
        before = text[: m.start()].rstrip()
        sent_start = not before or before[-1] in '.!?:;"“(–—…'
        if len(parts) >= 3 and sent_start and self.data.is_word(first.group(0).rstrip(",")):
            return m.start() + parts[1].start()
        return m.start()

    def _after_cue(self, text: str, words) -> list[RecognizerResult]:
        """'hos Novo Nordisk', 'i Netto', 'på Rigshospitalet': capitalised words inside a sentence
        after a place or workplace word."""
        out = []
        i = 0
        while i < len(words) - 1:
            cue, w = words[i], words[i + 1]
            gap = text[cue.end : w.start]
            if (
                cue.text.lower() not in PLACE_CUES
                or gap.strip()
                or not w.cap
                or w.sent_start
                or fold(w.text) in CAPITAL_PRONOUNS
            ):
                i += 1
                continue
            j = i + 1
            while (
                j + 1 < len(words)
                and words[j + 1].cap
                and text[words[j].end : words[j + 1].start].strip() in ("", "&")
            ):
                j += 1
            run = words[i + 1 : j + 1]
            if not all(fold(x.text) in COMMON_PROPER or fold(x.text) in self.data.countries for x in run):
                kind = "ORGANIZATION" if cue.text.lower() in ORG_CUES else "LOCATION"
                out.append(self.result(kind, run[0].start, run[-1].end, 0.5, "capitalised after place cue"))
            i = j + 1
        return out


FLOOR = r"(?:,?\s*(?:st\.?|stuen|kl\.?|kælderen|\d{1,2}\.(?:\s*sal)?)(?:\s*(?:tv\.?|th\.?|mf\.?|\d{1,3}\b))?)"
STREET_SUFFIX = (
    r"vej|vejen|gade|gaden|stræde|strædet|allé|alle|boulevard|plads|pladsen|torv|torvet|vænget|vænge|"
    r"parken|park|have|haven|bakke|bakken|høj|højen|lund|lunden|toften|kvarter|sti|stien|mark|marken|"
    r"engen|eng|holm|dal|dalen|gården|skov|skoven|bro|broen|kaj|kajen|havn|ager|agre|bjerg|bjerget|vang"
)
STREET_WORD = r"Vej|Gade|Allé|Alle|Boulevard|Plads|Torv|Stræde|Vænge|Park|Bakke|Have"
DANISH_ADDRESS = re.compile(
    rf"(?<![\w-])(?P<street>(?:(?:[A-ZÆØÅ]\.\s?)+\s*)?(?:{_CAP}\s+){{0,2}}[A-ZÆØÅ][\wæøå-]*?(?:{STREET_SUFFIX})"
    rf"|(?:(?:[A-ZÆØÅ]\.\s?)+\s*)?(?:{_CAP}\s+){{1,3}}(?:{STREET_WORD}))"
    rf"\s+(?P<num>\d{{1,4}}[A-Za-z]?\b|{NUMBER_WORD_DA}\b)(?P<floor>{FLOOR})?",
)


# A house number with floor and side, wherever the street name is: "... 5, 3. th."
NUMBER_FLOOR = re.compile(
    r"(?<![\w.,])\d{1,4}[A-Za-z]?,?\s*(?:st\.|kl\.|\d{1,2}\.)\s*(?:tv\.?|th\.?|mf\.?|sal\b)"
)


class DanishAddressRecognizer(InterviewRecognizer):
    """Danish street addresses: 'Fasanvej 17, 1. tv.', 'Nørregade tolv', 'Gothersgade 8, 2. sal'."""

    ENTITIES = ("STREET_ADDRESS",)

    def __init__(self, language: str, data: DanishData, **kw):
        super().__init__(language, **kw)
        self.data = data

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        out = []
        for m in DANISH_ADDRESS.finditer(text):
            end = m.end()
            while end > m.start() and text[end - 1] in " ,":
                end -= 1
            out.append(self.result("STREET_ADDRESS", m.start(), end, 0.7, "Danish street and number"))
        for m in NUMBER_FLOOR.finditer(text):
            dot = text[m.end() : m.end() + 1] == "." and not m.group(0).endswith(("sal", "."))
            end = m.end() + dot
            out.append(self.result("STREET_ADDRESS", m.start(), end, 0.5, "house number, floor and side"))
        return out


AGE_WITH_YEAR = re.compile(
    rf"(?P<before>\b\w+\s+(?:\w+\s+)?)?\b(?P<age>1[01]\d|\d{{1,2}}|{NUMBER_WORD_DA})\s+år\b(?P<old>\s+gamme?l)?",
    re.IGNORECASE,
)
AGE_CUED = re.compile(
    rf"\b(?:er|var|blev|bliver|fylder|fyldte|fyldt|alder|alderen)\s+(?:lige\s+|snart\s+|næsten\s+|cirka\s+|kun\s+|over\s+)?"
    rf"(?P<age>1[01]\d|\d{{1,2}}|{NUMBER_WORD_TEEN_DA})\b(?=\s*(?:[,;!?)]|\.(?!\d)|$|og\b|nu\b|i\s+dag\b))",
    re.IGNORECASE,
)
# "fylder 75 til marts", "fyldte 40 i går": the verb says it is an age, whatever follows.
AGE_TURNS = re.compile(
    rf"\b(?:fylder|fyldte|fyldt|runder|rundede|rundet)\s+(?:lige\s+|snart\s+)?"
    rf"(?P<age>1[01]\d|\d{{1,2}}|{NUMBER_WORD_TEEN_DA})\b(?!\s*(?:%|kr|kroner|km|meter|minutter|timer|dage|uger|måneder))",
    re.IGNORECASE,
)
NOT_AGE_BEFORE = frozenset("i for om efter på hvert hver de de sidste næste første over under siden".split())


class DanishAgeRecognizer(InterviewRecognizer):
    """Ages: '47 år gammel', 'er 14', 'blev 91 år', 'da jeg var 22'; not 'i elleve år', 'for 20 år siden'."""

    ENTITIES = ("AGE",)

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        out = []
        for m in AGE_WITH_YEAR.finditer(text):
            before = (m.group("before") or "").split()
            last = before[-1].lower() if before else ""
            siden = text[m.end() : m.end() + 7].lower().strip().startswith("siden")
            if m.group("old") or (last in ("er", "var", "blev", "bliver", "fylder", "fyldte") and not siden):
                out.append(self.result("AGE", m.start("age"), m.end("age"), 0.65, "Danish age in years"))
            elif last not in NOT_AGE_BEFORE and not siden and last in ("som", "da", "når"):
                out.append(self.result("AGE", m.start("age"), m.end("age"), 0.5, "Danish age in years"))
        for m in AGE_CUED.finditer(text):
            out.append(self.result("AGE", m.start("age"), m.end("age"), 0.55, "Danish age cue"))
        for m in AGE_TURNS.finditer(text):
            out.append(self.result("AGE", m.start("age"), m.end("age"), 0.6, "Danish age: turns"))
        return out
