"""Long recordings are read and decoded in windows cut at quiet points: cutting, offsets, progress.

Pure logic (quietest point, window plans, block peak) is table-driven on synthetic audio; the
orchestration (language detected once, silent windows skipped, prompts) uses a recording fake
engine; window cutting itself is checked with both real engines on real speech against a single
pass over the same clip.
"""

from __future__ import annotations

import difflib
import math
import re
import statistics
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import eval_path, ffmpeg

from pipeline.audio import (
    AudioFileError,
    open_audio,
    peak,
    plan_windows,
    quietest_point,
    read_audio,
    read_frames,
)
from pipeline.config import load_config
from pipeline.engines.base import SAMPLE_RATE, ASREngine, DecodeOptions, EngineResult
from pipeline.schema import Segment, Word
from pipeline.stages import ingest, transcribe

SR = SAMPLE_RATE


def _wav(path: Path, audio: np.ndarray, sr: int = SR) -> Path:
    sf.write(str(path), audio, sr, subtype="PCM_16")
    return path


def _noise(seconds: float, level: float, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).uniform(-1, 1, int(seconds * SR)) * level).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Pure logic


@pytest.mark.parametrize(
    ("layout", "expected_range"),
    [
        # (seconds, level) pieces; the quiet 0.5 s frame must be centred inside the quiet piece
        ([(3.0, 0.5), (1.0, 0.0), (3.0, 0.5)], (3.25, 3.75)),
        ([(1.0, 0.5), (0.6, 0.01), (5.0, 0.5)], (1.25, 1.35)),
        # all equally quiet: the latest frame (the window stays as long as it can)
        ([(5.0, 0.0)], (4.75, 4.75)),
        # two equal gaps: the later one
        ([(1.0, 0.5), (1.0, 0.0), (1.0, 0.5), (1.0, 0.0), (1.0, 0.5)], (3.25, 3.75)),
        # shorter than one frame: its middle
        ([(0.2, 0.5)], (0.1, 0.1)),
    ],
)
def test_quietest_point_lies_in_the_quietest_stretch(layout, expected_range):
    audio = np.concatenate([_noise(s, lvl, seed=i) for i, (s, lvl) in enumerate(layout)])
    at = quietest_point(audio, frame=SR // 2, hop=SR // 20) / SR
    assert expected_range[0] - 1e-9 <= at <= expected_range[1] + 1e-9, at


@pytest.mark.parametrize(
    ("seconds", "window", "search"),
    [
        (10.0, 10.0, 2.0),
        (9.0, 10.0, 2.0),
        (10.5, 10.0, 2.0),
        (25.0, 10.0, 2.0),
        (30.0, 10.0, 2.0),
        (61.0, 20.0, 5.0),
    ],
)
def test_window_plan_covers_the_file_in_windows_no_longer_than_the_limit(tmp_path, seconds, window, search):
    path = _wav(tmp_path / "a.wav", _noise(seconds, 0.3))
    plan = plan_windows(path, window_seconds=window, search_seconds=search)
    fewest = math.ceil(seconds / window)
    assert fewest <= len(plan) <= fewest + (seconds % window == 0)  # one more only when no slack
    assert plan[0][0] == 0 and plan[-1][1] == int(seconds * SR)
    assert all(a[1] == b[0] for a, b in zip(plan, plan[1:]))  # contiguous, no overlap
    lengths = [(b - a) / SR for a, b in plan]
    assert max(lengths) <= window
    if len(plan) > 1:  # about equal shares: no short tail such as 10 s + 0.5 s
        assert min(lengths) >= window / 2 - search


def test_window_cuts_fall_in_the_pauses(tmp_path):
    # 4 s "words" separated by 0.8 s gaps; cuts must land in gaps, never in a word
    pieces, gaps = [], []
    t = 0.0
    for i in range(12):
        pieces.append(_noise(4.0, 0.4, seed=i))
        t += 4.0
        pieces.append(np.zeros(int(0.8 * SR), np.float32))
        gaps.append((t, t + 0.8))
        t += 0.8
    path = _wav(tmp_path / "words.wav", np.concatenate(pieces))
    plan = plan_windows(path, window_seconds=15.0, search_seconds=5.0)
    assert len(plan) >= 4
    for _, cut in plan[:-1]:
        assert any(a + 0.2 <= cut / SR <= b - 0.2 for a, b in gaps), cut / SR


def test_window_plan_refuses_a_search_longer_than_the_window(tmp_path):
    path = _wav(tmp_path / "a.wav", _noise(5.0, 0.3))
    with pytest.raises(ValueError, match="search_seconds"):
        plan_windows(path, window_seconds=2.0, search_seconds=2.0)


def test_block_reads_equal_a_whole_read_and_peak_stops_early(tmp_path):
    stereo = np.stack([_noise(7.3, 0.2, 1), _noise(7.3, 0.6, 2)], axis=1)
    stereo[int(6.5 * SR), 1] = 0.9
    path = _wav(tmp_path / "st.wav", stereo)
    whole = read_audio(path)
    ref, _ = sf.read(str(path), dtype="float32")
    np.testing.assert_array_equal(whole, ref.mean(axis=1).astype(np.float32))
    with open_audio(path) as f:
        part = read_frames(f, SR, 2 * SR)
        np.testing.assert_array_equal(part, whole[SR : 3 * SR])
    assert peak(path, block_seconds=1.0) == pytest.approx(float(np.max(np.abs(whole))))
    assert peak(path, block_seconds=1.0, stop_at=0.05) < 0.5  # first block already loud enough


def test_wrong_sample_rate_is_refused_with_the_file_name(tmp_path):
    path = _wav(tmp_path / "eight.wav", _noise(1.0, 0.3), sr=8000)
    with pytest.raises(AudioFileError, match="eight.wav.*8000 Hz"):
        plan_windows(path)


# ---------------------------------------------------------------------------------------------
# Orchestration with a recording fake engine


class RecordingEngine(ASREngine):
    """Returns one segment at 1.0-2.0 s of each window whose peak is above 0.01 ("speech")."""

    name = "recording"
    model_info = {"engine": "recording"}

    def __init__(self) -> None:
        self.calls: list[tuple[float, str | None, str | None]] = []

    def transcribe(self, audio, options: DecodeOptions, progress=None) -> EngineResult:
        k = len(self.calls)
        self.calls.append((len(audio) / SR, options.language, options.initial_prompt))
        speech = float(np.max(np.abs(audio))) > 0.01
        segs = (
            [Segment(id=0, start=1.0, end=2.0, text=f"w{k}", words=[Word(1.0, 2.0, f"w{k}")])]
            if speech
            else []
        )
        if progress is not None:
            progress(2.0)
            progress(len(audio) / SR)
        if options.language:
            return EngineResult(segs, options.language, 1.0, dict(self.model_info))
        return EngineResult(segs, "de" if speech else "xx", 0.9 if speech else 0.1, dict(self.model_info))

    def language_probabilities(self, audio, vad_filter=False):
        self.calls.append((len(audio) / SR, "detect", None))
        return {"de": 0.8, "da": 0.1} if float(np.max(np.abs(audio))) > 0.01 else {"xx": 0.1}


@pytest.fixture
def layered(tmp_path) -> Path:
    """90 s: digital silence to 35 s, faint noise to 60 s (no "speech"), then loud noise."""
    audio = np.concatenate([np.zeros(35 * SR, np.float32), _noise(25, 0.001, 1), _noise(30, 0.1, 2)])
    return _wav(tmp_path / "layered.wav", audio)


def test_language_is_detected_on_the_first_window_with_speech_and_reused(layered):
    engine, seen = RecordingEngine(), []
    out = transcribe.transcribe_windows(
        engine, layered, DecodeOptions(language=None), seen.append, window_seconds=30, search_seconds=5
    )
    assert len(out.windows) == 4 and out.skipped == 1  # the silent first window is not decoded
    assert [lang for _, lang, _ in engine.calls] == [None, None, "de"]  # faint window: still undetected
    assert out.result.language == "de" and out.result.language_probability == 0.9
    segs = out.result.segments
    assert [s.id for s in segs] == [0, 1]
    # times shifted by each window's start
    assert [s.start for s in segs] == pytest.approx([out.windows[2][0] + 1.0, out.windows[3][0] + 1.0])
    assert seen == sorted(seen) and len(set(seen)) == len(seen) and seen[-1] == pytest.approx(90.0)


def test_with_prompts_the_language_is_detected_first_and_its_prompt_used(layered):
    """Detection runs on the first window that is not digital silence; every window then gets the
    detected language and that language's prompt (never a prompt of another language)."""
    engine = RecordingEngine()
    prompts = {"de": "Äh, also, ich meine"}
    out = transcribe.transcribe_windows(
        engine,
        layered,
        DecodeOptions(language=None),
        window_seconds=30,
        search_seconds=5,
        prompts=prompts.get,
    )
    assert engine.calls[0][1] == "detect"
    # the faint window is detected as "xx", which has no prompt; that language then stays
    assert engine.calls[1:] == [(c[0], "xx", None) for c in engine.calls[1:]]
    assert out.result.language == "xx" and out.result.language_probability == 0.1
    loud = RecordingEngine()
    ours = _wav(layered.with_name("loud.wav"), _noise(20, 0.1, 3))
    out = transcribe.transcribe_windows(loud, ours, DecodeOptions(language=None), prompts=prompts.get)
    assert loud.calls[0][1] == "detect" and loud.calls[1][1:] == ("de", prompts["de"])
    assert out.result.language == "de" and out.result.language_probability == 0.8
    assert out.options.initial_prompt == prompts["de"]


def test_a_given_language_is_passed_to_every_window(layered):
    engine = RecordingEngine()
    out = transcribe.transcribe_windows(
        engine, layered, DecodeOptions(language="da"), window_seconds=30, search_seconds=5
    )
    assert [lang for _, lang, _ in engine.calls] == ["da"] * 3 and out.result.language == "da"


@pytest.mark.parametrize("condition", [True, False])
def test_every_decoded_window_gets_the_initial_prompt(layered, condition):
    """Each window is decoded as a file of its own: the prompt, never the previous window's text."""
    engine = RecordingEngine()
    options = DecodeOptions(language="en", initial_prompt="P", condition_on_previous_text=condition)
    transcribe.transcribe_windows(engine, layered, options, window_seconds=30, search_seconds=5)
    assert [p for _, _, p in engine.calls] == ["P", "P", "P"]


# ---------------------------------------------------------------------------------------------
# Real engines on real speech


def norm(word: str) -> str:
    return re.sub(r"[^a-z0-9']", "", word.lower())


WINDOW, SEARCH = 40.0, 10.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory, sample_interviews) -> Path:
    """120 s of 16 kHz speech: interview_01 (98 s) and its start again."""
    one = next(p for p in sample_interviews if p.name == "interview_01.mp3")
    dest = tmp_path_factory.mktemp("win") / "twice.wav"
    ffmpeg(
        "-i",
        str(one),
        "-i",
        str(one),
        "-filter_complex",
        "[0:a][1:a]concat=n=2:v=0:a=1,atrim=0:120",
        "-ar",
        "16000",
        "-ac",
        "1",
        str(dest),
    )
    return dest


