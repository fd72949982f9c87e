"""The name -> class registry of speaker back-ends."""

from __future__ import annotations

from pipeline.speakers.base import SpeakerBackend, SpeakersError
from pipeline.speakers.channel import ChannelBackend
from pipeline.speakers.config import SpeakersConfig
from pipeline.speakers.embedding import EmbeddingBackend
from pipeline.speakers.pyannote_backend import PyannoteBackend

BACKENDS: dict[str, type[SpeakerBackend]] = {
    "embedding": EmbeddingBackend,
    "channel": ChannelBackend,
    "pyannote": PyannoteBackend,
}


def get_backend(name: str, config: SpeakersConfig) -> SpeakerBackend:
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise SpeakersError(f"unknown speaker back-end {name!r} (known: {', '.join(BACKENDS)})") from None
    return cls(config)
