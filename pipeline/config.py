"""Every tunable has one home: these pydantic models, loaded from ``configs/*.yaml``.

Unknown keys are rejected, and errors name the file and the key: a de-identification tool must
never fall back silently to defaults when the user's file fails to parse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.deid.config import DeidentifyConfig
from pipeline.export.config import ExportConfig
from pipeline.speakers.config import SpeakersConfig

# Verbatim prompts per language: written in the style we want back (fillers, false starts), in
# that language, so that Whisper keeps fillers without being pulled into another language.
DEFAULT_VERBATIM_PROMPTS = {
    "en": "Umm, let me think like, hmm... Okay, here's what I'm, like, thinking. "
    "So, uh, I- I mean, you know, it was, er, it was fine.",
    "da": "Øh, altså, lad mig lige tænke, øhm... Ja, altså, jeg- jeg mener, øh, "
    "det var, øh, det var fint, ikke også.",
}


class ConfigError(ValueError):
    """A configuration file is invalid; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class IngestConfig(_Strict):
    keep_channels: bool = Field(
        True,
        description="Also keep a 16 kHz copy with the original channels (speaker-per-channel recordings).",
    )
    ffmpeg_timeout_s: float = Field(
        3600, gt=0, description="Give up decoding one file after this many seconds."
    )


class VerbatimConfig(_Strict):
    enabled: bool = Field(True, description="Keep fillers and false starts; mark pauses and uncertain words.")
    prompts: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_VERBATIM_PROMPTS),
        description="Initial prompt per language code, written in verbatim style in that language "
        "(fillers, false starts); a language without one is decoded without a prompt.",
    )
    use_prompt: bool = Field(
        False,
        description="Decode with the prompt of the file's language. Off by default: measured with base, "
        "the prompt made Whisper add phrases on short clips (see README, verbatim mode).",
    )
    no_prompt_models: list[str] = Field(
        ["tiny", "tiny.en"],
        description="Models decoded without the prompt: measured here, tiny.en dropped 20-43 % of the words of the sample interviews when prompted.",
    )
    pause_min_seconds: float = Field(
        2.0, gt=0, description="Mark silences (no speech found by the VAD) at least this long."
    )
    pause_marker: str = Field(
        "({seconds:.0f} s)", description="Text of a pause marker; {seconds} is the pause length."
    )
    uncertain_threshold: float = Field(
        0.0, ge=0, le=1, description="Mark words with probability below this (0: off)."
    )
    uncertain_marker: str = Field("{word} [?]", description="Text of an uncertain word; {word} is the word.")


class GuardConfig(_Strict):
    """Nothing invented, nothing silently lost: checks of the decoded words against Silero VAD."""

    enabled: bool = Field(True, description="Drop invented words and mark speech that has no words.")
    vad_threshold: float = Field(
        0.15, gt=0, lt=1, description="Silero speech probability above which a 32 ms frame is speech."
    )
    vad_min_silence: float = Field(
        1.0, ge=0, description="Join speech regions separated by less than this (s)."
    )
    vad_min_speech: float = Field(0.2, ge=0, description="Drop speech regions shorter than this (s).")
    vad_pad: float = Field(0.2, ge=0, description="Widen speech regions by this on each side (s).")
    outside_tolerance: float = Field(
        0.5,
        ge=0,
        description="A word whose middle lies further than this (s) from any speech region is dropped.",
    )
    max_repeats: int = Field(
        2, ge=1, description="Keep at most this many back-to-back copies of a repeated phrase of 2+ words."
    )
    prompt_echo_words: int = Field(
        4, ge=2, description="Drop a run of at least this many words copied from the prompt."
    )
    inaudible_min_seconds: float = Field(
        1.0, gt=0, description="A speech region at least this long with no words is decoded again on its own."
    )
    redecode_min_probability: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Words decoded again are kept only if their mean probability reaches this; "
        "otherwise the region is marked inaudible (a guess is not a transcript).",
    )
    inaudible_marker: str = Field(
        "[inaudible {start}–{end}]",
        description="Marker for a speech region that still has no words; {start}/{end} as mm:ss (h:mm:ss past an hour).",
    )


