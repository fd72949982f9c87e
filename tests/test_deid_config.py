"""DeidentifyConfig: defaults work, every invalid value is a ValidationError naming the key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.deid.config import DEFAULT_ENTITIES, RECOGNIZER_NAMES, DeidentifyConfig


def test_defaults_validate_and_enable_every_recognizer():
    cfg = DeidentifyConfig()
    assert cfg.pseudonym_style == "label"
    assert cfg.recognizers.enabled == list(RECOGNIZER_NAMES)
    assert list(cfg.entities) == list(DEFAULT_ENTITIES)
    assert cfg.label_format.format(label=cfg.label_for("PERSON"), n=3) == "[PERSON_3]"


def test_registry_and_config_name_the_same_recognizers():
    from pipeline.deid.recognizers import REGISTRY

    assert set(REGISTRY) == set(RECOGNIZER_NAMES)


@pytest.mark.parametrize(
    "data, key, fragment",
    [
        ({"entities": ["PERSON", "SHOE_SIZE"]}, "entities", "SHOE_SIZE"),
        ({"entity_thresholds": {"SHOE_SIZE": 0.5}}, "entity_thresholds", "SHOE_SIZE"),
        ({"labels": {"PERSON": "bad label!"}}, "labels", "label"),
        ({"recognizers": {"enabled": ["spacy_ner", "magic"]}}, "recognizers.enabled", "magic"),
        ({"recognizers": {"phone_regions": ["XX"]}}, "recognizers.phone_regions", "XX"),
        ({"recognizers": {"national_id_countries": ["ZZ"]}}, "recognizers.national_id_countries", "ZZ"),
        ({"recognizers": {"colour": "red"}}, "recognizers.colour", "Extra inputs"),
        ({"pseudonym_style": "emoji"}, "pseudonym_style", "label"),
        ({"dates": "shred"}, "dates", "generalise"),
        ({"label_format": "<{label}>"}, "label_format", "{n}"),
        ({"fuzzy_threshold": 10}, "fuzzy_threshold", "50"),
        ({"score_threshold": 1.5}, "score_threshold", "1"),
        ({"surrogate_locale": "xx_YY"}, "surrogate_locale", "xx_YY"),
        (
            {"interviews": {"int-1": {"known_names": ["A"], "nicknames": ["B"]}}},
            "interviews.int-1.nicknames",
            "Extra",
        ),
        ({"unknown_key": 1}, "unknown_key", "Extra inputs"),
    ],
)
def test_invalid_config_is_an_error_naming_the_key(data, key, fragment):
    with pytest.raises(ValidationError) as exc:
        DeidentifyConfig.model_validate(data)
    errors = exc.value.errors()
    locs = [".".join(str(p) for p in e["loc"]) for e in errors]
    assert any(loc.startswith(key) for loc in locs), locs
    assert fragment in str(exc.value)


def test_thresholds_for_disabled_types_are_refused():
    with pytest.raises(ValidationError, match="not enabled"):
        DeidentifyConfig(entities=["PERSON"], entity_thresholds={"AGE": 0.5})


def test_per_interview_names_add_to_project_names():
    cfg = DeidentifyConfig(
        known_names=["Anna Jensen"],
        interviews={"int-2": {"known_names": ["Tom Becker"], "allow_list": ["Westfield"]}},
    )
    assert cfg.known_names_for("int-2") == ["Anna Jensen", "Tom Becker"]
    assert cfg.known_names_for("int-1") == ["Anna Jensen"]
    assert cfg.allow_list_for("int-2") == ["Westfield"]


def test_public_summary_holds_no_names():
    cfg = DeidentifyConfig(known_names=["Anna Jensen"], allow_list=["Westfield"])
    summary = repr(cfg.public_summary())
    assert "Anna" not in summary and "Westfield" not in summary
    assert cfg.public_summary()["known_names_count"] == 1


def test_example_yaml_validates_and_matches_the_defaults():
    from pathlib import Path

    import yaml

    path = Path(__file__).resolve().parents[1] / "configs" / "deidentify.example.yaml"
    section = yaml.safe_load(path.read_text(encoding="utf-8"))["deidentify"]
    assert DeidentifyConfig.model_validate(section) == DeidentifyConfig()
