"""Speakers stage: who said each word, segments split at speaker changes, and who is the interviewer.

``run(transcript, audio, interview_dir, config) -> Transcript`` returns a new transcript: every word
has ``speaker`` (S1, S2, ...), segments are split where the speaker changes (ids renumbered),
``transcript.speakers`` lists ids, roles and labels, overlapped segments are flagged, and the
provenance records the back-end, its options and measured counts (never text).
Back-ends and rules: ``pipeline/speakers/`` and ``docs/speakers.md``.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.schema import AudioInfo, Segment, Transcript
from pipeline.speakers import roles
from pipeline.speakers.assign import assign
from pipeline.speakers.base import AudioInput, Diarization, Samples, SpeakersError, open_samples
from pipeline.speakers.config import ResolvedSpeakers, SpeakersConfig
from pipeline.speakers.registry import get_backend

logger = logging.getLogger(__name__)

STAGE_VERSION = 1
_voiceprints: dict[tuple[str, float, int], np.ndarray | None] = {}  # enrolled samples, per process


def choose_backend(
    settings: ResolvedSpeakers, audio: AudioInput, config: SpeakersConfig
) -> tuple[str, dict[str, Any]]:
    """The back-end to use and, for ``auto``, the channel measures that decided it."""
    if settings.backend != "auto":
        return settings.backend, {}
    from pipeline.speakers.channel import channels_are_separate

    with audio.open_channels() as src:  # read one block at a time
        separate, measures = channels_are_separate(src, config.channel)
    return ("channel" if separate else "embedding"), measures


def _voiceprint(path: Path, config: SpeakersConfig) -> np.ndarray | None:
    from pipeline.speakers.embedding import voice_embedding

    try:
        st = path.stat()
    except OSError as e:
        raise SpeakersError(f"interviewer_sample {path.name}: cannot read ({type(e).__name__})") from e
    key = (str(path.resolve()), st.st_mtime, st.st_size)
    if key not in _voiceprints:
        with _open_any(path) as src:
            _voiceprints[key] = voice_embedding(src, cfg=config.embedding)
        if _voiceprints[key] is None:
            logger.warning("interviewer_sample %s: no speech found", path.name)
    return _voiceprints[key]


@contextmanager
def _open_any(path: Path) -> Iterator[Samples]:
    """A voice sample as 16 kHz samples read block by block: a 16 kHz file libsndfile reads directly
    (channels averaged), others decoded as ingest decodes recordings, into a temporary folder."""
    try:
        with open_samples(path):
            readable = True
    except SpeakersError:
        readable = False
    if readable:
        with open_samples(path) as src:
            yield src
        return
    import tempfile

    from pipeline.stages.ingest import InputError, convert
    from pipeline.store import StoreError

    with tempfile.TemporaryDirectory(prefix="voice-sample-") as tmp:
        wav = Path(tmp) / "sample.wav"
        try:
            convert(path, wav, 1, timeout=600)  # the decoding every recording goes through
        except (InputError, StoreError) as e:
            raise SpeakersError(f"interviewer_sample {path.name}: cannot decode ({type(e).__name__})") from e
        with open_samples(wav) as src:
            yield src


def enrolled_interviewer(
    diar: Diarization, ids: dict[str, str], mono: np.ndarray | Samples, config: SpeakersConfig
) -> tuple[str | None, dict[str, float]]:
    """The speaker id closest to the enrolled interviewer voice, if close enough; and all similarities."""
    from pipeline.speakers.embedding import voice_embedding

    sample = _voiceprint(Path(config.interviewer_sample), config)  # type: ignore[arg-type]
    if sample is None:
        return None, {}
    sims: dict[str, float] = {}
    for label, sid in ids.items():
        spans = [(t.start, t.end) for t in diar.turns if t.speaker == label]
        v = voice_embedding(mono, spans, config.embedding)
        if v is not None:
            sims[sid] = round(float(v @ sample), 4)
    if not sims:
        return None, sims
    best = max(sims, key=lambda k: sims[k])
    return (best if sims[best] >= config.enrol_threshold else None), sims


def _decide_interviewer(
    settings: ResolvedSpeakers,
    segments: list[Segment],
    diar: Diarization,
    ids: dict[str, str],
    audio: AudioInput,
    config: SpeakersConfig,
) -> tuple[str | None, dict[str, Any]]:
    known = set(ids.values())
    if settings.interviewer is not None:
        if settings.interviewer not in known:
            logger.warning(
                "configured interviewer %s is not among the %d speakers found",
                settings.interviewer,
                len(known),
            )
        return settings.interviewer, {"interviewer_rule": "config"}
    if config.interviewer_sample is not None and known:
        with audio.open_mono() as src:
            chosen, sims = enrolled_interviewer(diar, ids, src, config)
        if chosen is not None:
            return chosen, {"interviewer_rule": "voice_sample", "sample_similarity": sims}
        info: dict[str, Any] = {"sample_similarity": sims}
    else:
        info = {}
    if config.infer_roles:
        stats = roles.speaker_stats(segments)
        found = roles.infer_interviewer(stats)
        if found is not None:
            return found, {
                **info,
                "interviewer_rule": "inferred",
                "interviewer_scores": roles.interviewer_scores(stats),
            }
    return None, {**info, "interviewer_rule": "none"}


def count_note(settings: ResolvedSpeakers, found: int, voices: int | None = None) -> str | None:
    """Why the transcript does not hold the asked number of speakers (None when it does).
    ``found``: speakers holding words; ``voices``: speakers the back-end found (with or without words)."""
    if settings.num_speakers is not None and found != settings.num_speakers:
        want = f"{settings.num_speakers} speakers asked"
    elif settings.min_speakers > 1 and found < settings.min_speakers:
        want = f"at least {settings.min_speakers} speakers asked"
    elif found > settings.max_speakers:
        want = f"at most {settings.max_speakers} speakers asked"
    else:
        return None
    if found == 0:
        return f"{want}, none: no words were recognised"
    if voices is not None and voices > found and found < (settings.num_speakers or settings.min_speakers):
        return f"{want}, {voices} voices found but only {found} hold recognised words"
    return (
        f"{want}, {found} hold words: the audio does not separate more voices "
        "(too little speech of one, or voices too alike)"
        if found < (settings.num_speakers or settings.min_speakers)
        else f"{want}, {found} hold words"
    )


def _rename(segments: list[Segment], ids: dict[str, str]) -> list[Segment]:
    out = []
    for seg in segments:
        words = [replace(w, speaker=ids.get(w.speaker) if w.speaker else None) for w in seg.words]
        out.append(replace(seg, words=words, speaker=ids.get(seg.speaker) if seg.speaker else None))
    return out


def run(transcript: Transcript, audio: AudioInfo, interview_dir: Path, config: SpeakersConfig) -> Transcript:
    """Tag speakers on a copy of ``transcript``; the audio paths in ``audio`` are relative to ``interview_dir``."""
    started = time.monotonic()
    interview_dir = Path(interview_dir)
    settings = config.for_interview(transcript.interview_id)
    source = AudioInput(
        mono_path=interview_dir / audio.normalized_path,
        channels_path=(interview_dir / audio.channels_path) if audio.channels_path else None,
    )
    segments = copy.deepcopy(transcript.segments)
    provenance: dict[str, Any] = {
        "stage_version": STAGE_VERSION,
        "options": config.model_dump(mode="json", exclude={"interviews"}),
    }
    provenance["options"]["interviewer_sample"] = (
        Path(config.interviewer_sample).name if config.interviewer_sample else None
    )
    provenance["resolved"] = settings.model_dump(mode="json")

    name, auto_measures = choose_backend(settings, source, config)
    provenance["backend"] = name
    if auto_measures:
        provenance["auto_channel_measures"] = auto_measures
    if name == "none":
        for seg in segments:
            seg.speaker = None
            for w in seg.words:
                w.speaker = None
        return _result(transcript, segments, [], provenance)

    diar = get_backend(name, config).diarize(source, settings)
    segments = assign(segments, diar, config.overlap.mark, config.overlap.marker, config.overlap.min_seconds)
    ids = roles.speaker_ids(segments)
    segments = _rename(segments, ids)
    interviewer, role_info = _decide_interviewer(settings, segments, diar, ids, source, config)
    roles_known = interviewer is not None
    speakers = roles.build_speakers(
        sorted(ids.values(), key=lambda s: int(s[1:])), interviewer, config.labels, roles_known
    )

    provenance.update(role_info)
    note = count_note(settings, len(speakers), len(diar.speakers))
    if note:
        provenance["count_note"] = note
        logger.warning("speakers %s: %s", transcript.interview_id, note)
    # Timings go to the log and the manifest, not the artefact: the same input gives the same bytes.
    provenance["diarization"] = {k: v for k, v in diar.stats.items() if k != "seconds"}
    provenance["counts"] = {
        "speakers_found": len(diar.speakers),
        "speakers_in_transcript": len(speakers),
        "turns": len(diar.turns),
        "segments_in": len(transcript.segments),
        "segments_out": len(segments),
        "overlapped_segments": sum(1 for s in segments if s.overlap),
        "overlap_seconds": round(sum(e - s for s, e in diar.overlaps), 2),
        "overlapped_words": sum(1 for s in segments for w in s.words if w.overlap),
    }
    provenance["overlaps"] = [[round(s, 2), round(e, 2)] for s, e in diar.overlaps]  # times only
    logger.info(
        "speakers %s: backend %s, %d speakers, %d -> %d segments in %.2f s",
        transcript.interview_id,
        name,
        len(speakers),
        len(transcript.segments),
        len(segments),
        time.monotonic() - started,
    )
    return _result(transcript, segments, speakers, provenance)


def _result(
    transcript: Transcript, segments: list[Segment], speakers: list, stage_provenance: dict[str, Any]
) -> Transcript:
    provenance = copy.deepcopy(transcript.provenance)
    provenance["speakers"] = stage_provenance
    return Transcript(
        interview_id=transcript.interview_id,
        language=transcript.language,
        segments=segments,
        speakers=speakers,
        duration=transcript.duration,
        provenance=provenance,
        schema_version=transcript.schema_version,
    )
