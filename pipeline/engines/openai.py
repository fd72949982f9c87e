"""openai-whisper (PyTorch) engine on the same weights, converted from CTranslate2.

The model name resolves exactly as for faster-whisper (:mod:`pipeline.models`); the CTranslate2
weights are converted once into an openai-whisper checkpoint (:mod:`pipeline.convert`) and loaded
with ``whisper.load_model(path)``. Differences from the faster-whisper engine:

* ``vad_filter`` is ignored: openai-whisper has no VAD;
* progress is reported once, when the whole file is done (``whisper.transcribe`` has no callback);
* ``verbose=None`` is always passed, so whisper never prints transcript text.
"""

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
from pipeline.models import ModelError, default_cache_dir, resolve_model
from pipeline.schema import Segment, Word

log = logging.getLogger(__name__)

# faster-whisper samples 5 candidates at temperature > 0 by default; use the same here.
BEST_OF = 5


class OpenAIWhisperEngine(ASREngine):
    """Transcribe with openai-whisper. ``device="auto"`` uses CUDA (float16 decoding) when available."""

    name = "openai-whisper"

    def __init__(
        self,
        model: str = "base",
        *,
        device: str = "cpu",
        cache_dir: Path | None = None,
        cpu_threads: int = 0,
    ) -> None:
        try:
            import torch
            import whisper
        except ImportError as e:
            raise EngineError("engine openai-whisper needs the pip packages openai-whisper and torch") from e
        from pipeline.convert import (
            ConversionError,
            alignment_heads_dump,
            checkpoint_path_for,
            ct2_to_openai_checkpoint,
            read_ct2_config,
        )

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if cpu_threads > 0:
            torch.set_num_threads(cpu_threads)  # process-wide: torch has no per-model setting
        cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        started = time.monotonic()
        try:
            self.resolved = resolve_model(model, cache)
            ckpt = ct2_to_openai_checkpoint(
                self.resolved.path, checkpoint_path_for(self.resolved.path, self.resolved.sha256, cache)
            )
        except (ModelError, ConversionError) as e:
            raise EngineError(f"openai-whisper: {e}") from e
        try:
            self._model = whisper.load_model(str(ckpt), device=device)
        except (RuntimeError, ValueError, OSError, KeyError) as e:
            raise EngineError(
                f"openai-whisper could not load checkpoint {ckpt}: {type(e).__name__}: {e}"
            ) from e
        dims = self._model.dims
        try:
            config = read_ct2_config(self.resolved.path)
            heads = alignment_heads_dump(config, dims.n_text_layer, dims.n_text_head)
        except ConversionError as e:
            raise EngineError(f"openai-whisper: {e}") from e
        if heads is not None:
            self._model.set_alignment_heads(heads)
            self._model.to(device)  # set_alignment_heads registers a CPU buffer
        self.device = device
        self.model_info = {
            "engine": self.name,
            "engine_version": whisper.__version__,
            "model": self.resolved.name,
            "source": self.resolved.source,
            "sha256": self.resolved.sha256,
            "device": device,
            "compute_type": "float16" if device != "cpu" else "float32",
        }
        log.info("loaded openai-whisper model %s (%s) in %.1fs", model, device, time.monotonic() - started)

    def transcribe(
        self,
        audio: np.ndarray,
        options: DecodeOptions,
        progress: ProgressCallback | None = None,
    ) -> EngineResult:
        import torch
        import whisper

        audio = check_audio(audio)
        torch.manual_seed(options.seed)  # sampled fallbacks give the same text every run
        duration = len(audio) / SAMPLE_RATE
        if options.vad_filter:
            log.info("openai-whisper has no VAD; vad_filter ignored")
        language, probability = options.language, None
        if not self._model.is_multilingual:
            language, probability = language or "en", 1.0
        if len(audio) == 0:
            return EngineResult([], language, probability, dict(self.model_info))
        try:
            if language is None:
                language, probability = self._detect_language(audio)
            result = whisper.transcribe(
                self._model,
                audio,
                verbose=None,  # never print transcript text
                language=language,
                beam_size=options.beam_size,
                best_of=BEST_OF,
                word_timestamps=options.word_timestamps,
                initial_prompt=options.initial_prompt,
                condition_on_previous_text=options.condition_on_previous_text,
                temperature=tuple(options.temperature),
                no_speech_threshold=options.no_speech_threshold,
                suppress_blank=options.suppress_blank,
                suppress_tokens=list(options.suppress_tokens),
                fp16=self.device != "cpu",
            )
        except (RuntimeError, ValueError) as e:
            raise EngineError(
                f"openai-whisper failed to decode with model {self.resolved.name!r}: {e}"
            ) from e
        segments = [_to_segment(i, s) for i, s in enumerate(result["segments"])]
        if progress is not None:
            progress(duration)
        log.debug("openai-whisper produced %d segments", len(segments))
        return EngineResult(
            segments=segments,
            language=result.get("language", language),
            language_probability=probability,
            model=dict(self.model_info),
        )

    def language_probabilities(self, audio: np.ndarray, vad_filter: bool = False) -> dict[str, float]:
        """On the first 30 s, as ``whisper.transcribe`` does (no VAD here: ``vad_filter`` ignored)."""
        import whisper

        if not self._model.is_multilingual:
            return {"en": 1.0}
        audio = check_audio(audio)
        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio), n_mels=self._model.dims.n_mels)
        _, probs = self._model.detect_language(mel.to(self._model.device))
        return {language: float(p) for language, p in probs.items()}

    def _detect_language(self, audio: np.ndarray) -> tuple[str, float]:
        """Detect on the first 30 s, as ``whisper.transcribe`` does, keeping the probability."""
        import whisper

        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio), n_mels=self._model.dims.n_mels)
        _, probs = self._model.detect_language(mel.to(self._model.device))
        language = max(probs, key=probs.get)
        return language, float(probs[language])


def _to_segment(idx: int, seg: dict) -> Segment:
    words = [
        Word(
            start=float(w["start"]),
            end=float(w["end"]),
            text=w["word"].strip(),
            probability=float(w["probability"]),
        )
        for w in seg.get("words") or []
        if w["word"].strip()
    ]
    return Segment(
        id=idx, start=float(seg["start"]), end=float(seg["end"]), text=seg["text"].strip(), words=words
    )
