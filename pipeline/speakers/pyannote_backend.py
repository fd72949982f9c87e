"""pyannote back-end (optional extra): a thin adapter over ``pyannote.audio``'s public ``Pipeline``.

Needs ``pip install 'interview-pipeline[pyannote]'`` and either a local pipeline (a folder with
``config.yaml``, or the file itself) in ``speakers.pyannote.model``, or a hub id plus a token in the
environment variable named by ``speakers.pyannote.token_env`` and network access. Not tested here:
neither the package nor a model can be installed on the project's machines.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from pipeline.speakers.base import AudioInput, Diarization, SpeakerBackend, SpeakersError, Turn
from pipeline.speakers.channel import overlaps_of
from pipeline.speakers.config import ResolvedSpeakers

logger = logging.getLogger(__name__)

_pipelines: dict[str, Any] = {}
_lock = threading.Lock()


def _load(model: str, token: str | None) -> Any:
    try:
        from pyannote.audio import Pipeline
    except ImportError as e:
        raise SpeakersError(
            "backend 'pyannote' needs the optional package pyannote.audio (pip install 'interview-pipeline[pyannote]')"
        ) from e
    path = Path(model)
    source = str(path / "config.yaml") if path.is_dir() else model
    if not path.exists() and not token:
        raise SpeakersError(
            f"pyannote model {model!r} is not a local path and no token is set; set speakers.pyannote.model to a local pipeline"
        )
    with _lock:
        if source not in _pipelines:
            try:
                _pipelines[source] = (
                    Pipeline.from_pretrained(source, use_auth_token=token)
                    if token
                    else Pipeline.from_pretrained(source)
                )
            except Exception as e:  # the library raises many types (network, auth, config)
                raise SpeakersError(f"cannot load pyannote pipeline {model!r} ({type(e).__name__})") from e
            if _pipelines[source] is None:
                raise SpeakersError(
                    f"cannot load pyannote pipeline {model!r} (gated model without a valid token?)"
                )
        return _pipelines[source]


class PyannoteBackend(SpeakerBackend):
    name = "pyannote"

    def diarize(self, audio: AudioInput, settings: ResolvedSpeakers) -> Diarization:
        cfg = self.config.pyannote
        if not cfg.model:
            raise SpeakersError(
                "backend 'pyannote' needs speakers.pyannote.model (a local pipeline folder or a hub id)"
            )
        pipeline = _load(cfg.model, os.environ.get(cfg.token_env) or None)
        kwargs: dict[str, int] = {}
        if settings.num_speakers is not None:
            kwargs["num_speakers"] = settings.num_speakers
        else:
            kwargs.update(min_speakers=settings.min_speakers, max_speakers=settings.max_speakers)
        annotation = pipeline(str(audio.mono_path), **kwargs)
        turns = [
            Turn(round(seg.start, 3), round(seg.end, 3), str(label))
            for seg, _, label in annotation.itertracks(yield_label=True)
        ]
        overlaps = overlaps_of(turns, self.config.overlap.min_seconds)
        stats = {
            "num_speakers": len({t.speaker for t in turns}),
            "overlap_seconds": round(sum(e - s for s, e in overlaps), 2),
        }
        return Diarization(sorted(turns, key=lambda t: t.start), self.name, overlaps=overlaps, stats=stats)
