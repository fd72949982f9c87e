"""Hostile input: random transcripts with planted personal data, garbage text, and odd recordings.

De-identification is tested with hypothesis on transcripts built in memory: planted known names in
varied casing and punctuation, phone numbers and e-mail addresses in many formats, noise around
them. Odd recordings (8 kHz telephone, 5.1 channels, clipped, 3 hours of silence around 10 s of
speech, 2 hours) go through the real stages; memory is measured in a fresh process per case.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robust_helpers import REPO, TINY, clip, ffmpeg, manifest, sample

from pipeline.cli import main
from pipeline.deid.config import DeidentifyConfig
from pipeline.deid.engine import Deidentifier
from pipeline.deid.key import PseudonymKey
from pipeline.schema import Segment, Speaker, Transcript, Word

# ---------------------------------------------------------------------------------------------
# Random transcripts with planted personal data

KNOWN_NAMES = [
    "Anna Jensen",
    "Søren Østergaard",
    "Zoë Brannigan",
    "Mary-Jane O'Neill",
    "Jean-Luc Moreau",
    "Tomasz Wójcik",
    "Kwame Mensah",
    "Aoife Gallagher",
]
FILLERS = [
    "um",
    "you know",
    "I think",
    "and then we went to the shop",
    "it was fine",
    "yes",
    "no, not really",
    "(3 s)",
    "word [?]",
    "so, uh, I- I mean",
    "the meeting was on a Tuesday",
    "we talked about the rota",
    "that was hard",
    "okay",
]
CASINGS = [str, str.upper, str.lower, str.title]
WRAPS = [
    "{}",
    "{},",
    "{}.",
    "({})",
    '"{}"',
    "'{}'",
    "{}?",
    "{}!",
    "{}:",
    "{};",
    "—{}—",
    "<{}>",
    "{}'s",
    "{}’s",
    "{}...",
]
DOMAINS = ["example.com", "example.org", "mail.example.co.uk", "uni.example.ac.uk"]


def _fold(s: str) -> str:
    return s.casefold()


@st.composite
def planted_name(draw):
    full = draw(st.sampled_from(KNOWN_NAMES))
    first, last = full.split(" ", 1)
    form = draw(st.sampled_from([full, first, last]))
    return "name", draw(st.sampled_from(CASINGS))(form), draw(st.sampled_from(WRAPS)), [first, last]


@st.composite
def planted_phone(draw):
    n = draw(st.integers(0, 99))
    area = draw(st.sampled_from(["202", "312", "415"]))
    uk = draw(st.integers(0, 999))
    fmt = draw(
        st.sampled_from(
            [
                (f"({area}) 555-01{n:02d}", f"{area}55501{n:02d}"),
                (f"{area}-555-01{n:02d}", f"{area}55501{n:02d}"),
                (f"{area}.555.01{n:02d}", f"{area}55501{n:02d}"),
                (f"{area} 555 01{n:02d}", f"{area}55501{n:02d}"),
                (f"+1 {area} 555 01{n:02d}", f"{area}55501{n:02d}"),
                (f"020 7946 0{uk:03d}", f"2079460{uk:03d}"),
                (f"+44 20 7946 0{uk:03d}", f"2079460{uk:03d}"),
                (f"07700 900{uk:03d}", f"7700900{uk:03d}"),
                (f"+44 7700 900{uk:03d}", f"7700900{uk:03d}"),
            ]
        )
    )
    return "phone", fmt[0], draw(st.sampled_from(["{}", "{}.", "({})", "{},"])), [fmt[1]]


@st.composite
def planted_email(draw):
    full = draw(st.sampled_from(KNOWN_NAMES))
    first, last = (re.sub(r"[^a-z]", "", p.lower()) or "x" for p in full.split(" ", 1))
    local = draw(
        st.sampled_from([f"{first}.{last}", f"{first[0]}.{last}", f"{first}{last}", f"{first}_{last}42"])
    )
    addr = f"{local}@{draw(st.sampled_from(DOMAINS))}"
    addr = draw(st.sampled_from([str, str.upper, str.lower]))(addr)
    return "email", addr, draw(st.sampled_from(["{}", "<{}>", "({})", "{}.", "mailto:{}", "{},"])), [addr]


piece = st.one_of(
    st.sampled_from(FILLERS).map(lambda f: ("filler", f, "{}", [])),
    planted_name(),
    planted_phone(),
    planted_email(),
)


@st.composite
def transcripts(draw):
    n_segments = draw(st.integers(1, 5))
    ids = sorted(draw(st.sets(st.integers(0, 500), min_size=n_segments, max_size=n_segments)))
    labels = draw(
        st.lists(
            st.sampled_from(["Interviewer", "Participant", "P1", "Anna", "Kwame Mensah"]),
            min_size=2,
            max_size=2,
            unique=True,
        )
    )
    speakers = [Speaker("S1", labels[0], "interviewer"), Speaker("S2", labels[1], "participant")]
    segments, planted, t = [], [], 0.0
    for sid in ids:
        pieces = draw(st.lists(piece, min_size=1, max_size=6))
        # Two planted values are parted by a word or punctuation, as in speech; back-to-back numbers
        # with nothing between them are a separate, known gap (test_back_to_back_phone_numbers...).
        text = ""
        for i, (kind, value, wrap, _) in enumerate(pieces):
            if i:
                both = kind != "filler" and pieces[i - 1][0] != "filler"
                text += draw(st.sampled_from([", ", " and ", " um ", ". ", "; "])) if both else " "
            text += wrap.format(value)
        planted += [(kind, value, check) for kind, value, _, check in pieces if kind != "filler"]
        words, w_t = [], t
        for w in text.split():
            words.append(Word(w_t, w_t + 0.3, w, 0.9))
            w_t += 0.35
        segments.append(Segment(sid, t, w_t, text, draw(st.sampled_from(["S1", "S2"])), words))
        t = w_t + 0.5
    for lab in labels:
        if lab in ("Anna", "Kwame Mensah"):
            planted.append(("label", lab, lab.split()))
    return Transcript("hostile", "en", segments, speakers, t), planted


@pytest.fixture(scope="module")
def deidentifier() -> Deidentifier:
    return Deidentifier(DeidentifyConfig(known_names=KNOWN_NAMES))


def _word_re(value: str) -> re.Pattern:
    return re.compile(r"(?<!\w)" + re.escape(value) + r"(?!\w)", re.IGNORECASE)


def _check_consistent(raw: Transcript, out: Transcript, reds) -> None:
    assert [s.id for s in out.segments] == [s.id for s in raw.segments]
    assert [(s.start, s.end, s.speaker) for s in out.segments] == [
        (s.start, s.end, s.speaker) for s in raw.segments
    ]
    assert [s.id for s in out.speakers] == [s.id for s in raw.speakers]
    by_id = {s.id: s for s in raw.segments}
    for r in reds:
        if r.segment_id < 0:  # a speaker label
            continue
        assert r.segment_id in by_id, r.segment_id
        assert 0 <= r.start < r.end <= len(by_id[r.segment_id].text)
        assert by_id[r.segment_id].text[r.start : r.end] == r.text
    for s in out.segments:
        for w in s.words:
            assert s.start - 1e-6 <= w.start <= w.end <= s.end + 1e-6
    Transcript.from_dict(json.loads(out.to_json()))  # still a valid artefact


def _shown(out: Transcript) -> list[tuple[str, str]]:
    """Every string a coder would see: segment text, word texts, speaker labels."""
    shown = [(f"segment {s.id}", s.text) for s in out.segments]
    shown += [(f"segment {s.id} words", " ".join(w.text for w in s.words)) for s in out.segments]
    shown += [(f"speaker {sp.id}", sp.label) for sp in out.speakers]
    return shown


HYPO = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@HYPO
@given(case=transcripts())
def test_planted_names_phones_and_emails_never_survive(deidentifier, case):
    raw, planted = case
    out, reds = deidentifier.deidentify(raw, PseudonymKey())
    _check_consistent(raw, out, reds)
    shown = _shown(out)
    for kind, value, check in planted:
        for where, text in shown:
            if kind in ("name", "label"):
                for part in check:
                    assert not _word_re(part).search(text), (
                        f"known name part ({kind} {value!r}) left in {where}: {text!r}"
                    )
            elif kind == "phone":
                assert check[0] not in re.sub(r"\D", "", text), f"phone {value!r} left in {where}: {text!r}"
            else:
                assert check[0].casefold() not in text.casefold(), (
                    f"e-mail {value!r} left in {where}: {text!r}"
                )


garbage_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(garbage_text, min_size=1, max_size=4),
    known=st.lists(st.sampled_from(KNOWN_NAMES), max_size=2),
)
def test_garbage_text_never_crashes_and_keeps_the_transcript_consistent(deidentifier, texts, known):
    """Any Unicode (control characters, right-to-left marks, emoji, combining marks, empty and
    whitespace-only segments), with a known name dropped in now and then."""
    segments = []
    for i, text in enumerate(texts):
        if known and i % 2:
            text = f"{text} {known[0]} {text}"
        segments.append(
            Segment(
                i,
                float(i),
                float(i) + 1,
                text,
                "S1",
                [Word(float(i), float(i) + 1, text)] if text.strip() else [],
            )
        )
    raw = Transcript("garbage", "en", segments, [Speaker("S1", "Participant")], float(len(texts)))
    out, reds = deidentifier.deidentify(raw, PseudonymKey())
    _check_consistent(raw, out, reds)
    for name in known:
        for part in name.split():
            for where, text in _shown(out):
                # only where the planted name stands on its own: random text can glue letters to it
                for m in _word_re(part).finditer(text):
                    pytest.fail(f"known name part left in {where} at {m.start()}: {text!r}")


@pytest.mark.parametrize(
    "text",
    [
        "(202) 555-0100 202-555-0100",
        "my mobile is 45 22 31 90 45 22 31 91",
        "+44 20 7946 0958 +45 22 31 90 11",
    ],
)
def test_back_to_back_phone_numbers_are_both_replaced(deidentifier, text):
    raw = Transcript("b2b", "en", [Segment(0, 0.0, 1.0, text, "S1")], [Speaker("S1", "Participant")], 1.0)
    out, _ = deidentifier.deidentify(raw, PseudonymKey())
    left = re.sub(r"\[[A-Z_]+_\d+\]", "", out.segments[0].text)  # the tags carry their own numbers
    assert not re.search(r"\d", left), out.segments[0].text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\u200f\u202e Anna Jensen \u202c",  # bidi controls around a name
        "A\u0301nna Jensen",  # combining accent
        "ANNA JENSEN ANNA JENSEN " * 200,  # long repeated
        "Anna" + "\u0000" + "Jensen",
        "[PERSON_1] said Anna Jensen",  # pseudonym-looking text already present
        "Anna\nJensen\tlives at 27 Willow Lane",
        "a" * 5000,
        "🙂 Anna Jensen 🙂 +44 20 7946 0958 🙂",
    ],
    ids=[
        "empty",
        "spaces",
        "bidi",
        "combining",
        "repeated",
        "nul",
        "pseudonym-like",
        "tabs",
        "long-word",
        "emoji",
    ],
)
def test_edge_texts_never_crash(deidentifier, text):
    raw = Transcript("edge", "en", [Segment(0, 0.0, 1.0, text, "S1")], [Speaker("S1", "Participant")], 1.0)
    out, reds = deidentifier.deidentify(raw, PseudonymKey())
    _check_consistent(raw, out, reds)
    if re.search(r"(?<!\w)Anna Jensen(?!\w)", text, re.IGNORECASE):
        assert not _word_re("Jensen").search(out.segments[0].text), "known name left"


def test_an_interview_named_like_an_output_file_settles_after_one_run(tmp_path):
    src = tmp_path / "audio.txt"  # "audio" is a code word, so the file name would be the id
    src.write_text("Interviewer: Hello Anna Jensen.\nParticipant: Hi, I live in Bristol.\n", encoding="utf-8")
    out = tmp_path / "OUT"
    assert main(["deidentify", str(src), "--out", str(out), "--no-progress"]) == 0
    (iid,) = [i for i in manifest(out)["interviews"] if i != "_project"]
    assert iid == "audio-2", "an output file's name is not an id"
    first = manifest(out)["interviews"][iid]["stages"]["deidentify"]["finished_at"]
    assert main(["deidentify", str(src), "--out", str(out), "--no-progress"]) == 0
    assert manifest(out)["interviews"][iid]["stages"]["deidentify"]["finished_at"] == first, "redone"


# ---------------------------------------------------------------------------------------------
# Odd recordings through the real stages


@pytest.fixture(scope="module")
def odd_batch(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("odd")
    one = sample("interview_01.mp3")
    # 8 kHz mu-law telephone audio (the interviewer's first turn)
    clip(one, d / "telephone.wav", 0.3, 10.0, "-ar", "8000", "-ac", "1", "-c:a", "pcm_mulaw")
    # 5.1 AAC: speech in front left/right/centre, quieter in the rear, nothing in the LFE
    clip(
        one,
        d / "surround.m4a",
        0.3,
        10.0,
        "-af",
        "pan=5.1|FL=c0|FR=c0|FC=c0|LFE=0*c0|BL=0.3*c0|BR=0.3*c0",
        "-c:a",
        "aac",
        "-b:a",
        "192k",
    )
    # clipped: 26 dB too loud, hard-limited by the 16-bit conversion
    clip(one, d / "clipped.wav", 0.3, 10.0, "-af", "volume=20", "-c:a", "pcm_s16le")
    return d


def test_odd_recordings_are_transcribed(odd_batch, tmp_path):
    """Telephone 8 kHz, 5.1 surround and clipped audio: each ingested with its own rate and channels,
    and the words come through."""
    data, _ = sf.read(odd_batch / "clipped.wav", dtype="int16")
    assert np.mean(np.abs(data) >= 32767) > 0.02, "the clipped test file is not clipped"
    out = tmp_path / "OUT"
    assert main(["run", str(odd_batch), "--out", str(out), *TINY]) == 0
    m = manifest(out)["interviews"]
    # descriptive file names get neutral ids: find each by its source file
    by_file = {Path(rec["source"]).stem: iid for iid, rec in m.items() if rec.get("source")}
    expect = {"telephone": (8000, 1), "surround": (None, 6), "clipped": (None, 1)}
    for name, (rate, channels) in expect.items():
        iid = by_file[name]
        assert all(
            m[iid]["stages"][s]["status"] == "done"
            for s in ("ingest", "transcribe", "speakers", "deidentify")
        )
        info = json.loads((out / "restricted" / iid / "ingest.json").read_text())
        assert info["channels"] == channels and (rate is None or info["sample_rate"] == rate), info
        text = (out / "shareable" / iid / "transcript.txt").read_text().lower()
        assert "thank you" in text and "study" in text, f"{iid}: {len(text)} chars, words missing"
    six = sf.info(str(out / "restricted" / by_file["surround"] / "audio.channels.wav"))
    assert six.channels == 6 and six.samplerate == 16000


# ---------------------------------------------------------------------------------------------
# Long recordings: memory measured in a fresh process per case

STAGE_SCRIPT = r"""
import json, re, sys, time
from pathlib import Path
from pipeline.config import IngestConfig, TranscribeConfig
from pipeline.stages import ingest, transcribe


