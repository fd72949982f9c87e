"""Speakers stage, pure logic: word assignment, segment splitting, roles, labels, config, clustering helpers."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from pipeline.schema import Segment, Word
from pipeline.speakers.assign import assign, split_segment
from pipeline.speakers.base import Diarization, Turn
from pipeline.speakers.channel import channels_are_separate, overlaps_of
from pipeline.speakers.clustering import absorb_small, coverage, merge_similar, relabel
from pipeline.speakers.config import EmbeddingConfig, LabelsConfig, SpeakersConfig
from pipeline.speakers.embedding import label_frames, second_voices, windows
from pipeline.speakers.roles import build_speakers, infer_interviewer, speaker_ids, speaker_stats


def w(start: float, end: float, text: str, speaker: str | None = None) -> Word:
    return Word(start=start, end=end, text=text, speaker=speaker)


def seg(i: int, words: list[Word], text: str | None = None) -> Segment:
    return Segment(
        id=i,
        start=words[0].start,
        end=words[-1].end,
        text=text or " ".join(x.text for x in words),
        words=words,
    )


# ------------------------------------------------------------------------------------- splitting
@pytest.mark.parametrize(
    "speakers, expected_texts",
    [
        (["A", "A", "A"], ["one two three"]),
        (["A", "B", "B"], ["one", "two three"]),
        (["A", "B", "A"], ["one", "two", "three"]),
        (["B", "B", "A"], ["one two", "three"]),
    ],
)
def test_segment_is_split_at_word_boundaries_where_the_speaker_changes(speakers, expected_texts):
    words = [
        w(0.0, 0.5, "one", speakers[0]),
        w(0.6, 1.0, "two", speakers[1]),
        w(1.1, 1.5, "three", speakers[2]),
    ]
    original = Segment(id=7, start=0.0, end=1.6, text=" one two three", words=words)
    pieces = split_segment(original, words)
    assert [p.text.strip() for p in pieces] == expected_texts
    assert all(len({x.speaker for x in p.words}) == 1 and p.speaker == p.words[0].speaker for p in pieces)
    assert pieces[0].start == 0.0 and pieces[-1].end == 1.6  # the segment's own bounds are kept at the ends
    for a, b in zip(pieces, pieces[1:]):
        assert a.end <= b.start


def test_unsplit_segment_keeps_its_original_text():
    words = [w(0.0, 0.5, "Hello,", "A"), w(0.6, 1.0, "there.", "A")]
    piece = split_segment(Segment(0, 0.0, 1.0, " Hello, there.", words=words), words)
    assert len(piece) == 1 and piece[0].text == " Hello, there."


# ------------------------------------------------------------------------------------- assignment
TURNS = [Turn(0.0, 2.0, "x"), Turn(2.0, 4.0, "y"), Turn(5.0, 6.0, "x")]


@pytest.mark.parametrize(
    "start, end, expected",
    [
        (0.1, 0.5, "x"),  # inside a turn
        (1.8, 2.4, "y"),  # across a change: the longer overlap wins
        (1.5, 2.2, "x"),
        (4.2, 4.5, "y"),  # in a gap: the word before it in the segment
    ],
)
def test_word_gets_the_speaker_with_the_longest_overlap_or_the_previous_word(start, end, expected):
    words = [w(3.0, 3.5, "before"), w(start, end, "word")] if start > 4 else [w(start, end, "word")]
    out = assign([seg(0, words)], Diarization(TURNS, "test"))
    labelled = [x for s in out for x in s.words if x.text == "word"][0]
    assert labelled.speaker == expected


def test_assign_renumbers_segments_in_time_order_and_flags_overlap():
    s0 = seg(5, [w(0.2, 0.6, "a"), w(2.5, 3.0, "b")])
    s1 = seg(2, [w(5.1, 5.5, "c")])
    diar = Diarization(TURNS, "test", overlaps=[(5.0, 5.6)])
    out = assign([s1, s0], diar, mark_overlap=True, overlap_marker="//", overlap_min_seconds=0.2)
    assert [s.id for s in out] == [0, 1, 2]
    assert [s.speaker for s in out] == ["x", "y", "x"]
    assert [s.overlap for s in out] == [False, False, True]
    assert out[2].text.endswith("//") and not out[0].text.endswith("//")


def test_frame_scores_decide_words_when_present():
    scores = np.array([[1.0, 0.1]] * 10 + [[0.1, 1.0]] * 10)  # 0.1 s frames: ch1 then ch2
    diar = Diarization(
        [Turn(0, 2, "ch1"), Turn(0, 2, "ch2")],
        "channel",
        frame_scores=scores,
        frame_hop=0.1,
        score_labels=["ch1", "ch2"],
    )
    out = assign([seg(0, [w(0.1, 0.5, "left"), w(1.2, 1.8, "right")])], diar)
    assert [x.speaker for s in out for x in s.words] == ["ch1", "ch2"]


def test_second_voices_flag_overlap_but_never_choose_a_words_speaker():
    diar = Diarization(
        [Turn(0, 2, "x"), Turn(2, 4, "y")],
        "embedding",
        overlaps=[(1.0, 2.0)],
        secondary=[Turn(1.0, 2.0, "y")],
    )
    out = assign([seg(0, [w(1.1, 1.9, "both")]), seg(1, [w(2.5, 3.0, "after")])], diar)
    assert [s.speaker for s in out] == ["x", "y"]
    assert [s.overlap for s in out] == [True, False]
    assert diar.speakers == ["x", "y"] and [t.start for t in diar.all_turns] == [0, 1.0, 2]


def _two_voices(mixed_middle: bool) -> tuple[list, list, np.ndarray, np.ndarray]:
    """Speech 0-8 s: voice A until 3 s, B from 5 s; in between both (mixed windows) or a clean change at 4 s."""
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    regions = [(0.0, 8.0)]
    spans = windows(regions, 8.0, 1.0, 0.25)
    emb, labels = [], []
    for i, (s, e) in enumerate(spans):
        mid = (s + e) / 2
        if mixed_middle and 3.0 <= mid <= 5.0:
            emb.append((a + b) / np.sqrt(2) + (0.05 if i % 2 else -0.05) * np.array([0, 0, 1.0]))
            labels.append(i % 2)
        else:
            emb.append(a if mid < 4.0 else b)
            labels.append(0 if mid < 4.0 else 1)
    emb = np.array(emb) / np.linalg.norm(np.array(emb), axis=1, keepdims=True)
    return regions, spans, np.array(labels), emb


@pytest.mark.parametrize("mixed_middle, expect_overlap", [(True, True), (False, False)])
def test_second_voice_only_where_windows_sit_between_two_clusters(mixed_middle, expect_overlap):
    regions, spans, labels, emb = _two_voices(mixed_middle)
    extra = second_voices(regions, spans, labels, emb, 8.0, EmbeddingConfig())
    assert bool(extra) == expect_overlap
    main = label_frames(regions, spans, labels, 8.0)
    for t in extra:  # inside the mixed stretch, never the main speaker of the same frames
        assert 2.5 <= t.start < t.end <= 5.5 and t.end - t.start >= 0.5
        assert all(m.speaker != t.speaker for m in main if m.start < t.end and t.start < m.end)


def test_no_turns_leaves_words_without_speaker():
    out = assign([seg(0, [w(0.1, 0.5, "hm")])], Diarization([], "embedding"))
    assert out[0].speaker is None and out[0].words[0].speaker is None


def test_overlaps_of_turns_of_different_speakers():
    turns = [Turn(0, 2, "a"), Turn(1.5, 3, "b"), Turn(2.9, 3.0, "a"), Turn(4, 5, "a"), Turn(4.5, 5, "a")]
    assert overlaps_of(turns, 0.2) == [(1.5, 2)]


# ------------------------------------------------------------------------------------- roles
def s(i: int, speaker: str, text: str, start: float, dur: float) -> Segment:
    words = [
        Word(
            start + k * dur / len(text.split()), start + (k + 1) * dur / len(text.split()), t, speaker=speaker
        )
        for k, t in enumerate(text.split())
    ]
    return Segment(i, start, start + dur, text, speaker=speaker, words=words)


@pytest.mark.parametrize(
    "segments, expected",
    [
        # asks the questions, speaks first, talks less
        ([s(0, "S1", "How are you?", 0, 1), s(1, "S2", "Fine thanks I am well today", 1, 5)], "S1"),
        # the questioner speaks second: questions outweigh the first turn
        (
            [
                s(0, "S1", "Hello there I am Anna", 0, 3),
                s(1, "S2", "What do you do? And why?", 3, 2),
                s(2, "S1", "I work at a library all day", 5, 4),
            ],
            "S2",
        ),
        # no questions: first and shorter speaker
        ([s(0, "S2", "Tell me about it", 0, 1), s(1, "S1", "Well it was long ago and far away", 1, 6)], "S2"),
        # one speaker: no interviewer inferred
        ([s(0, "S1", "Is this on?", 0, 1)], None),
    ],
)
def test_interviewer_inference_rule(segments, expected):
    assert infer_interviewer(speaker_stats(segments)) == expected


@pytest.mark.parametrize(
    "ids, interviewer, expected",
    [
        (["S1", "S2"], "S1", [("Interviewer", "interviewer"), ("Participant", "participant")]),
        (["S1", "S2"], "S2", [("Participant", "participant"), ("Interviewer", "interviewer")]),
        (
            ["S1", "S2", "S3"],
            "S2",
            [("P1", "participant"), ("Interviewer", "interviewer"), ("P2", "participant")],
        ),
        (["S1"], None, [("Speaker", "unknown")]),
        (["S1", "S2"], None, [("P1", "unknown"), ("P2", "unknown")]),
    ],
)
def test_labels_and_roles(ids, interviewer, expected):
    out = build_speakers(ids, interviewer, LabelsConfig(), roles_known=interviewer is not None)
    assert [(x.label, x.role) for x in out] == expected


def test_labels_are_configurable():
    labels = LabelsConfig(interviewer="Int", participant="Resp", group_participant="Member {n}")
    assert [x.label for x in build_speakers(["S1", "S2"], "S2", labels, True)] == ["Resp", "Int"]
    assert [x.label for x in build_speakers(["S1", "S2", "S3"], "S1", labels, True)] == [
        "Int",
        "Member 1",
        "Member 2",
    ]


def test_speaker_ids_follow_first_word():
    segments = [
        Segment(0, 0, 1, "a", words=[w(0, 1, "a", "C3")]),
        Segment(1, 1, 2, "b", words=[w(1, 2, "b", "C0")]),
    ]
    assert speaker_ids(segments) == {"C3": "S1", "C0": "S2"}


# ------------------------------------------------------------------------------------- config
def test_config_rejects_unknown_keys_and_bad_values():
    with pytest.raises(ValidationError):
        SpeakersConfig(speakers=2)
    with pytest.raises(ValidationError):
        SpeakersConfig(interviewer="interviewer")
    with pytest.raises(ValidationError):
        SpeakersConfig(min_speakers=3, max_speakers=2)
    with pytest.raises(ValidationError):
        SpeakersConfig(embedding={"windw": 1.0})


def test_per_interview_overrides_win_over_global_settings():
    cfg = SpeakersConfig(
        max_speakers=4,
        interviewer="S1",
        interviews={"int_07": {"num_speakers": 3, "interviewer": "S2", "backend": "channel"}},
    )
    r = cfg.for_interview("int_07")
    assert (r.backend, r.min_speakers, r.max_speakers, r.interviewer) == ("channel", 3, 3, "S2")
    other = cfg.for_interview("int_08")
    assert (other.backend, other.min_speakers, other.max_speakers, other.interviewer) == ("auto", 1, 4, "S1")


# ------------------------------------------------------------------------------------- clustering helpers
@pytest.mark.parametrize(
    "spans, mask, expected",
    [
        ([(0, 1), (0.5, 1.5), (3, 4)], [True, True, True], 2.5),
        ([(0, 1), (0.5, 1.5), (3, 4)], [True, False, True], 2.0),
        ([(0, 1)], [False], 0.0),
    ],
)
def test_coverage_counts_union_of_window_spans(spans, mask, expected):
    assert coverage(spans, np.array(mask)) == pytest.approx(expected)


def test_small_cluster_is_absorbed_by_nearest_centroid():
    emb = np.array([[1, 0, 0], [1, 0.1, 0], [0, 1, 0], [0, 1, 0.1], [0.9, 0.2, 0]], dtype=float)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    spans = [(0, 2), (2, 4), (4, 6), (6, 8), (8, 8.5)]
    labels = absorb_small(np.array([0, 0, 1, 1, 2]), spans, emb, min_seconds=1.0)
    assert labels.tolist() == [0, 0, 1, 1, 0]


def test_similar_clusters_are_merged():
    emb = np.array([[1, 0], [1, 0.05], [0.99, 0.1], [0, 1]], dtype=float)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    assert merge_similar(np.array([0, 0, 1, 2]), emb, 0.95).tolist() == [0, 0, 0, 1]
    assert relabel(np.array([3, 3, 1, 0])).tolist() == [0, 0, 1, 2]


# ------------------------------------------------------------------------------------- channel rule
def test_channel_rule_rejects_copied_and_panned_mono_and_accepts_separate_voices():
    rng = np.random.default_rng(0)
    t = np.arange(16000 * 4) / 16000
    env_a = (np.sin(2 * np.pi * 0.5 * t) > 0).astype(
        np.float32
    )  # voice A talks in the first half of each 2 s
    voice_a = 0.1 * env_a * rng.standard_normal(len(t)).astype(np.float32)
    voice_b = 0.1 * (1 - env_a) * rng.standard_normal(len(t)).astype(np.float32)
    noise = 1e-4 * rng.standard_normal((len(t), 2)).astype(np.float32)
    cfg = SpeakersConfig().channel
    separate = np.stack([voice_a + 0.05 * voice_b, voice_b + 0.05 * voice_a], axis=1) + noise
    mix = voice_a + voice_b
    assert channels_are_separate(separate, cfg)[0]
    assert not channels_are_separate(np.stack([mix, mix], axis=1) + noise, cfg)[0]
    assert not channels_are_separate(np.stack([mix, 0.3 * mix], axis=1) + noise, cfg)[0]
    assert not channels_are_separate(None, cfg)[0]


def test_numpy_mel_matches_librosa_mel_used_by_resemblyzer():
    librosa = pytest.importorskip("librosa")
    from pipeline.speakers.models import mel_frames

    x = np.random.default_rng(1).standard_normal(16000 * 13 + 77).astype(np.float32) * 0.1
    whole = librosa.feature.melspectrogram(y=x, sr=16000, n_fft=400, hop_length=160, n_mels=40).T
    chunked = mel_frames(x, chunk_frames=300)
    assert chunked.shape == whole.shape
    assert np.allclose(chunked, whole, rtol=1e-4, atol=1e-6 * whole.max())
