"""Real coding tools read our exports: QualCoder's own code, Taguette's importer, subtitle parsers.

The clients run from their own venvs, installed by ``scripts/install_clients.sh`` under
``$INTERVIEW_PIPELINE_CLIENTS`` (default ``~/.cache/interview-pipeline/clients``); QualCoder's source
is ``../shared/clients/qualcoder``. A client that is not there skips its tests with the reason.
The helper scripts in ``tests/clients/`` run inside those venvs and print what the client stored.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
import srt
import webvtt
from test_export_formats import from_reference, hms

from pipeline.export import ExportConfig, read_qdpx
from pipeline.export.base import defuse_stamps, lines, one_line, timespan_millis, turns
from pipeline.export.subtitles import vtt_escape
from pipeline.schema import Segment, Speaker, Transcript
from pipeline.stages.export import run

REPO = Path(__file__).resolve().parents[1]
QUALCODER = REPO.parent / "shared" / "clients" / "qualcoder"
CLIENTS = Path(
    os.environ.get("INTERVIEW_PIPELINE_CLIENTS", Path.home() / ".cache/interview-pipeline/clients")
)
HELPERS = Path(__file__).resolve().parent / "clients"
SAMPLES = sorted((REPO / "audio_samples").glob("interview_*.reference.json"))

# Text no importer may garble: non-ASCII scripts, emoji, markup, entities, formulas, quotes, arrows.
HOSTILE = [
    "Grüße aus Århus, Ελληνικά, 日本語, العربية, עברית — ok 👍🏽 😀",
    "R&D and Q&A at AT&T; &amp; &lt; &#38; &copy 5 > 3",
    "<b>bold</b> <v Bob> <script>alert(1)</script> a --> b",
    "=SUM(A1:A2) +45 12 34 -1 @home \"quoted\" 'single' back\\slash",
    "at [00:01:02] and {00:00:03} and #00:00:04.5# and 00:00:01,000 --> 00:00:02,000",
    "Søren Kierkegaard's Æblegrød; ØRESUND 10:30",
]


def _missing(reason: str) -> None:
    """A client that scripts/install.sh --dev installs is missing: a failure in CI, else a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI installs the clients through scripts/install_clients.sh)")
    pytest.skip(reason)


def hostile_interview() -> Transcript:
    segs = [Segment(0, 0.4, 2.96, "Tell me what you said.", "S1")]
    segs += [
        Segment(n, 3.0 + 2.5 * n, 4.9 + 2.5 * n, text, "S2" if n % 3 else "S1")
        for n, text in enumerate(HOSTILE, 1)
    ]
    return Transcript(
        "hostile-01",
        "da",
        segs,
        [Speaker("S1", "Interviewer", "interviewer"), Speaker("S2", "Deltager Ø", "participant")],
    )


def sample_interviews() -> list[Transcript]:
    if not SAMPLES:
        pytest.skip("no sample interview references in audio_samples/")
    return [from_reference(p) for p in SAMPLES]


def client_python(venv: str, what: str) -> Path:
    py = CLIENTS / venv / "bin" / "python"
    if not py.exists():
        _missing(f"not installed: {what}; run scripts/install_clients.sh (looked for {py})")
    return py


def run_helper(py: Path, *args: str, timeout: int = 600) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONWARNINGS="ignore")
    env.pop("PYTHONPATH", None)  # the client's venv, not ours
    proc = subprocess.run(
        [str(py), *args], capture_output=True, text=True, encoding="utf-8", timeout=timeout, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


# ---------------------------------------------------------------------------------------------
# QualCoder: REFI-QDA project import
# ---------------------------------------------------------------------------------------------


def qualcoder_import(tmp_path: Path, transcripts: list[Transcript]) -> tuple[dict, sqlite3.Connection]:
    py = client_python("qualcoder-venv", "QualCoder's Python packages")
    if not (QUALCODER / "qc_import.py").exists():
        pytest.skip(f"QualCoder's source is missing: {QUALCODER} (see ../shared/clients)")
    (qdpx,) = run(transcripts, tmp_path / "shareable", ExportConfig(formats=["qdpx"]))
    out = tmp_path / "qualcoder"
    out.mkdir()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [str(py), str(QUALCODER / "qc_import.py"), str(qdpx), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "qc_result.json").read_text(encoding="utf-8"))
    assert result["error"] is None, result["error"]
    return result, sqlite3.connect(out / "qc_project.qda" / "data.qda")


