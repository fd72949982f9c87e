"""The distributable sample interviews in audio_samples/: references consistent with the audio and the script.

Fast (no ASR): decodes the two MP3s once, checks the reference JSON against the measured audio and against
dialogue.yaml, and rebuilds the samples with make_samples.py when the installed tools match the ones that
made them (a rebuild is then bit-identical).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydub import AudioSegment

SAMPLES = Path(__file__).resolve().parents[1] / "audio_samples"
NAMES = ["interview_01", "interview_02"]


def _load_make_samples():
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_samples", module)  # its dataclass resolves annotations through sys.modules
    spec.loader.exec_module(module)
    return module


ms = _load_make_samples()


@pytest.fixture(scope="module")
def refs() -> dict[str, dict]:
    return {n: json.loads((SAMPLES / f"{n}.reference.json").read_text(encoding="utf-8")) for n in NAMES}


@pytest.fixture(scope="module")
def audio() -> dict[str, tuple[np.ndarray, int]]:
    out = {}
    for n in NAMES:
        seg = AudioSegment.from_file(SAMPLES / f"{n}.mp3")
        assert seg.channels == 1, f"{n}.mp3 is not mono"
        x = np.array(seg.get_array_of_samples(), dtype=np.float32) / float(1 << (8 * seg.sample_width - 1))
        out[n] = (x, seg.frame_rate)
    return out


@pytest.fixture(scope="module")
def dialogue() -> dict:
    return yaml.safe_load((SAMPLES / "dialogue.yaml").read_text(encoding="utf-8"))


def _rms_db(x: np.ndarray) -> float:
    return 20 * np.log10(float(np.sqrt(np.mean(x**2))) + 1e-9)


# ------------------------------------------------------------------------------------------ markup (pure)
@pytest.mark.parametrize(
    "marked, reference",
    [
        ("I'm {42|forty-two}.", "I'm 42."),
        ("One. [pause 3.0] Two.", "One. Two."),
        ("at {a@example.com|a dot b}, ok", "at a@example.com, ok"),
        ("  spaced\n  out  ", "spaced out"),
    ],
)
def test_reference_text_takes_written_form_and_drops_pauses(marked, reference):
    assert ms.reference_text(marked) == reference


@pytest.mark.parametrize(
    "marked, chunks",
    [
        ("I'm {42|forty-two}. Yes?", ["I'm forty-two.", "Yes?"]),
        ("One. [pause 3.0] Two! Three", ["One.", 3.0, "Two!", "Three"]),
        ("[pause 1.5] Late start.", [1.5, "Late start."]),
        ("Call {1 2|one, two}, please.", ["Call one, two, please."]),
    ],
)
def test_spoken_chunks_split_sentences_and_pauses(marked, chunks):
    assert ms.spoken_chunks(marked) == chunks


# ------------------------------------------------------------------------------------------ references
@pytest.mark.parametrize("name", NAMES)
def test_turns_sorted_non_overlapping_and_inside_measured_audio(name, refs, audio):
    ref = refs[name]
    x, sr = audio[name]
    measured = len(x) / sr
    assert sr == ref["sample_rate"]
    assert abs(measured - ref["duration"]) < 0.05, (name, measured, ref["duration"])
    assert 60.0 <= measured <= 180.0, f"{name}: {measured:.1f} s is outside 1-3 minutes"
    prev_end = 0.0
    for i, t in enumerate(ref["turns"]):
        assert 0.0 <= t["start"] < t["end"] <= measured, (name, i)
        gap = t["start"] - prev_end
        assert 0.3 <= gap <= 1.5 or i == 0, f"{name} turn {i}: gap {gap:.2f} s"
        assert t["start"] >= prev_end, f"{name} turn {i} overlaps the previous turn"
        prev_end = t["end"]


@pytest.mark.parametrize("name", NAMES)
def test_turn_times_match_speech_in_the_audio(name, refs, audio):
    """Each turn starts and ends on speech; the silence just outside it is at the room-tone level."""
    x, sr = audio[name]
    w = int(0.05 * sr)
    for i, t in enumerate(refs[name]["turns"]):
        a, b = int(round(t["start"] * sr)), int(round(t["end"] * sr))
        before, after = x[max(0, a - 2 * w) : a - w // 5], x[b + w // 5 : b + 2 * w]
        inside = x[a : a + 4 * w], x[b - 4 * w : b]
        quiet = max(_rms_db(before), _rms_db(after))
        assert quiet < -50, f"{name} turn {i}: {quiet:.1f} dBFS outside the turn"
        # speech fades at the edges; 200 ms inside is still well above the room tone (~ -60 dBFS)
        assert min(_rms_db(s) for s in inside) > quiet + 12, f"{name} turn {i}: no speech at the edges"


@pytest.mark.parametrize("name", NAMES)
def test_one_long_silent_pause_inside_a_participant_answer(name, refs, audio):
    ref = refs[name]
    x, sr = audio[name]
    (pause,) = ref["pauses"]
    assert pause["end"] - pause["start"] >= 3.0
    assert ref["speakers"][pause["speaker"]]["role"] == "participant"
    assert any(t["start"] < pause["start"] and pause["end"] < t["end"] for t in ref["turns"])
    gap = x[int(pause["start"] * sr) + 100 : int(pause["end"] * sr) - 100]
    assert _rms_db(gap) < -50


@pytest.mark.parametrize("name", NAMES)
def test_both_roles_present_and_interviewer_asks_questions(name, refs):
    ref = refs[name]
    roles = {s["role"] for s in ref["speakers"].values()}
    assert roles == {"interviewer", "participant"}
    assert {t["speaker"] for t in ref["turns"]} == set(ref["speakers"])
    interviewer = [t for t in ref["turns"] if ref["speakers"][t["speaker"]]["role"] == "interviewer"]
    participant = [t for t in ref["turns"] if ref["speakers"][t["speaker"]]["role"] == "participant"]
    assert interviewer[0] is ref["turns"][0] and interviewer[0]["text"].startswith("Thank you for agreeing")
    assert sum(t["text"].endswith("?") for t in interviewer) >= 4
    assert not any("?" in t["text"] for t in participant)
    words = lambda ts: sum(len(t["text"].split()) for t in ts)  # noqa: E731
    assert words(participant) > 2 * words(interviewer), "participants should talk more"


@pytest.mark.parametrize("name", NAMES)
def test_planted_values_appear_in_reference_text(name, refs):
    ref = refs[name]
    text = " ".join(t["text"] for t in ref["turns"])
    for p in ref["planted"]:
        assert re.search(rf"(?<!\w){re.escape(p['value'])}(?!\w)", text), f"{name}: {p['type']} value missing"
        assert p["forms"][0] == p["value"]
        if p["type"] == "PHONE_NUMBER":
            assert p["digits"] == re.sub(r"\D", "", p["value"]) and "spoken" in p


def test_planted_types_cover_the_brief(refs):
    first = {p["type"] for p in refs["interview_01"]["planted"]}
    second = {p["type"] for p in refs["interview_02"]["planted"]}
    assert {
        "PERSON",
        "LOCATION",
        "ORGANIZATION",
        "PHONE_NUMBER",
        "EMAIL_ADDRESS",
        "DATE_TIME",
        "AGE",
    } <= first
    assert {"PERSON", "STREET_ADDRESS", "PHONE_NUMBER", "DATE_TIME"} <= second


def test_second_interview_mentions_the_first_participant(refs):
    persons = [{p["value"] for p in refs[n]["planted"] if p["type"] == "PERSON"} for n in NAMES]
    assert "Anna Jensen" in persons[0] & persons[1]
    assert persons[1] - persons[0], "the second participant has a name of their own"


def test_same_interviewer_voice_and_different_participant_voices(refs):
    def voice(name: str, role: str) -> str:
        (v,) = {s["voice"] for s in refs[name]["speakers"].values() if s["role"] == role}
        return v

    assert voice("interview_01", "interviewer") == voice("interview_02", "interviewer")
    assert voice("interview_01", "participant") != voice("interview_02", "participant")
    assert voice("interview_01", "participant") != voice("interview_01", "interviewer")


def test_personal_data_is_obviously_fictional(refs):
    for ref in refs.values():
        for p in ref["planted"]:
            if p["type"] == "EMAIL_ADDRESS":
                assert p["value"].endswith("@example.com")
            if p["type"] == "PHONE_NUMBER":
                assert "555" in p["value"].split()  # 555-01xx numbers are reserved for fiction


def test_repository_copy_is_small():
    total = sum(f.stat().st_size for f in SAMPLES.iterdir() if f.is_file())
    assert total < 3 * 1024 * 1024, f"audio_samples/ holds {total} bytes"


# ------------------------------------------------------------------------------------------ script
@pytest.mark.parametrize("name", NAMES)
def test_reference_matches_dialogue_script(name, refs, dialogue):
    (spec,) = [s for s in dialogue["interviews"] if s["id"] == name]
    ref = refs[name]
    assert [t["text"] for t in ref["turns"]] == [ms.reference_text(t["text"]) for t in spec["turns"]]
    assert [t["speaker"] for t in ref["turns"]] == [t["speaker"] for t in spec["turns"]]
    assert [p["value"] for p in ref["planted"]] == [str(p["value"]) for p in spec["planted"]]
    ms.check_spec(dialogue)


def test_make_samples_rebuilds_identical_files(tmp_path, refs):
    if not all(shutil.which(t) for t in ("sox", "espeak-ng", "ffmpeg")):
        pytest.skip("sox, espeak-ng or ffmpeg not installed")
    pytest.importorskip("hibari", reason="hibari-tts (dev dependency) not installed")
    made_with = refs["interview_01"]["generator"]
    if ms.provenance() != made_with:
        pytest.skip(f"tool versions differ from the ones that made the samples: {made_with}")
    assert ms.main(["--out", str(tmp_path)]) == 0
    for n in NAMES:
        assert (tmp_path / f"{n}.reference.json").read_text() == (SAMPLES / f"{n}.reference.json").read_text()
        assert (tmp_path / f"{n}.mp3").read_bytes() == (SAMPLES / f"{n}.mp3").read_bytes(), n
