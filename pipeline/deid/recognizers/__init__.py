"""Recognizer plug-ins: a small base class and the explicit name -> class registry.

Each plug-in builds the Presidio recognizers for one language from the validated config. Which
plug-ins run is ``recognizers.enabled`` in the YAML; the registry is the only place names are bound.
"""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import EntityRecognizer
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    DateRecognizer,
    FiPersonalIdentityCodeRecognizer,
    IbanRecognizer,
    IpRecognizer,
    NhsRecognizer,
    PhoneRecognizer,
    PlPeselRecognizer,
    SePersonnummerRecognizer,
    SpacyRecognizer,
    UkNinoRecognizer,
    UrlRecognizer,
    UsSsnRecognizer,
)

from pipeline.deid.recognizers.address import OrganisationRecognizer, StreetAddressRecognizer
from pipeline.deid.recognizers.base import BuildContext
from pipeline.deid.recognizers.contact import OfflineEmailRecognizer, SpokenEmailRecognizer
from pipeline.deid.recognizers.cues import (
    EmployerRecognizer,
    MoreNameCueRecognizer,
    OtherScriptNameRecognizer,
    PlaceCueRecognizer,
    SpelledNameRecognizer,
)
from pipeline.deid.recognizers.danish import (
    DanishAddressRecognizer,
    DanishAgeRecognizer,
    DanishNameCueRecognizer,
    DanishNameRecognizer,
    DanishPlaceRecognizer,
)
from pipeline.deid.recognizers.names import GazetteerNameRecognizer, KnownNameRecognizer, NameCueRecognizer
from pipeline.deid.recognizers.numbers import (
    PHONE_CONTEXT,
    AgeRecognizer,
    DigitGroupPhoneRecognizer,
    DkCprRecognizer,
    LongNumberRecognizer,
    SpokenDateRecognizer,
)
from pipeline.deid.recognizers.spoken import (
    LicencePlateRecognizer,
    SpokenNumberRecognizer,
    SpokenUrlRecognizer,
)

# spaCy labels -> our entity types (ORG is kept: Presidio's default mapping drops it).
SPACY_LABELS = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "ORG": "ORGANIZATION",
    "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
    "NORP": "NRP",
}


class RecognizerPlugin:
    """Builds the Presidio recognizers of one kind for one language."""

    name: ClassVar[str] = ""
    entities: ClassVar[tuple[str, ...]] = ()
    per_interview: ClassVar[bool] = False  # built per transcript (needs the interview's data)

    @classmethod
    def build(cls, ctx: BuildContext) -> list[EntityRecognizer]:
        raise NotImplementedError


class SpacyNer(RecognizerPlugin):
    name = "spacy_ner"
    entities = ("PERSON", "LOCATION", "ORGANIZATION", "DATE_TIME", "NRP")

    @classmethod
    def build(cls, ctx):
        return [SpacyRecognizer(supported_language=ctx.language, supported_entities=list(cls.entities))]


class Email(RecognizerPlugin):
    name = "email"
    entities = ("EMAIL_ADDRESS",)

    @classmethod
    def build(cls, ctx):
        return [OfflineEmailRecognizer(supported_language=ctx.language)]


class SpokenEmail(RecognizerPlugin):
    name = "spoken_email"
    entities = ("EMAIL_ADDRESS",)

    @classmethod
    def build(cls, ctx):
        return [SpokenEmailRecognizer(ctx.language)]


class Url(RecognizerPlugin):
    name = "url"
    entities = ("URL",)

    @classmethod
    def build(cls, ctx):
        return [UrlRecognizer(supported_language=ctx.language)]


class IpAddress(RecognizerPlugin):
    name = "ip_address"
    entities = ("IP_ADDRESS",)

    @classmethod
    def build(cls, ctx):
        return [IpRecognizer(supported_language=ctx.language)]


class Phone(RecognizerPlugin):
    name = "phone"
    entities = ("PHONE_NUMBER",)

    @classmethod
    def build(cls, ctx):
        regions = tuple(ctx.config.recognizers.phone_regions)
        return [
            PhoneRecognizer(
                supported_language=ctx.language, supported_regions=regions, context=list(PHONE_CONTEXT)
            )
        ]


class DigitGroupPhone(RecognizerPlugin):
    name = "digit_group_phone"
    entities = ("PHONE_NUMBER",)

    @classmethod
    def build(cls, ctx):
        return [DigitGroupPhoneRecognizer(ctx.language)]


class CreditCard(RecognizerPlugin):
    name = "credit_card"
    entities = ("CREDIT_CARD",)

    @classmethod
    def build(cls, ctx):
        return [CreditCardRecognizer(supported_language=ctx.language)]


class Iban(RecognizerPlugin):
    name = "iban"
    entities = ("IBAN_CODE",)

    @classmethod
    def build(cls, ctx):
        return [IbanRecognizer(supported_language=ctx.language)]


class NationalId(RecognizerPlugin):
    """National ID numbers of the configured countries."""

    name = "national_id"
    entities = (
        "DK_CPR",
        "UK_NHS",
        "UK_NINO",
        "US_SSN",
        "SE_PERSONNUMMER",
        "FI_PERSONAL_IDENTITY_CODE",
        "PL_PESEL",
    )
    BY_COUNTRY = {
        "DK": (lambda lang: DkCprRecognizer(lang),),
        "GB": (
            lambda lang: NhsRecognizer(supported_language=lang),
            lambda lang: UkNinoRecognizer(supported_language=lang),
        ),
        "US": (lambda lang: UsSsnRecognizer(supported_language=lang),),
        "SE": (lambda lang: SePersonnummerRecognizer(supported_language=lang),),
        "FI": (lambda lang: FiPersonalIdentityCodeRecognizer(supported_language=lang),),
        "PL": (lambda lang: PlPeselRecognizer(supported_language=lang),),
    }

    @classmethod
    def build(cls, ctx):
        return [
            make(ctx.language)
            for c in ctx.config.recognizers.national_id_countries
            for make in cls.BY_COUNTRY[c]
        ]