def _words(result: EngineResult) -> list[Word]:
    return [w for s in result.segments for w in s.words]


def _compare(single: EngineResult, windowed: transcribe.WindowedResult, near: float) -> dict:
    """Align the word sequences; report differences within ``near`` s of a cut and time errors."""
    a, b = _words(single), _words(windowed.result)
    sm = difflib.SequenceMatcher(a=[norm(w.text) for w in a], b=[norm(w.text) for w in b], autojunk=False)
    cuts = [end for _, end in windowed.windows[:-1]]
    at_cuts = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            continue
        times = [w.start for w in a[i1:i2]] + [w.start for w in b[j1:j2]]
        if any(abs(t - c) < near for t in times for c in cuts):
            at_cuts.append((op, [w.text for w in a[i1:i2]], [w.text for w in b[j1:j2]]))
    pairs = [(a[i + k], b[j + k]) for i, j, n in sm.get_matching_blocks() for k in range(n)]
    return {
        "at_cuts": at_cuts,
        "matched": len(pairs) / len(a),
        "late_errors": [abs(x.start - y.start) for x, y in pairs if x.start > cuts[0]],
    }


@pytest.fixture(scope="module")
def faster_runs(clip):
    cfg = load_config(None, {"transcribe.model": "tiny.en"}).transcribe
    engine, options = transcribe.get_engine(cfg), transcribe.decode_options(cfg)
    single = transcribe.transcribe_windows(engine, clip, options)
    progress: list[float] = []
    windowed = transcribe.transcribe_windows(
        engine, clip, options, progress.append, window_seconds=WINDOW, search_seconds=SEARCH
    )
    return single, windowed, progress