@pytest.mark.parametrize("which", ["samples", "hostile"])
def test_qualcoder_imports_sources_speaker_cases_with_their_text_and_segment_times(tmp_path, which):
    transcripts = sample_interviews() if which == "samples" else [hostile_interview()]
    result, db = qualcoder_import(tmp_path, transcripts)
    ours = read_qdpx(tmp_path / "shareable" / "project.qdpx")

    sources = dict(db.execute("select name, fulltext from source"))
    assert sources == {t.interview_id: ours.interviews[t.interview_id].text for t in transcripts}
    for t in transcripts:  # the text, built here from the transcript: one "Speaker: text" line per turn
        assert sources[t.interview_id] == "".join(f"{turn.speaker}: {turn.text}\n" for turn in turns(t))
    if which == "samples":
        assert len(sources) == 2
    fid = {name: i for i, name in db.execute("select id, name from source")}

    want_cases = {}  # case name -> [(interview, segment line)], in time order
    for t in transcripts:
        for ln in lines(t):
            if ln.text:
                want_cases.setdefault(f"{t.speaker_label(ln.speaker_id)} ({t.interview_id})", []).append(
                    (t.interview_id, ln)
                )
    cases = dict(db.execute("select name, caseid from cases"))
    assert set(cases) == set(want_cases), "one case per speaker per interview"
    for name, want in want_cases.items():
        rows = db.execute(
            "select fid, pos0, pos1, memo from case_text where caseid = ? order by fid, pos0", (cases[name],)
        ).fetchall()
        texts = {v: k for k, v in fid.items()}
        got = [(texts[f], sources[texts[f]][a:b], memo) for f, a, b, memo in rows]
        assert [(iid, text) for iid, text, _ in got] == [(iid, ln.text) for iid, ln in want], (
            f"{name}: the case holds exactly that speaker's text"
        )
        for (_, _, memo), (_, ln) in zip(got, want, strict=True):
            assert memo == timespan_millis(ln.start, ln.end), "every segment's timing is visible"
    assert result["annotations"] == 0, "no selection arrives as an empty annotation"
    assert result["case_text"] == sum(len(v) for v in want_cases.values())
    attrs = db.execute("select name, value from attribute where attr_type = 'case'").fetchall()
    assert ("Interview", transcripts[0].interview_id) in attrs


# ---------------------------------------------------------------------------------------------
# QualCoder: its text import, media-sync stamp reader and speaker detection on txt/docx
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qualcoder_reads(tmp_path_factory) -> tuple[list[Transcript], dict]:
    py = client_python("qualcoder-venv", "QualCoder's Python packages")
    if not (QUALCODER / "src" / "qualcoder" / "view_av.py").exists():
        pytest.skip(f"QualCoder's source is missing: {QUALCODER} (see ../shared/clients)")
    transcripts = sample_interviews() + [hostile_interview()]
    root = tmp_path_factory.mktemp("qc-text")
    paths = run(transcripts, root, ExportConfig(formats=["txt", "docx"]))
    return transcripts, run_helper(py, str(HELPERS / "qualcoder_read.py"), str(QUALCODER), *map(str, paths))


@pytest.mark.parametrize("suffix", [".txt", ".docx"])
def test_qualcoders_stamp_reader_finds_every_turns_stamp(qualcoder_reads, suffix):
    transcripts, reads = qualcoder_reads
    for t in transcripts:
        (got,) = [v for k, v in reads.items() if k.endswith(f"/{t.interview_id}{suffix}")]
        want = [math.floor(turn.start) * 1000 for turn in turns(t)]
        assert [ms for _, _, ms in got["stamps"]] == want, t.interview_id
        for a, b, ms in got["stamps"]:
            assert hms(got["text"][a + 1 : b - 1]) * 1000 == ms