class LongNumber(RecognizerPlugin):
    name = "long_number"
    entities = ("ID_NUMBER",)

    @classmethod
    def build(cls, ctx):
        return [LongNumberRecognizer(ctx.language, min_digits=ctx.config.recognizers.long_number_min_digits)]


class Date(RecognizerPlugin):
    name = "date"
    entities = ("DATE_TIME",)

    @classmethod
    def build(cls, ctx):
        return [DateRecognizer(supported_language=ctx.language), SpokenDateRecognizer(ctx.language)]


class Age(RecognizerPlugin):
    name = "age"
    entities = ("AGE",)

    @classmethod
    def build(cls, ctx):
        return [AgeRecognizer(ctx.language)]


class StreetAddress(RecognizerPlugin):
    name = "street_address"
    entities = ("STREET_ADDRESS",)

    @classmethod
    def build(cls, ctx):
        return [StreetAddressRecognizer(ctx.language)]


class Organisation(RecognizerPlugin):
    name = "organisation"
    entities = ("ORGANIZATION",)

    @classmethod
    def build(cls, ctx):
        return [OrganisationRecognizer(ctx.language)]


class NameCues(RecognizerPlugin):
    name = "name_cues"
    entities = ("PERSON",)

    @classmethod
    def build(cls, ctx):
        return [NameCueRecognizer(ctx.language, ctx.names, ctx.english_words)]


class NameGazetteerPlugin(RecognizerPlugin):
    name = "name_gazetteer"
    entities = ("PERSON",)

    @classmethod
    def build(cls, ctx):
        return [GazetteerNameRecognizer(ctx.language, ctx.names, ctx.english_words)]


class KnownNames(RecognizerPlugin):
    name = "known_names"
    entities = ("PERSON",)
    per_interview = True

    @classmethod
    def build(cls, ctx, known_names: list[str] | None = None):
        if not known_names:
            return []
        return [KnownNameRecognizer(ctx.language, known_names, ctx.english_words, ctx.config.fuzzy_threshold)]


class _DanishPlugin(RecognizerPlugin):
    """Built for Danish transcripts only, over the Danish lists (pipeline.deid.danish_data)."""

    @classmethod
    def build(cls, ctx):
        if ctx.language != "da":
            return []
        from pipeline.deid.danish_data import load_danish_data

        return cls.make(ctx, load_danish_data())


class DanishNames(_DanishPlugin):
    name = "danish_names"
    entities = ("PERSON",)

    @classmethod
    def make(cls, ctx, data):
        return [DanishNameCueRecognizer(ctx.language, data), DanishNameRecognizer(ctx.language, data)]


class DanishPlaces(_DanishPlugin):
    name = "danish_places"
    entities = ("LOCATION", "ORGANIZATION")

    @classmethod
    def make(cls, ctx, data):
        return [DanishPlaceRecognizer(ctx.language, data)]


class DanishAddress(_DanishPlugin):
    name = "danish_address"
    entities = ("STREET_ADDRESS",)

    @classmethod
    def make(cls, ctx, data):
        return [DanishAddressRecognizer(ctx.language, data)]


class DanishAge(_DanishPlugin):
    name = "danish_age"
    entities = ("AGE",)

    @classmethod
    def make(cls, ctx, data):
        return [DanishAgeRecognizer(ctx.language)]
def _simple(plugin_name: str, recognizer: type, types: tuple[str, ...]) -> type[RecognizerPlugin]:
    """A plug-in that builds one recognizer taking only the language."""

    class Plugin(RecognizerPlugin):
        name = plugin_name
        entities = types

        @classmethod
        def build(cls, ctx):
            return [recognizer(ctx.language)]

    Plugin.__name__ = Plugin.__qualname__ = recognizer.__name__.replace("Recognizer", "") + "Plugin"
    return Plugin


REGISTRY: dict[str, type[RecognizerPlugin]] = {
    p.name: p
    for p in (
        SpacyNer,
        Email,
        SpokenEmail,
        Url,
        IpAddress,
        Phone,
        DigitGroupPhone,
        CreditCard,
        Iban,
        NationalId,
        LongNumber,
        Date,
        Age,
        StreetAddress,
        Organisation,
        NameCues,
        NameGazetteerPlugin,
        KnownNames,
        DanishNames,
        DanishPlaces,
        DanishAddress,
        DanishAge,
        _simple("spoken_numbers", SpokenNumberRecognizer, SpokenNumberRecognizer.ENTITIES),
        _simple("spoken_url", SpokenUrlRecognizer, ("URL",)),
        _simple("licence_plate", LicencePlateRecognizer, ("ID_NUMBER",)),
        _simple("spelled_names", SpelledNameRecognizer, ("PERSON",)),
        _simple("other_script_names", OtherScriptNameRecognizer, ("PERSON",)),
        _simple("place_cues", PlaceCueRecognizer, ("LOCATION",)),
        _simple("employer_cues", EmployerRecognizer, ("ORGANIZATION",)),
        _simple("more_name_cues", MoreNameCueRecognizer, ("PERSON",)),
    )
}


def build_recognizers(ctx: BuildContext) -> list[EntityRecognizer]:
    """The shared (not per-interview) recognizers that ``ctx.config`` enables, for ``ctx.language``."""
    out: list[EntityRecognizer] = []
    for name in ctx.config.recognizers.enabled:
        plugin = REGISTRY[name]
        if not plugin.per_interview:
            out.extend(plugin.build(ctx))
    return out
