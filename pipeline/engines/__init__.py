"""Speech-recognition engines: an explicit name -> class registry.

Importing this package is cheap: faster-whisper, ctranslate2, torch and whisper are imported
inside the engine classes, when one is constructed.
"""

from __future__ import annotations

from typing import Any

from pipeline.engines.base import ASREngine, DecodeOptions, EngineError, EngineResult
from pipeline.engines.faster import FasterWhisperEngine
from pipeline.engines.openai import OpenAIWhisperEngine

ENGINES: dict[str, type[ASREngine]] = {
    "faster-whisper": FasterWhisperEngine,
    "openai-whisper": OpenAIWhisperEngine,
}


def load_engine(name: str, model: str, **kwargs: Any) -> ASREngine:
    """Construct engine ``name`` with ``model`` (a name for :func:`pipeline.models.resolve_model`)."""
    try:
        cls = ENGINES[name]
    except KeyError:
        raise EngineError(
            f"unknown ASR engine {name!r}; known engines: {', '.join(sorted(ENGINES))}"
        ) from None
    return cls(model, **kwargs)


__all__ = [
    "ENGINES",
    "ASREngine",
    "DecodeOptions",
    "EngineError",
    "EngineResult",
    "FasterWhisperEngine",
    "OpenAIWhisperEngine",
    "load_engine",
]