@pytest.mark.parametrize("suffix", [".txt", ".docx"])
def test_qualcoder_imports_the_text_and_finds_each_turns_speaker(qualcoder_reads, suffix):
    transcripts, reads = qualcoder_reads
    for t in transcripts:
        (got,) = [v for k, v in reads.items() if k.endswith(f"/{t.interview_id}{suffix}")]
        paragraphs = [p for p in got["text"].split("\n\n") if p.strip()]
        all_turns = turns(t)
        assert len(paragraphs) == len(all_turns)
        for para, turn in zip(paragraphs, all_turns, strict=True):
            assert defuse_stamps(turn.text) in para, "text intact (time-stamp look-alikes defused)"
        key = "speakers" if suffix == ".txt" else "speakers_filtered"  # docx: stamp first (NVivo)
        assert got[key] == [turn.speaker for turn in all_turns], f"{t.interview_id}: {key}"


# ---------------------------------------------------------------------------------------------
# Taguette's importer
# ---------------------------------------------------------------------------------------------


def _decode(m: re.Match) -> str:
    return html.unescape(m.group())


def taguette_shown(fmt: str, text: str) -> str:
    """The segment text Taguette shows: what the file holds, as each format's documented escapes leave it.

    Taguette decodes no WebVTT character references, so in .vtt the ``&lt;`` and ``--&gt;`` WebVTT
    requires show as written; every other character (``&`` in R&D included) shows as spoken. In .txt
    the reverse: calibre reads a complete reference such as ``&amp;`` in plain text as the character.
    """
    text = one_line(text)
    if fmt == ".txt":  # calibre's plain-text input decodes complete references (&amp; -> &)
        return re.sub(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);", _decode, defuse_stamps(text))
    if fmt == ".docx":
        return defuse_stamps(text)
    if fmt == ".srt":
        return text.replace("-->", "->")
    return vtt_escape(text)


@pytest.fixture(scope="module")
def taguette_reads(tmp_path_factory) -> tuple[list[Transcript], dict]:
    py = client_python("taguette-venv", "Taguette")
    transcripts = sample_interviews() + [hostile_interview()]
    root = tmp_path_factory.mktemp("taguette")
    paths = run(transcripts, root, ExportConfig(formats=["txt", "docx", "srt", "vtt"]))
    return transcripts, run_helper(py, str(HELPERS / "taguette_convert.py"), *map(str, paths))


@pytest.mark.parametrize("fmt", [".txt", ".docx", ".srt", ".vtt"])
def test_taguette_imports_every_text_export_intact(taguette_reads, fmt):
    transcripts, reads = taguette_reads
    for t in transcripts:
        (got,) = [v for k, v in reads.items() if k.endswith(f"/{t.interview_id}{fmt}")]
        if fmt in (".txt", ".docx") and "calibre" in got.get("error", "").lower():
            _missing(f"Taguette's converter needs calibre's ebook-convert: {got['error']}")
        assert "error" not in got, got.get("error")
        shown = got["text"]
        assert "Ã" not in shown and "\ufffd" not in shown, "no charset mix-up"
        for seg in t.segments:
            assert taguette_shown(fmt, seg.text) in shown, (t.interview_id, seg.id)
        for sp in {turn.speaker for turn in turns(t)}:
            assert f"{sp}:" in shown


# ---------------------------------------------------------------------------------------------
# Subtitle parsers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make", [sample_interviews, lambda: [hostile_interview()]], ids=["samples", "hostile"]
)
def test_webvtt_py_and_srt_read_every_cue_with_speaker_text_and_times(tmp_path, make):
    transcripts = make()
    run(transcripts, tmp_path, ExportConfig(formats=["srt", "vtt"]))
    for t in transcripts:
        want = [(ln.start, ln.end, f"{ln.speaker}: {ln.text}".rstrip()) for ln in lines(t)]
        vtt = webvtt.read(str(tmp_path / t.interview_id / f"{t.interview_id}.vtt"))
        got = [(hms(c.start), hms(c.end), html.unescape(c.text)) for c in vtt]
        assert [g[2] for g in got] == [w[2] for w in want], "WebVTT references decode to the text"
        subs = list(srt.parse((tmp_path / t.interview_id / f"{t.interview_id}.srt").read_text("utf-8-sig")))
        assert [s.content for s in subs] == [w[2].replace("-->", "->") for w in want]
        for g, s, w in zip(got, subs, want, strict=True):
            assert abs(g[0] - w[0]) <= 0.0005 and abs(g[1] - w[1]) <= 0.0005
            assert (
                abs(s.start.total_seconds() - w[0]) <= 0.0005 and abs(s.end.total_seconds() - w[1]) <= 0.0005
            )
