"""The contract between stages: versioned dataclasses that round-trip to JSON.

Every artefact a stage writes is one of these. The transcript JSON is a public
contract, documented in the README ("Transcript JSON"). Bump ``SCHEMA_VERSION``
when a field changes meaning; readers refuse versions they do not know.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "1.0"
SUPPORTED_VERSIONS = ("1.0",)


class SchemaError(ValueError):
    """An artefact does not match the schema; the message names the file or field."""


@dataclass
class Word:
    start: float
    end: float
    text: str
    probability: float = 1.0
    speaker: str | None = None
    overlap: bool = False  # spoken while another voice speaks (speakers stage)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Word:
        return cls(
            start=float(d["start"]),
            end=float(d["end"]),
            text=str(d["text"]),
            probability=float(d.get("probability", 1.0)),
            speaker=d.get("speaker"),
            overlap=bool(d.get("overlap", False)),
        )


@dataclass
class Segment:
    id: int
    start: float
    end: float
    text: str
    speaker: str | None = None
    words: list[Word] = field(default_factory=list)
    overlap: bool = False

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Segment:
        return cls(
            id=int(d["id"]),
            start=float(d["start"]),
            end=float(d["end"]),
            text=str(d["text"]),
            speaker=d.get("speaker"),
            words=[Word.from_dict(w) for w in d.get("words") or []],
            overlap=bool(d.get("overlap", False)),
        )


@dataclass
class Speaker:
    """A voice in the interview. ``id`` is stable (S1, S2, ...); ``label`` is what exports show."""

    id: str
    label: str
    role: str = "participant"  # "interviewer" | "participant" | "unknown"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Speaker:
        return cls(id=str(d["id"]), label=str(d.get("label", d["id"])), role=str(d.get("role", "unknown")))


@dataclass
class Transcript:
    interview_id: str
    language: str | None
    segments: list[Segment] = field(default_factory=list)
    speakers: list[Speaker] = field(default_factory=list)
    duration: float | None = None
    # How the artefact was made: engine, model, options, stage versions. Never personal data.
    provenance: dict[str, Any] = field(default_factory=dict)
    schema_version: str = SCHEMA_VERSION

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())

    def speaker_label(self, speaker_id: str | None) -> str:
        for sp in self.speakers:
            if sp.id == speaker_id:
                return sp.label
        return speaker_id or "Unknown"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        # Put the version first so a reader sees it at the top of the file.
        return {"schema_version": d.pop("schema_version"), **d}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transcript:
        version = d.get("schema_version")
        if version not in SUPPORTED_VERSIONS:
            raise SchemaError(
                f"unsupported schema_version {version!r} (supported: {', '.join(SUPPORTED_VERSIONS)})"
            )
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise SchemaError(f"unknown transcript field(s): {', '.join(sorted(unknown))}")
        try:
            return cls(
                interview_id=str(d["interview_id"]),
                language=d.get("language"),
                segments=[Segment.from_dict(s) for s in d.get("segments") or []],
                speakers=[Speaker.from_dict(s) for s in d.get("speakers") or []],
                duration=d.get("duration"),
                provenance=dict(d.get("provenance") or {}),
                schema_version=version,
            )
        except KeyError as e:
            raise SchemaError(f"malformed transcript: missing field {e}") from e
        except (TypeError, ValueError) as e:  # their messages quote the value: type only
            raise SchemaError(f"malformed transcript: a field has the wrong type ({type(e).__name__})") from e
        except RecursionError as e:
            raise SchemaError("malformed transcript: values nested too deeply") from e

    @classmethod
    def from_json_text(
        cls, text: str, source: str | Path = "<text>", max_segments: int | None = None
    ) -> Transcript:
        """Parse transcript JSON; errors are ``SchemaError('<source>: <reason>')``.

        ``max_segments``: refuse a transcript with more segments before building them."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SchemaError(f"{source}: invalid JSON (line {e.lineno})") from e
        except RecursionError as e:  # '[[[[...' thousands deep: this file fails, the batch goes on
            raise SchemaError(f"{source}: JSON nested too deeply to be a transcript") from e
        if not isinstance(data, dict):
            raise SchemaError(f"{source}: JSON is not a transcript object")
        n = len(data["segments"]) if isinstance(data.get("segments"), list) else 0
        if max_segments is not None and n > max_segments:
            raise SchemaError(
                f"{source}: {n:,} segments is over the limit of {max_segments:,} for one transcript; "
                "split it into several files"
            )
        try:
            return cls.from_dict(data)
        except SchemaError as e:
            raise SchemaError(f"{source}: {e}") from e

    @classmethod
    def load(cls, path: str | Path) -> Transcript:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise SchemaError(f"{path}: not a readable transcript JSON ({type(e).__name__})") from e
        return cls.from_json_text(text, path)


@dataclass
class AudioInfo:
    """What the ingest stage learnt about a source recording."""

    interview_id: str
    source_path: str
    source_sha256: str
    duration: float
    sample_rate: int
    channels: int
    normalized_path: str  # 16 kHz mono WAV, relative to the interview's restricted folder
    channels_path: str | None = None  # 16 kHz WAV with the original channels, when channels > 1
    schema_version: str = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AudioInfo:
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


@dataclass
class Redaction:
    """One replacement made by the deidentify stage (restricted: holds the original text)."""

    segment_id: int
    start: int  # character offsets in the raw segment's text
    end: int
    text: str
    entity_type: str
    score: float
    recognizer: str
    replacement: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Redaction:
        return cls(**{f.name: d[f.name] for f in fields(cls)})
