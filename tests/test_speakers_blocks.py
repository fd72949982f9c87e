"""Speakers back-ends reading audio in blocks (memory independent of recording length), real models.

A recording longer than one block must give what one pass over it gives: the same Silero
probabilities (the model's state runs on across block edges), the same mel frames, d-vectors equal
up to float rounding (measured at most 3.3e-7 apart on the two sample interviews with 7.3, 20 and
45 s blocks), hence the same turns and the same speaker for every word (measured: all words).
Small blocks (20 s, 7.3 s) stand in for the 10-minute default so that the clips stay short.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.schema import Segment, Transcript, Word
from pipeline.speakers import models
from pipeline.speakers.assign import assign
from pipeline.speakers.base import AudioInput, Samples, block_samples, load_wav, open_samples
from pipeline.speakers.channel import ChannelBackend, channels_are_separate, scan_channels
from pipeline.speakers.config import SpeakersConfig
from pipeline.speakers.embedding import (
    BLOCK_MULTIPLE,
    EmbeddingBackend,
    _mel_range,
    embed_windows,
    speech_gain,
    speech_probabilities,
    speech_regions,
    voice_embedding,
    windows,
)
from pipeline.stages import speakers as stage
from tests.conftest import SAMPLES, ffmpeg

CONFIG = SpeakersConfig()
BLOCKS = [20.0, 7.3]  # seconds; 7.3 s is not a multiple of the VAD frame (rounded down to 7.2 s)
WORD_AGREEMENT_MIN = 0.99  # measured 1.0 (every word) for both block sizes
EMBEDDING_TOLERANCE = 1e-5  # measured <= 3.3e-7


def _decode(src: Path, dest: Path, *extra: str) -> Path:
    ffmpeg("-i", str(src), *extra, "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(dest))
    return dest


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, dict]:
    """interview_01 (98 s, two voices) as the 16 kHz mono WAV the ingest stage writes, and its reference."""
    mp3 = SAMPLES / "interview_01.mp3"
    if not mp3.exists():
        pytest.skip(f"sample interview missing: {mp3}")
    wav = _decode(mp3, tmp_path_factory.mktemp("blocks") / "interview_01.wav")
    return wav, json.loads(mp3.with_suffix(".reference.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def stereo(tmp_path_factory) -> Path:
    """60 s stereo: interview_01 on the left, interview_02 (other voices, other timing) on the right."""
    a, b = SAMPLES / "interview_01.mp3", SAMPLES / "interview_02.mp3"
    if not (a.exists() and b.exists()):
        pytest.skip("sample interviews missing")
    out = tmp_path_factory.mktemp("stereo") / "two_clips.wav"
    ffmpeg(
        *("-i", str(a), "-i", str(b), "-filter_complex", "[0:a][1:a]amerge=inputs=2[s]", "-map", "[s]"),
        *("-t", "60", "-ac", "2", "-ar", "16000", "-c:a", "pcm_s16le", str(out)),
    )
    return out


def _transcript(ref: dict) -> Transcript:
    """Words spread evenly over each reference turn, one segment per turn."""
    segments = []
    for turn in ref["turns"]:
        tokens = turn["text"].split()
        step = (turn["end"] - turn["start"]) / len(tokens)
        words = [
            Word(turn["start"] + k * step, turn["start"] + (k + 1) * step - 0.02, t)
            for k, t in enumerate(tokens)
        ]
        segments.append(Segment(len(segments), words[0].start, words[-1].end, turn["text"], words=words))
    return Transcript(ref["interview"], "en", segments=segments, duration=ref["duration"])


def _word_speakers(transcript: Transcript, diar) -> list[str | None]:
    out = assign(transcript.segments, diar, False, None, 0.2)
    return [w.speaker for s in out for w in s.words]


class _CountingSamples(Samples):
    """Samples that remember the longest single read (the most audio held at once)."""

    def __init__(self, x: np.ndarray) -> None:
        inner = Samples.of_array(x)
        self.longest = 0

        def reader(a: int, b: int) -> np.ndarray:
            self.longest = max(self.longest, b - a)
            return inner.read(a, b, mono=False)

        super().__init__(inner.frames, inner.channels, reader, "counted")


@pytest.mark.parametrize("block_seconds", BLOCKS)
def test_blocks_give_the_same_speaker_for_every_word_as_one_pass(clip, block_seconds):
    wav, ref = clip
    backend = EmbeddingBackend(CONFIG)
    settings = CONFIG.for_interview("blocks")
    with AudioInput(wav).open_mono() as src:
        assert src.duration > 4 * block_seconds  # several block edges inside speech
        whole = backend.diarize_samples(src, settings, block_seconds=float("inf"))
        blocked = backend.diarize_samples(src, settings, block_seconds=block_seconds)
    transcript = _transcript(ref)
    a, b = _word_speakers(transcript, whole), _word_speakers(transcript, blocked)
    assert len(set(a)) == 2
    agreement = sum(x == y for x, y in zip(a, b)) / len(a)
    assert agreement >= WORD_AGREEMENT_MIN
    assert blocked.stats["windows"] == whole.stats["windows"]
    assert blocked.stats["speech_regions"] == whole.stats["speech_regions"]


def test_a_file_of_one_block_gives_what_the_whole_array_gives(clip):
    wav, _ = clip
    settings = CONFIG.for_interview("one-block")
    from_file = EmbeddingBackend(CONFIG).diarize(AudioInput(wav), settings)  # default block: 600 s
    from_array = EmbeddingBackend(CONFIG).diarize_array(load_wav(wav, mono=True), settings, float("inf"))
    assert from_file.turns == from_array.turns
    assert {k: v for k, v in from_file.stats.items() if k != "seconds"} == {
        k: v for k, v in from_array.stats.items() if k != "seconds"
    }


@pytest.mark.parametrize("block_seconds", BLOCKS)
def test_speech_probabilities_and_regions_are_continuous_across_block_edges(clip, block_seconds):
    wav, _ = clip
    block = block_samples(block_seconds, BLOCK_MULTIPLE)
    assert block % models.VAD_FRAME == 0 and block % models.MEL_HOP == 0
    with open_samples(wav) as src:
        whole = models.speech_probabilities(src.read(0, src.frames))
        blocked = speech_probabilities(src, block)
        duration = src.duration
    assert len(blocked) == -(-int(duration * 16000) // models.VAD_FRAME)
    np.testing.assert_array_equal(blocked, whole)  # Silero's state carried over, not reset per block
    regions = speech_regions(blocked, CONFIG.embedding, duration)
    assert regions == speech_regions(whole, CONFIG.embedding, duration)
    edges = np.arange(block, int(duration * 16000), block) / 16000
    assert any(s < e < t for s, t in regions for e in edges)  # some speech runs across an edge


@pytest.mark.parametrize("block_seconds", BLOCKS)
def test_mel_frames_and_embeddings_of_blocks_match_one_pass(clip, block_seconds):
    wav, _ = clip
    x = load_wav(wav, mono=True)
    src = Samples.of_array(x)
    regions = speech_regions(models.speech_probabilities(x), CONFIG.embedding, src.duration)
    gain = speech_gain(src, regions, CONFIG.embedding.gain_dbfs)
    whole_mel = models.mel_frames(x * gain)
    per_block = block_samples(block_seconds, BLOCK_MULTIPLE) // models.MEL_HOP
    for f0 in range(0, len(whole_mel), per_block):
        f1 = min(len(whole_mel), f0 + per_block + 150)  # with a margin past the edge
        part = _mel_range(src, f0, f1, gain)
        np.testing.assert_allclose(part, whole_mel[f0:f1], rtol=1e-5, atol=1e-7 * float(whole_mel.max()))
    spans = windows(regions, src.duration, CONFIG.embedding.window, CONFIG.embedding.hop)
    block = block_samples(block_seconds, BLOCK_MULTIPLE)
    one = embed_windows(src, spans, gain)
    counted = _CountingSamples(x)
    blocked = embed_windows(counted, spans, gain, block)
    assert np.abs(one - blocked).max() <= EMBEDDING_TOLERANCE
    # never more than a block plus the margin of the windows that start in it (window + mel frame)
    assert counted.longest <= block + int((CONFIG.embedding.window + 0.05) * 16000)


def test_diarization_reads_at_most_a_block_or_a_levelling_piece_at_once(clip):
    wav, _ = clip
    counted = _CountingSamples(load_wav(wav, mono=True))
    d = EmbeddingBackend(CONFIG).diarize_samples(counted, CONFIG.for_interview("t"), block_seconds=20.0)
    assert d.turns
    # the levelling gain reads speech regions in pieces of 2**20 samples (65.5 s), the rest blocks
    assert counted.longest <= max(1 << 20, block_samples(20.0, BLOCK_MULTIPLE) + 16000 * 2)


def test_voice_print_from_blocks_matches_one_pass(clip):
    wav, ref = clip
    spans = [(t["start"], t["end"]) for t in ref["turns"] if t["speaker"] == "S1"]
    with open_samples(wav) as src:
        one = voice_embedding(src, spans, CONFIG.embedding, block_seconds=float("inf"))
        blocked = voice_embedding(src, spans, CONFIG.embedding, block_seconds=20.0)
    assert one is not None and blocked is not None
    assert float(one @ blocked) > 0.99999


@pytest.mark.parametrize("block_seconds", BLOCKS)
def test_channel_backend_agrees_block_by_block_on_a_stereo_file(stereo, block_seconds):
    backend = ChannelBackend(CONFIG)
    with open_samples(stereo) as src:
        assert src.channels == 2
        whole = backend.diarize_samples(src, float("inf"))
        blocked = backend.diarize_samples(src, block_seconds)
    assert whole.turns and {t.speaker for t in whole.turns} == {"ch1", "ch2"}
    assert blocked.turns == whole.turns
    assert blocked.overlaps == whole.overlaps
    np.testing.assert_array_equal(blocked.frame_scores, whole.frame_scores)
    for key in ("envelope_correlation", "dominant_fraction", "active_frames"):
        assert blocked.stats[key] == whole.stats[key]
    # running sums vs numpy's corrcoef: equal up to rounding
    assert abs(blocked.stats["waveform_correlation"] - whole.stats["waveform_correlation"]) <= 1e-4
    _, corr_whole = scan_channels(load_wav(stereo, mono=False), CONFIG.channel.frame_seconds, float("inf"))
    with open_samples(stereo) as src:
        _, corr_blocked = scan_channels(src, CONFIG.channel.frame_seconds, block_seconds)
    assert abs(corr_whole[0, 1] - corr_blocked[0, 1]) < 1e-9


def test_auto_choice_reads_the_channels_file_in_blocks_with_the_measures_of_one_pass(stereo, clip):
    wav, _ = clip
    settings = CONFIG.model_copy(update={"backend": "auto"}).for_interview("auto")
    name, measures = stage.choose_backend(settings, AudioInput(wav, channels_path=stereo), CONFIG)
    expected_ok, expected = channels_are_separate(load_wav(stereo, mono=False), CONFIG.channel)
    assert measures == expected
    assert name == ("channel" if expected_ok else "embedding")