def test_a_nominal_window_end_falls_inside_speech(faster_runs):
    single, windowed, _ = faster_runs
    assert len(single.windows) == 1 and len(windowed.windows) == 4
    # the first cut was searched in 30-40 s, the middle of a 21 s answer: words all through it
    starts = [w.start for w in _words(single.result)]
    assert sum(WINDOW - SEARCH <= t <= WINDOW for t in starts) >= 15
    assert max(np.diff([t for t in starts if WINDOW - SEARCH - 1 <= t <= WINDOW + 1])) < 1.5


def test_no_word_is_lost_or_duplicated_at_the_cuts(faster_runs):
    single, windowed, _ = faster_runs
    cmp = _compare(single.result, windowed, near=3.0)
    assert cmp["at_cuts"] == []
    assert cmp["matched"] >= 0.97


def test_word_times_are_offset_by_the_window_start(faster_runs):
    single, windowed, _ = faster_runs
    errors = _compare(single.result, windowed, near=3.0)["late_errors"]
    assert len(errors) > 150
    assert statistics.median(errors) < 0.05 and max(errors) < 1.0
    segs = windowed.result.segments
    assert [s.id for s in segs] == list(range(len(segs)))
    words = _words(windowed.result)
    assert all(a.start <= b.start for a, b in zip(words, words[1:]))
    for start, end in windowed.windows:  # every window contributed words on its own stretch
        assert any(start <= w.start < end for w in words)