def hwm_kb():  # this process's own peak; ru_maxrss would include the parent's pages before exec
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


src, folder, stages = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3].split(",")
t0 = time.monotonic()
info = ingest.run(src, "long", folder, IngestConfig())
res = {"duration": info.duration, "ingest_peak_kb": hwm_kb()}
if "transcribe" in stages:
    t = transcribe.run(info, folder, TranscribeConfig(model="tiny.en"), workers=1)
    res["words"] = [(w.start, w.text) for s in t.segments for w in s.words]
res["peak_kb"] = hwm_kb()
res["seconds"] = time.monotonic() - t0
print("RESULT " + json.dumps(res))
"""


def _measure(src: Path, folder: Path, stages: str) -> dict:
    if not Path("/proc/self/status").is_file():
        pytest.skip("needs /proc (Linux) to read a process's own peak memory")
    """Run the stages in a fresh process: its own peak RSS (VmHWM) and the peak of the process tree
    (it plus ffmpeg) sampled every 50 ms."""
    import psutil

    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", STAGE_SCRIPT, str(src), str(folder), stages],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ps, tree_peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            tree_peak = max(
                tree_peak,
                ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True)),
            )
        time.sleep(0.05)
    stdout, stderr = proc.communicate()
    assert proc.returncode == 0, stderr[-2000:]
    res = json.loads(next(ln[7:] for ln in stdout.splitlines() if ln.startswith("RESULT ")))
    res["tree_peak_mb"] = tree_peak / 2**20
    for wav in folder.glob("*.wav"):
        wav.unlink()  # 230-350 MB each
    return res


def _concat(parts: list[Path], dest: Path) -> Path:
    listing = dest.with_suffix(".txt")
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(dest))
    return dest


@pytest.fixture(scope="module")
def long_inputs(tmp_path_factory) -> dict[str, Path]:
    """MP3s built by stream copy in about a second each: real speech looped to 10 min and 2 h, and
    10-minute silent blocks around one 10 s speech clip for 10 min and 3 h."""
    d = tmp_path_factory.mktemp("long")
    speech = [sample("interview_01.mp3"), sample("interview_02.mp3")]
    silence = d / "silence.mp3"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "anullsrc=r=24000:cl=mono",
        "-t",
        "300",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "48k",
        str(silence),
    )
    words = clip(
        speech[0],
        d / "speech10s.mp3",
        0.3,
        10.3,
        "-c:a",
        "libmp3lame",
        "-b:a",
        "48k",
        "-ar",
        "24000",
        "-ac",
        "1",
    )
    return {
        "speech-10min": _concat([speech[i % 2] for i in range(6)], d / "speech-10min.mp3"),
        "speech-2h": _concat([speech[i % 2] for i in range(72)], d / "speech-2h.mp3"),
        "sparse-10min": _concat([silence, words, silence], d / "sparse-10min.mp3"),
        "sparse-3h": _concat([silence] * 18 + [words] + [silence] * 18, d / "sparse-3h.mp3"),
    }


@pytest.fixture(scope="module")
def sparse_runs(long_inputs, tmp_path_factory) -> dict[str, dict]:
    d = tmp_path_factory.mktemp("sparse-runs")
    return {k: _measure(long_inputs[k], d / k, "ingest,transcribe") for k in ("sparse-10min", "sparse-3h")}


@pytest.mark.slow
def test_ingest_memory_does_not_grow_from_10_minutes_to_2_hours(long_inputs, tmp_path):
    short = _measure(long_inputs["speech-10min"], tmp_path / "a", "ingest")
    long = _measure(long_inputs["speech-2h"], tmp_path / "b", "ingest")
    assert 7000 < long["duration"] < 7400 and 560 < short["duration"] < 640
    grow_mb = (long["peak_kb"] - short["peak_kb"]) / 1024
    tree_grow_mb = long["tree_peak_mb"] - short["tree_peak_mb"]
    print(f"\nMEMORY ingest 10 min: {short['peak_kb'] // 1024} MB (with ffmpeg {short['tree_peak_mb']:.0f} MB); "
          f"2 h: {long['peak_kb'] // 1024} MB (with ffmpeg {long['tree_peak_mb']:.0f} MB)")  # fmt: skip
    assert grow_mb < 30 and tree_grow_mb < 30, (grow_mb, tree_grow_mb)


@pytest.mark.slow
def test_three_hours_of_silence_keep_the_ten_seconds_of_speech_at_the_right_time(sparse_runs):
    run = sparse_runs["sparse-3h"]
    assert 3 * 3600 < run["duration"] < 3 * 3600 + 60
    words = run["words"]
    text = " ".join(w for _, w in words).lower()
    assert "thank you" in text and "study" in text, text[:200]
    speech_at = 18 * 300  # after 18 blocks of 5 minutes
    assert all(speech_at - 1 <= start <= speech_at + 11 for start, _ in words), [s for s, _ in words][:5]


@pytest.mark.slow
def test_transcribe_memory_does_not_grow_with_silence(sparse_runs):
    short, long = sparse_runs["sparse-10min"], sparse_runs["sparse-3h"]
    grow_mb = (long["peak_kb"] - short["peak_kb"]) / 1024
    print(
        f"\nMEMORY ingest+transcribe sparse 10 min: {short['peak_kb'] // 1024} MB; 3 h: {long['peak_kb'] // 1024} MB"
    )
    assert grow_mb < 100, f"peak RSS grew by {grow_mb:.0f} MB from 10 min to 3 h"
