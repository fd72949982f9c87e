"""E-mail addresses, written or spoken, validated against tldextract's bundled suffix list (offline)."""

from __future__ import annotations

import re
from functools import lru_cache

import tldextract
from presidio_analyzer import RecognizerResult
from presidio_analyzer.predefined_recognizers import EmailRecognizer

from pipeline.deid.recognizers.base import InterviewRecognizer


@lru_cache(maxsize=1)
def offline_tld_extractor() -> tldextract.TLDExtract:
    """A TLDExtract that never fetches the public suffix list: no URLs, no cache, bundled snapshot."""
    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


def has_public_suffix(domain: str) -> bool:
    parts = offline_tld_extractor()(domain)
    return bool(parts.domain and parts.suffix)


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail patterns, validated with the offline extractor instead of the module default.

    Presidio's own ``validate_result`` calls ``tldextract.extract``, whose module-level extractor
    downloads the public suffix list on first use; this one never opens a socket.
    """

    def validate_result(self, pattern_text: str) -> bool:
        return offline_tld_extractor()(pattern_text).fqdn != ""


_SEP = {
    "dot": ".",
    "period": ".",
    "point": ".",
    "punktum": ".",
    "prik": ".",
    "underscore": "_",
    "understreg": "_",
    "dash": "-",
    "hyphen": "-",
    "minus": "-",
    "bindestreg": "-",
}
_SEP_WORDS = "dot|period|point|punktum|prik|underscore|understreg|dash|hyphen|minus|bindestreg"
_PART = r"[^\W_]+"
_JOIN = rf"(?:\s*[._-]\s*|\s+(?:{_SEP_WORDS})\s+)"
_AT = r"(?:\s(?:at|at sign|snabel-a|snabel a|snabela|at-tegn)\s|@)"
SPOKEN_EMAIL = re.compile(
    rf"(?<![\w@.])(?P<local>{_PART}(?:{_JOIN}{_PART}){{0,4}})\s*{_AT}\s*"
    rf"(?P<domain>{_PART}(?:(?:\.|\s+(?:dot|punktum|prik)\s+){_PART}){{1,4}})(?![\w@])",
    re.IGNORECASE,
)


def normalise_spoken_email(spoken: str) -> str | None:
    """'Anna dot Jensen at example dot com' -> 'anna.jensen@example.com' (None if not one)."""
    m = SPOKEN_EMAIL.fullmatch(spoken.strip())
    if not m:
        return None
    return _normalise(m.group("local"), m.group("domain"))


def _normalise(local: str, domain: str) -> str:
    def squash(s: str) -> str:
        s = re.sub(
            rf"\s+({_SEP_WORDS})\s+",
            lambda x: _SEP.get(x.group(1).lower(), "."),
            s,
            flags=re.IGNORECASE,
        )
        return re.sub(r"\s+", "", s)

    return f"{squash(local)}@{squash(domain)}".lower()


_JOINED_BEFORE = re.compile(rf"{_PART}(?:\s+(?:{_SEP_WORDS})\s+|\s*[._-]\s*)$", re.IGNORECASE)
_NUMBER_LOCAL = re.compile(
    r"\d+|(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|one|two|three|four|five|six|seven|"
    r"eight|nine|ten|eleven|twelve|[a-zæøå]+og(?:tyve|tredive|fyrre|halvtreds|tres|halvfjerds|firs|halvfems)|"
    r"tyve|tredive|fyrre|halvtreds|tres|halvfjerds|firs|halvfems)[\s-]?)+",
    re.IGNORECASE,
)


def _local_start(text: str, start: int, local: str) -> int:
    """Where a spoken address really starts: its local part can hold words the pattern does not
    join, "t dot vinther seventy at ...": words joined by a separator word, and a name before a
    number, belong to it."""
    if _NUMBER_LOCAL.fullmatch(local.strip()):
        while (before := re.search(r"(\w+)\s+$", text[:start])) and _NUMBER_LOCAL.fullmatch(before.group(1)):
            start = before.start()  # "seventy two at ...": the local part is "<name> seventy two"
        before = re.search(r"([^\W\d_]+)\s+$", text[:start])
        if before and before.group(1).lower() not in ("at", "me", "to", "is", "er", "til", "on", "på"):
            start = before.start()
    while (m := _JOINED_BEFORE.search(text[:start])) is not None:
        start = m.start()
    return start


class SpokenEmailRecognizer(InterviewRecognizer):
    """E-mail addresses as transcribed speech: 'anna dot jensen at example dot com'."""

    ENTITIES = ("EMAIL_ADDRESS",)
    CONTEXT = ("email", "e-mail", "mail", "address", "write")

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        out = []
        pos = 0
        while (m := SPOKEN_EMAIL.search(text, pos)) is not None:
            local, domain = m.group("local"), m.group("domain")
            address = _normalise(local, domain)
            if address == m.group(0).lower() or not has_public_suffix(address.split("@", 1)[1]):
                # a written address (the e-mail recognizer's job) or no real suffix. Try the next
                # word as the start: in "mail me at anna dot jensen at gmail dot com" the first
                # candidate "me at anna dot jensen" fails, the address starts at "anna".
                nxt = re.search(r"[\s._-]+", text[m.start() :])
                pos = m.start() + (nxt.end() if nxt else len(text) - m.start())
                continue
            pos = m.end()
            start = _local_start(text, m.start(), local)
            spoken = re.search(rf"\b({_SEP_WORDS})\b", text[start : m.end()], re.IGNORECASE)
            joined = re.search(r"[._-]", local)
            # "looking at facebook.com" must not become an address: plain words need an e-mail cue.
            score = 0.75 if spoken else 0.5 if joined else 0.3
            out.append(self.result("EMAIL_ADDRESS", start, m.end(), score, "spoken e-mail address"))
        return out
