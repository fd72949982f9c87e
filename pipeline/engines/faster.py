"""faster-whisper (CTranslate2) engine, through faster-whisper's public API only."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from pipeline.engines.base import (
    SAMPLE_RATE,
    ASREngine,
    DecodeOptions,
    EngineError,
    EngineResult,
    ProgressCallback,
    check_audio,
)
from pipeline.models import ModelError, resolve_model
from pipeline.schema import Segment, Word

log = logging.getLogger(__name__)


def _cuda_available() -> bool:
    import ctranslate2

    try:
        return ctranslate2.get_cuda_device_count() > 0
    except RuntimeError:  # CUDA driver present but unusable
        return False


class FasterWhisperEngine(ASREngine):
    """Transcribe with faster-whisper. ``device="auto"`` uses CUDA with float16 when available."""

    name = "faster-whisper"

    def __init__(
        self,
        model: str = "base",
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int = 0,
        cache_dir: Path | None = None,
    ) -> None:
        try:
            import faster_whisper
        except ImportError as e:
            raise EngineError("engine faster-whisper needs the pip package faster-whisper") from e
        if device == "auto":
            device, compute_type = ("cuda", "float16") if _cuda_available() else ("cpu", compute_type)
        try:
            self.resolved = resolve_model(model, cache_dir)
        except ModelError as e:
            raise EngineError(f"faster-whisper: {e}") from e
        started = time.monotonic()
        try:
            self._model = faster_whisper.WhisperModel(
                str(self.resolved.path),
                device=device,
                compute_type=compute_type,
                cpu_threads=cpu_threads,
            )
        except (RuntimeError, ValueError, OSError) as e:
            raise EngineError(
                f"faster-whisper could not load model {model!r} from {self.resolved.path} "
                f"on {device}/{compute_type}: {type(e).__name__}: {e}"
            ) from e
        self.device, self.compute_type = device, compute_type
        self.model_info = {
            "engine": self.name,
            "engine_version": faster_whisper.__version__,
            "model": self.resolved.name,
            "source": self.resolved.source,
            "sha256": self.resolved.sha256,
            "device": device,
            "compute_type": compute_type,
        }
        log.info(
            "loaded faster-whisper model %s (%s, %s) in %.1fs",
            model,
            device,
            compute_type,
            time.monotonic() - started,
        )

    def transcribe(
        self,
        audio: np.ndarray,
        options: DecodeOptions,
        progress: ProgressCallback | None = None,
    ) -> EngineResult:
        import ctranslate2

        audio = check_audio(audio)
        # Seeds this thread only: CTranslate2 samples in its own threads, so sampled fallbacks still
        # vary between runs (measured); reproducible text needs temperature [0.0], the default.
        ctranslate2.set_random_seed(options.seed)
        try:
            segments_iter, info = self._model.transcribe(
                audio,
                language=options.language,
                beam_size=options.beam_size,
                word_timestamps=options.word_timestamps,
                initial_prompt=options.initial_prompt,
                condition_on_previous_text=options.condition_on_previous_text,
                temperature=list(options.temperature),
                vad_filter=options.vad_filter,
                no_speech_threshold=options.no_speech_threshold,
                suppress_blank=options.suppress_blank,
                suppress_tokens=list(options.suppress_tokens),
            )
            segments: list[Segment] = []
            for seg in segments_iter:  # decoding happens lazily, segment by segment
                segments.append(_to_segment(len(segments), seg))
                if progress is not None:
                    progress(float(seg.end))
        except (RuntimeError, ValueError) as e:
            raise EngineError(
                f"faster-whisper failed to decode with model {self.resolved.name!r}: {e}"
            ) from e
        if progress is not None:
            progress(len(audio) / SAMPLE_RATE)
        log.debug("faster-whisper produced %d segments", len(segments))
        return EngineResult(
            segments=segments,
            language=info.language,
            language_probability=float(info.language_probability),
            model=dict(self.model_info),
        )

    def language_probabilities(self, audio: np.ndarray, vad_filter: bool = False) -> dict[str, float]:
        """As ``transcribe`` detects it: on the first 30 s (of speech, with ``vad_filter``)."""
        audio = check_audio(audio)
        if not self._model.model.is_multilingual:
            return {"en": 1.0}
        try:
            _, _, probabilities = self._model.detect_language(audio, vad_filter=vad_filter)
        except (RuntimeError, ValueError) as e:
            raise EngineError(
                f"faster-whisper failed to detect the language with model {self.resolved.name!r}: {e}"
            ) from e
        return {language: float(p) for language, p in probabilities}


def _to_segment(idx: int, seg) -> Segment:
    words = [
        Word(start=float(w.start), end=float(w.end), text=w.word.strip(), probability=float(w.probability))
        for w in (seg.words or [])
        if w.word.strip()
    ]
    return Segment(id=idx, start=float(seg.start), end=float(seg.end), text=seg.text.strip(), words=words)