class TranscribeConfig(_Strict):
    engine: Literal["faster-whisper", "openai-whisper"] = "faster-whisper"
    model: str = Field(
        "base", description="tiny.en or base (offline, from PyPI packages), a model folder, or a hub name."
    )
    language: str | None = Field(None, description="ISO code such as 'en' or 'da'; null: detect per file.")
    expected_languages: list[str] = Field(
        ["da", "en"],
        description="When detecting: languages this study expects. One of them is chosen unless another "
        "language is more than `expected_language_weight` times as likely ([]: plain detection).",
    )
    expected_language_weight: float = Field(
        20.0, ge=1, description="How much more likely an expected language is taken to be a priori."
    )
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = Field("int8", description="faster-whisper compute type: int8 on CPU, float16 on GPU.")
    cpu_threads: int = Field(0, ge=0, description="Threads per worker; 0: chosen from the core count.")
    beam_size: int = Field(5, ge=1, le=20)
    temperature: list[float] = Field(
        [0.0],
        min_length=1,
        description="Decoding temperatures tried in turn; [0.0] (no sampling) makes two runs give the same text. "
        "Sampled fallbacks (e.g. [0.0, 0.2, 0.4]) are seeded with `seed` under openai-whisper only: "
        "faster-whisper's sampling was not reproducible even seeded.",
    )
    seed: int = Field(0, ge=0, description="Random seed of sampled temperature fallbacks (openai-whisper).")
    vad_filter: bool = Field(True, description="Skip long silences with Silero VAD (faster-whisper only).")
    condition_on_previous_text: bool = True
    verbatim: VerbatimConfig = Field(default_factory=VerbatimConfig)
    guard: GuardConfig = Field(default_factory=GuardConfig)


class RunConfig(_Strict):
    workers: int = Field(0, ge=0, description="Worker processes; 0: chosen from cores and memory.")
    executor: Literal["local", "dask", "dask-local"] = "local"
    scheduler: str | None = Field(
        None, description="Dask scheduler address, e.g. tcp://host:8786 (executor: dask)."
    )
    ids: Literal["filename", "neutral"] = Field(
        "filename",
        description="Interview ids, which shareable/ shows: from file names made of codes only "
        "(P01, INT-03, participant_7; any other file name gets a neutral id), or always neutral "
        "(interview-001, ...).",
    )


class PipelineConfig(_Strict):
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    transcribe: TranscribeConfig = Field(default_factory=TranscribeConfig)
    speakers: SpeakersConfig = Field(default_factory=SpeakersConfig)
    deidentify: DeidentifyConfig = Field(default_factory=DeidentifyConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    run: RunConfig = Field(default_factory=RunConfig)

    def section_hash_input(self, section: str) -> dict[str, Any]:
        return getattr(self, section).model_dump(mode="json")


def _format_validation_error(source: str, e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        parts.append(f"{loc}: {msg}")
    return f"{source}: invalid configuration: " + "; ".join(parts)


# Keys under these mappings are the user's own (interview ids, file names that may hold a name):
# a duplicate among them is reported by position, not by its text.
_FREE_KEYS = ("interviews",)


def _schema_keys() -> set[str]:
    """Every field name of the configuration schema: only these are quoted in an error (any other key
    is the user's own text, such as a name written as a mapping key)."""
    found: set[str] = set()

    def walk(model) -> None:
        for name, field in model.model_fields.items():
            found.add(name)
            for arg in (field.annotation, *getattr(field.annotation, "__args__", ())):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    walk(arg)

    walk(PipelineConfig)
    return found


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error.

    PyYAML (like the YAML spec's lenient readers) keeps the last value, so a second
    ``deidentify:`` block or a repeated ``known_names`` silently dropped the names listed first.
    """

    source = "<config>"

    def construct_document(self, node):  # noqa: D102 - PyYAML's name
        _check_unique(node, self.source, [])
        return super().construct_document(node)


def _check_unique(node: yaml.Node, source: str, path: list[str]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else id(k)
            if key == "<<":
                continue
            where = ".".join(path)
            free = bool(path) and path[-1] in _FREE_KEYS
            if key in seen:
                known = not free and key in _schema_keys() and all(k in _schema_keys() for k in path)
                name = f"'{'.'.join([*path, str(key)])}'" if known else f"a key under {where or 'the top level'}"
                raise ConfigError(
                    f"{source}: line {k.start_mark.line + 1}: {name} is given twice (first at line "
                    f"{seen[key]}); the earlier value would be lost: merge them into one"
                )
            seen[key] = k.start_mark.line + 1
            _check_unique(v, source, [*path, "<key>" if free else str(key)])
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_unique(item, source, path)


def _load_yaml(text: str, path: Path) -> Any:
    loader = _UniqueKeyLoader(text)
    loader.source = str(path)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Load and validate a YAML config (or the defaults), then apply CLI overrides.

    ``overrides`` maps dotted keys (``"transcribe.model"``) to values; ``None`` values are skipped.
    """
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        path = Path(path)
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: cannot read configuration ({type(e).__name__})") from e
        try:
            loaded = _load_yaml(text, path)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(e, "problem", None) or type(e).__name__
            raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from e
        except RecursionError as e:
            raise ConfigError(f"{path}: invalid configuration: nested too deeply") from e
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(
                f"{path}: the top level must be a mapping of sections, not {type(loaded).__name__}"
            )
        data = loaded
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{source}: '{key}' must be a mapping")
        node[leaf] = value
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_validation_error(source, e)) from e
