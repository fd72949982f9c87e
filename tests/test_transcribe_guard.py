"""The guard against invented words, inaudible markers and pause markers over silence only."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from pipeline.config import GuardConfig, TranscribeConfig, VerbatimConfig
from pipeline.engines.base import ASREngine, DecodeOptions, EngineResult
from pipeline.schema import Segment, Word
from pipeline.stages import transcribe
from pipeline.verbatim.guard import GuardCounts, guard_segments
from pipeline.verbatim.markers import clock, fill_speech_gaps, pause_markers

SR = 16000


def _seg(i, words):
    ws = [Word(s, e, t, 0.9) for s, e, t in words]
    return Segment(id=i, start=ws[0].start, end=ws[-1].end, text=" ".join(w.text for w in ws), words=ws)


def _text(segments):
    return " | ".join(s.text for s in segments)


def _timed(text: str, start: float = 0.0, step: float = 0.3):
    return [(start + k * step, start + k * step + 0.25, w) for k, w in enumerate(text.split())]


@pytest.mark.parametrize(
    ("words", "regions", "prompt", "expected", "counts"),
    [
        # inside speech: untouched
        (_timed("we went home"), [(0.0, 1.0)], None, "we went home", {"removed": 0}),
        # a word whose middle is 0.5 s or more beyond every region is dropped; nearer ones stay
        (
            _timed("we went home", 0.0) + [(1.3, 1.5, "near"), (3.0, 3.4, "thanks")],
            [(0.0, 1.0)],
            None,
            "we went home near",
            {"outside_speech": 1},
        ),
        # no VAD check at all when regions is None
        ([(5.0, 5.4, "far")], None, None, "far", {"removed": 0}),
        # a run of 4+ words copied from the prompt is an echo; 3 words are not
        (
            _timed("the dog ran you know it was fine"),
            [(0.0, 3.0)],
            "Umm, like, I mean, you know, it was, er, it was fine.",
            "the dog ran fine",
            {"prompt_echo": 4},
        ),
        (
            _timed("you know it"),
            [(0.0, 3.0)],
            "I mean, you know, it was fine.",
            "you know it",
            {"removed": 0},
        ),
        # back-to-back repeats: phrases kept twice, single words four times
        (
            _timed("sorry I'm sorry I'm sorry I'm sorry I'm sorry"),
            [(0.0, 5.0)],
            None,
            "sorry I'm sorry I'm sorry",
            {"repeats": 4},
        ),
        (_timed("no no no and I I I I I I"), [(0.0, 5.0)], None, "no no no and I I I I", {"repeats": 2}),
        (_timed("I- I mean the the point"), [(0.0, 5.0)], None, "I- I mean the the point", {"removed": 0}),
    ],
)
def test_guard_drops_invented_words_and_counts_them(words, regions, prompt, expected, counts):
    c = GuardCounts()
    out = guard_segments([_seg(0, words)], regions, prompt, GuardConfig(), c)
    assert _text(out) == expected
    for key, value in counts.items():
        assert c.to_dict()[key] == value
    for s in out:
        assert s.text == " ".join(w.text for w in s.words)


def test_a_segment_left_without_words_is_dropped_and_times_follow_the_words():
    c = GuardCounts()
    segs = [_seg(0, _timed("real words here")), _seg(1, [(9.0, 9.5, "invented")])]
    out = guard_segments(segs, [(0.0, 1.0)], None, GuardConfig(), c)
    assert [s.text for s in out] == ["real words here"] and c.outside_speech == 1


@pytest.mark.parametrize(
    ("seconds", "expected"), [(0, "00:00"), (12.7, "00:12"), (75, "01:15"), (3725, "1:02:05")]
)
def test_clock(seconds, expected):
    assert clock(seconds) == expected


@pytest.mark.parametrize(
    ("words", "regions", "expected"),
    [
        # 4 s gap, all silence: a marker
        ([[(0.0, 0.5, "So"), (4.5, 5.0, "yes")]], [(0.0, 0.7), (4.3, 5.2)], "So (4 s) yes"),
        # the gap holds speech (words lost, or marked elsewhere): no pause over it
        ([[(0.0, 0.5, "So"), (4.5, 5.0, "yes")]], [(0.0, 5.2)], "So yes"),
        # speech in the middle of the gap: only a long enough silent stretch is marked
        ([[(0.0, 0.5, "So"), (8.5, 9.0, "yes")]], [(0.0, 0.5), (1.5, 3.0), (8.5, 9.0)], "So (6 s) yes"),
        ([[(0.0, 0.5, "So"), (4.5, 5.0, "yes")]], [(0.0, 0.5), (1.5, 3.5), (4.5, 5.0)], "So yes"),
        # no VAD regions given: the whole gap counts (as before the guard)
        ([[(0.0, 0.5, "So"), (4.5, 5.0, "yes")]], None, "So (4 s) yes"),
    ],
)
def test_pause_markers_sit_over_silence_only(words, regions, expected):
    segs = [_seg(i, w) for i, w in enumerate(words)]
    out = pause_markers(segs, regions, VerbatimConfig())
    assert _text(out) == expected
    for s in out:
        for w in s.words:
            if w.text.startswith("("):
                assert not any(a < w.end and b > w.start for a, b in regions or [])


class ScriptedEngine(ASREngine):
    """Returns the scripted words (times relative to the audio it gets) and records the options."""

    name = "scripted"
    model_info = {"engine": "scripted"}

    def __init__(self, words):
        self.words, self.calls, self.probability = words, [], 0.9

    def transcribe(self, audio, options: DecodeOptions, progress=None) -> EngineResult:
        self.calls.append((options, float(np.sqrt(np.mean(np.square(audio))))))
        words = [Word(s, e, t, self.probability) for s, e, t in self.words]
        segs = [Segment(id=0, start=words[0].start, end=words[-1].end, text="", words=words)] if words else []
        return EngineResult(segs, options.language, 1.0, dict(self.model_info))

    def language_probabilities(self, audio, vad_filter=False):
        return {"en": 1.0}


@pytest.fixture
def quiet_wav(tmp_path):
    audio = (np.random.default_rng(0).uniform(-1, 1, 20 * SR) * 0.003).astype(np.float32)
    path = tmp_path / "audio.wav"
    sf.write(str(path), audio, SR, subtype="FLOAT")
    return path


def test_a_wordless_speech_region_is_decoded_again_levelled_without_gate_or_prompt(quiet_wav):
    engine, c = ScriptedEngine([(0.2, 0.5, "hello"), (0.6, 0.9, "there")]), GuardCounts()
    options = DecodeOptions(language="en", initial_prompt="P", no_speech_threshold=0.6, vad_filter=True)
    kept = [_seg(0, [(1.0, 1.5, "before")])]
    out = fill_speech_gaps(engine, quiet_wav, kept, [(1.0, 2.0), (12.0, 15.5)], options, GuardConfig(), c)
    (opts, rms) = engine.calls[0]
    assert len(engine.calls) == 1  # the region that has a word is not decoded again
    assert opts.no_speech_threshold is None and opts.initial_prompt is None and not opts.vad_filter
    assert opts.language == "en" and rms == pytest.approx(0.1, rel=0.05)  # gain normalised
    assert [s.text for s in out] == ["before", "hello there"] and [s.id for s in out] == [0, 1]
    assert out[1].words[0].start == pytest.approx(12.2)
    assert (c.regions_redecoded, c.words_recovered, c.inaudible) == (1, 2, 0)


def test_unsure_words_decoded_again_are_not_kept_the_region_is_marked(quiet_wav):
    words = [(0.2, 0.5, "you"), (0.6, 0.9, "know")]
    engine, c = ScriptedEngine(words), GuardCounts()
    engine.probability = 0.3
    out = fill_speech_gaps(engine, quiet_wav, [], [(3.0, 4.5)], DecodeOptions(), GuardConfig(), c)
    assert [s.text for s in out] == ["[inaudible 00:03–00:04]"]
    assert (c.words_recovered, c.redecoded_unsure, c.inaudible) == (0, 2, 1)


def test_a_region_still_without_words_gets_an_inaudible_marker(quiet_wav):
    engine, c = ScriptedEngine([]), GuardCounts()
    out = fill_speech_gaps(
        engine, quiet_wav, [], [(12.2, 18.6), (19.0, 19.5)], DecodeOptions(language="da"), GuardConfig(), c
    )
    assert [s.text for s in out] == ["[inaudible 00:12–00:18]"]  # the 0.5 s region is below 1 s
    assert out[0].words[0].start == 12.2 and out[0].words[0].end == 18.6
    assert c.inaudible == 1 and c.regions_redecoded == 1
    custom = GuardConfig(inaudible_marker="[uhørligt {start}-{end}]")
    out = fill_speech_gaps(engine, quiet_wav, [], [(12.2, 18.6)], DecodeOptions(), custom, GuardCounts())
    assert out[0].text == "[uhørligt 00:12-00:18]"


@pytest.mark.parametrize(
    ("config", "language", "expected"),
    [
        ({"verbatim": {"use_prompt": True}}, "da", "ikke også"),
        ({"verbatim": {"use_prompt": True}}, "en", "you know"),
        ({"verbatim": {"use_prompt": True}}, "fr", None),  # no French prompt: none at all
        ({"verbatim": {"use_prompt": True}}, None, None),
        ({"verbatim": {"use_prompt": True}, "model": "tiny.en"}, "en", None),
        ({"verbatim": {"use_prompt": True, "enabled": False}}, "en", None),
        ({}, "da", None),  # the default: no prompt (it adds words; README)
    ],
)
def test_the_prompt_follows_the_language(config, language, expected):
    prompt = transcribe.prompt_for(TranscribeConfig.model_validate(config), language)
    assert prompt == expected if expected is None else expected in prompt
    da = TranscribeConfig().verbatim.prompts["da"]
    assert all(f in da.lower() for f in ("øh", "altså", "ikke også"))


def test_the_run_summary_counts_removed_words_and_markers(capsys):
    from pipeline.cli import _print_summary
    from pipeline.runner import Outcome

    guard = GuardCounts(outside_speech=2, repeats=5, words_recovered=3, inaudible=1).to_dict()
    outcomes = [Outcome("a", "a.wav", guard=guard), Outcome("b", "b.wav", guard={**guard, "inaudible": 0})]
    _print_summary(outcomes)
    out = capsys.readouterr().out
    assert "14 invented words removed, 6 words recovered from wordless speech, 1 [inaudible] markers" in out
