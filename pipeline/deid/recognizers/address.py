"""Street addresses in many countries' word orders, UK postcodes, and organisation names by their suffix."""

from __future__ import annotations

import re
from dataclasses import dataclass

from presidio_analyzer import RecognizerResult

from pipeline.deid.gazetteer import FUNCTION_WORDS
from pipeline.deid.recognizers.base import InterviewRecognizer

# Street-type words that follow the name ("Bay Street") or stand alone as a token.
TRAILING_STRONG = frozenset(
    """street st str road rd avenue ave av drive lane ln boulevard blvd crescent cres gardens grove
    terrace mews square sq parade highway hwy parkway pkwy turnpike trail circle cir alley plaza
    strasse straße gasse weg laan straat plein gade vej gata gatan katu tie utca út útja ulica""".split()
)
# Street-type words that are also ordinary English words: they need a house number.
TRAILING_WEAK = frozenset(
    """close way court ct place pl row walk hill hills park green greens rise vale view pass harbor
    harbour isle dale radial gateway path wharf quay heights estate cove point club bridge""".split()
)
# Street-type words that come before the name ("Rue de la Paix", "Via Tasso", "ul. Długa").
LEADING = frozenset(
    """rue via viale vicolo piazza corso largo calle avenida avda rua rúa travessa praça ul ulica aleja
    plac chemin allée impasse quai route carrer paseo camino strada odos leoforos c""".split()
)
# Suffixes of one-word street names ("Hersnapvej", "Magasinsgatan", "Friedhofstrasse", "Harjukuja").
COMPOUND = re.compile(
    r"(?:vej|vejen|gade|gaden|stræde|vænget|plads|torv|allé|gata|gatan|vägen|väg|gränd|stigen|backen|"
    r"veien|vegen|veg|gate|gaten|stræti|straße|strasse|str|gasse|weg|laan|straat|plein|dreef|gracht|"
    r"kade|katu|kuja|tie|polku|väylä|tori|rinne|allee|platz|damm|ufer|utca|útja|ulica|bakken|stien|"
    r"centret|parken|haven|lunden|road|street)$",
    re.IGNORECASE,
)
UNIT = re.compile(
    r"\b(?:suite|ste\.?|apt\.?|apartment|unit|flat|floor|p\.?\s?o\.?\s?box|postbox|box)\s*#?\s*\d+[a-z]?\b",
    re.IGNORECASE,
)
PARTICLES = frozenset(
    "de del della dei degli da do dos das di du des la le les al el van von der den ten of the".split()
)
CUES = (
    "address",
    "lives",
    "live",
    "living",
    "located",
    "sent",
    "send",
    "moved",
    "move",
    "corner",
    "off",
    "enter",
    "stay",
    "staying",
    "at",
    "on",
    "to",
)
STRONG_CUES = frozenset(
    ("address", "lives", "live", "living", "located", "moved", "corner", "stay", "staying")
)
UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2}\b")

TOKEN = re.compile(r"\d+[A-Za-z]?\.?|[^\W\d_]+(?:[.'’-][^\W\d_]+)*\.?|[,;:!?()\"]|\S")


@dataclass
class Tok:
    text: str
    start: int
    end: int

    @property
    def bare(self) -> str:
        return self.text.rstrip(".").lower()

    @property
    def is_num(self) -> bool:
        return self.text[0].isdigit()

    @property
    def is_word(self) -> bool:
        return self.text[0].isalpha()

    @property
    def is_cap(self) -> bool:
        return self.is_word and self.text[0].isupper()


def tokens(text: str) -> list[Tok]:
    return [Tok(m.group(0), m.start(), m.end()) for m in TOKEN.finditer(text)]


def _name_part(t: Tok, lower_ok: bool) -> bool:
    if not t.is_word or t.bare in FUNCTION_WORDS:
        return False
    return t.is_cap or t.bare in PARTICLES or (lower_ok and len(t.bare) > 1)