def test_progress_is_monotonic_over_the_whole_file(faster_runs):
    _, windowed, progress = faster_runs
    assert progress == sorted(progress) and progress[-1] == pytest.approx(120.0)
    for start, end in windowed.windows:  # reported inside every window, not only at its end
        assert any(start < p < end for p in progress)


@pytest.fixture
def one_torch_thread():
    """openai-whisper with one thread: with more, torch's OpenMP threads spin against the other
    work on a loaded 2-core machine (this test took 180 s instead of 25 s)."""
    import torch

    before = torch.get_num_threads()
    yield 1
    torch.set_num_threads(before)


def test_openai_engine_goes_through_the_windows_too(clip, tmp_path, one_torch_thread):
    overrides = {"transcribe.model": "tiny.en", "transcribe.engine": "openai-whisper"}
    cfg = load_config(None, {**overrides, "transcribe.cpu_threads": one_torch_thread}).transcribe
    short = _wav(tmp_path / "short.wav", read_audio(clip)[: 70 * SR])
    engine, options = transcribe.get_engine(cfg), transcribe.decode_options(cfg)
    single = transcribe.transcribe_windows(engine, short, options)
    progress: list[float] = []
    windowed = transcribe.transcribe_windows(
        engine, short, options, progress.append, window_seconds=WINDOW, search_seconds=SEARCH
    )
    assert len(windowed.windows) == 2
    cmp = _compare(single.result, windowed, near=3.0)
    assert cmp["at_cuts"] == [] and cmp["matched"] >= 0.95
    assert statistics.median(cmp["late_errors"]) < 0.1
    assert progress == sorted(progress) and len(progress) == 2 and progress[-1] == pytest.approx(70.0)


def test_stage_run_on_a_recording_longer_than_one_window(tmp_path):
    """12 min: silence with 11 s of speech at 400 s. Two default windows; the silent one is skipped."""
    jfk = eval_path("asr", "jfk.flac")
    src = tmp_path / "long.wav"
    ffmpeg(
        "-i",
        str(jfk),
        "-af",
        "aresample=16000,aformat=channel_layouts=mono,adelay=delays=400000:all=1,apad=whole_dur=720",
        "-ar",
        "16000",
        str(src),
    )
    info = ingest.run(src, "long", tmp_path / "o", load_config().ingest)
    cfg = load_config(None, {"transcribe.model": "tiny.en"}).transcribe
    t = transcribe.run(info, tmp_path / "o", cfg)
    assert t.duration == pytest.approx(info.duration, abs=1e-3) and 719 < t.duration < 721
    windows = t.provenance["transcribe"]["windows"]
    assert len(windows) == 2 and windows[0][0] == 0 and windows[-1][1] == pytest.approx(t.duration, abs=1e-3)
    words = [w for s in t.segments for w in s.words if not re.fullmatch(r"\(\d+ s\)", w.text)]
    assert "country" in {norm(w.text) for w in words}
    assert all(399.5 <= w.start <= w.end <= 412 for w in words), [w.start for w in words][:3]
    assert t.language == "en"