class StreetAddressRecognizer(InterviewRecognizer):
    """Street addresses: '3968 Bay Street', 'Hammarvägen 15', 'Via dei Fiorentini 17', 'Apt. 4'."""

    ENTITIES = ("STREET_ADDRESS",)
    CONTEXT = ("address", "live", "lives", "street", "road", "moved", "located", "postcode")

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        toks = tokens(text)
        lower_ok = text == text.lower()  # an all-lower-case transcript has no capitals to rely on
        spans: list[tuple[int, int, float, str]] = []
        for i in range(len(toks)):
            found = self._anchored(toks, i, lower_ok) or self._unanchored(toks, i, text, lower_ok)
            if found:
                spans.append(found)
        for m in UNIT.finditer(text):
            spans.append((m.start(), m.end(), 0.5, "unit number"))
        for m in UK_POSTCODE.finditer(text):
            spans.append((m.start(), m.end(), 0.5, "UK postcode"))
        spans += self._corner(toks, lower_ok)
        return [self.result("STREET_ADDRESS", s, e, score, why) for s, e, score, why in _merge(spans, text)]

    def _anchored(self, toks: list[Tok], i: int, lower_ok: bool):
        t = toks[i]
        if not t.is_word:
            return None
        word = t.bare
        compound = len(word) >= 6 and COMPOUND.search(word) and (t.is_cap or lower_ok)
        if word in LEADING and (
            t.text[0].isupper() or lower_ok or word in ("rue", "via", "calle", "rua", "ul")
        ):
            j = i + 1
            while (
                j < len(toks)
                and j - i <= 5
                and _name_part(toks[j], True)
                and toks[j].bare not in TRAILING_STRONG
            ):
                j += 1
            if j == i + 1:
                return None
            end = toks[j].end if j < len(toks) and toks[j].is_num else toks[j - 1].end
            start = toks[i - 1].start if i > 0 and toks[i - 1].is_num else t.start
            return (start, end, 0.6, "street type before name")
        if word in TRAILING_STRONG or word in TRAILING_WEAK or compound:
            j = i
            while j > 0 and i - j < 4 and (_name_part(toks[j - 1], lower_ok) or _ordinal(toks[j - 1])):
                j -= 1
            has_name = j < i or compound
            num_before = j > 0 and toks[j - 1].is_num
            num_after = i + 1 < len(toks) and toks[i + 1].is_num
            if not has_name:
                return None
            if word in TRAILING_WEAK and not (num_before or num_after):
                return None
            if word in TRAILING_STRONG and not (num_before or num_after or t.is_cap):
                return None
            if compound and not (num_before or num_after):
                return None
            start = toks[j - 1].start if num_before else toks[j].start
            end = toks[i + 1].end if num_after else t.end
            return (start, end, 0.6 if (num_before or num_after) else 0.45, "street type after name")
        return None

    def _unanchored(self, toks: list[Tok], i: int, text: str, lower_ok: bool):
        """'5049 Harjukuja 54' (number, name, number) or 'address: Jahu 80' (cue, name, number)."""
        t = toks[i]
        if not _name_part(t, lower_ok) or t.bare in PARTICLES:
            return None
        j = i
        while j + 1 < len(toks) and j - i < 3 and _name_part(toks[j + 1], lower_ok):
            j += 1
        if j + 1 >= len(toks) or not toks[j + 1].is_num or len(toks[j + 1].text.rstrip(".")) > 5:
            return None
        if i > 0 and toks[i - 1].is_num:
            return (toks[i - 1].start, toks[j + 1].end, 0.5, "number name number")
        before = {w.bare for w in toks[max(0, i - 4) : i]}
        if before & STRONG_CUES:
            return (t.start, toks[j + 1].end, 0.5, "address cue, name, number")
        return None

    def _corner(self, toks: list[Tok], lower_ok: bool):
        """'the corner of X and Y': both street names."""
        out = []
        for i in range(len(toks) - 2):
            if toks[i].bare == "corner" and toks[i + 1].bare == "of":
                j = i + 2
                while j < len(toks) and (_name_part(toks[j], True) or toks[j].is_num) and j - i < 14:
                    j += 1
                if j > i + 3:
                    out.append((toks[i + 2].start, toks[j - 1].end, 0.5, "corner of two streets"))
        return out


def _ordinal(t: Tok) -> bool:
    return bool(
        re.fullmatch(
            r"\d+(st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth", t.bare
        )
    )


def _merge(spans: list[tuple[int, int, float, str]], text: str) -> list[tuple[int, int, float, str]]:
    """Join overlapping spans and spans separated only by spaces or a comma ('... 66. Apt. 268')."""
    out: list[list] = []
    for s, e, score, why in sorted(spans):
        if out and (s <= out[-1][1] or not text[out[-1][1] : s].strip(" ,")):
            out[-1][1] = max(out[-1][1], e)
            out[-1][2] = max(out[-1][2], score)
        else:
            out.append([s, e, score, why])
    # absorb leading house/zip numbers: '370 3911 Fourth Avenue'
    merged = []
    for s, e, score, why in out:
        m = re.search(r"(?:\d+[A-Za-z]?\s+){1,2}$", text[:s])
        if m:
            s = m.start()
        merged.append((s, e, score, why))
    return merged


ORG_SUFFIX = (
    r"Inc|Incorporated|Ltd|Limited|LLC|LLP|PLC|GmbH|AG|A/S|ApS|AB|ASA|Oy|SA|S\.A|SpA|BV|NV|Corp|Corporation|"
    r"Company|Co|Group|Associates|Partners|Foundation|Trust|Bank|University|College|School|Academy|"
    r"Hospital|Clinic|Council|Institute|Ministry|Agency|Centre|Center|Society|Association|Union|Church|"
    r"Kommune|Region|Hospitalet|Skole|Universitet|Gymnasium|Software|Systems|Technologies|Solutions|Services|"
    r"Consulting|Media|Labs|Industries|Holdings|International|Enterprises|Studios|Library|Museum|Archive|"
    r"Shop|Store|Cafe|Café|Restaurant|Hotel|Pharmacy|Surgery|Practice|Nursery|Kindergarten|Club|Theatre|Theater"
)
ORG = re.compile(
    rf"\b(?:(?:[A-Z][\w&'’-]*|&|and|of|for|the)\s+){{0,4}}[A-Z][\w&'’-]*,?\s+(?:{ORG_SUFFIX})\b\.?"
    rf"|\b(?:University|Bank|College|Ministry|Institute|School|Department|Council)\s+of\s+(?:the\s+)?[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*){{0,3}}"
)


class OrganisationRecognizer(InterviewRecognizer):
    """Organisation names by their legal or institutional suffix: 'Nordlys ApS', 'University of Leeds'."""

    ENTITIES = ("ORGANIZATION",)
    CONTEXT = ("work", "works", "worked", "company", "employer", "job", "studied", "study")

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        out = []
        for m in ORG.finditer(text):
            s = m.start()
            first = re.match(r"(?:(?:and|of|for|the)\s+)+", m.group(0))
            if first:
                s += first.end()
            out.append(self.result("ORGANIZATION", s, m.end(), 0.55, "organisation suffix"))
        return out
